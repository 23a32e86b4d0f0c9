import NN
import Tensor

/// Backbones by name, as pipeline files and the command line spell them (torchvision's names).
public enum BackboneRegistry {
    public struct Entry: Sendable {
        public let name: String
        public let make: @Sendable (_ bands: Int, _ classes: Int, _ random: inout SeededRandom) -> Layer
    }

    public static let entries: [Entry] = {
        var entries: [Entry] = [Entry(name: "lenet5") { LeNet.make(bands: $0, classes: $1, random: &$2) },
                                Entry(name: "alexnet") { AlexNet.make(bands: $0, classes: $1, random: &$2) },
                                Entry(name: "alexnet_lrn") { AlexNet.make(bands: $0, classes: $1, localResponseNorm: true, random: &$2) }]
        for depth in VGG.Depth.allCases {
            entries.append(Entry(name: "vgg\(depth.rawValue)") { VGG.make(depth, batchNorm: false, bands: $0, classes: $1, random: &$2) })
            entries.append(Entry(name: "vgg\(depth.rawValue)_bn") { VGG.make(depth, batchNorm: true, bands: $0, classes: $1, random: &$2) })
        }
        for depth in ResNet.Depth.allCases {
            entries.append(Entry(name: "resnet\(depth.rawValue)") { ResNet.make(depth, bands: $0, classes: $1, random: &$2) })
        }
        entries.append(Entry(name: "googlenet") { GoogLeNet.make(bands: $0, classes: $1, random: &$2) })
        return entries
    }()

    public static var names: [String] { entries.map(\.name) }

    /// The backbone called `name`, or nil (with `names` to suggest from).
    public static func make(_ name: String, bands: Int = 3, classes: Int = 17, random: inout SeededRandom) -> Layer? {
        entries.first { $0.name == name }?.make(bands, classes, &random)
    }

    /// The smallest input side `name` takes: 63 px for AlexNet (its 11x11/4 stem and three 3x3/2 pools
    /// leave no pixel below that), 32 for the others (LeNet's two 5x5 convolutions and pools; five
    /// halvings elsewhere).
    public static func minimumInputSize(_ name: String) -> Int {
        name.hasPrefix("alexnet") ? 63 : 32
    }
}

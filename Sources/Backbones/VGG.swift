// Very Deep Convolutional Networks for Large-Scale Image Recognition
// Karen Simonyan, Andrew Zisserman (2014)
// https://arxiv.org/abs/1409.1556
//
// As torchvision builds it: `features` (3x3 convolutions, optional batch norm, 2x2 max pools), an
// adaptive average pool to 7x7 (any input size), and the 4096-4096 classifier with dropout.
import NN
import Tensor

public enum VGG {
    /// The configurations of the paper's Table 1: channel widths, 0 for a max pool.
    public enum Depth: Int, Sendable, CaseIterable {
        case vgg11 = 11, vgg13 = 13, vgg16 = 16, vgg19 = 19

        var layout: [Int] {
            switch self {
            case .vgg11: [64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0]
            case .vgg13: [64, 64, 0, 128, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0]
            case .vgg16: [64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0]
            case .vgg19: [64, 64, 0, 128, 128, 0, 256, 256, 256, 256, 0, 512, 512, 512, 512, 0, 512, 512, 512, 512, 0]
            }
        }
    }

    public static func make(_ depth: Depth, batchNorm: Bool, bands: Int = 3, classes: Int = 17, dropout: Float = 0.5,
                            random: inout SeededRandom) -> Sequential {
        let workspace = Workspace()
        var features: [Layer] = []
        var channels = bands
        for width in depth.layout {
            if width == 0 {
                features.append(MaxPool2D(kernel: 2, stride: 2))
                continue
            }
            features.append(Convolution2D(channels, width, kernel: 3, padding: 1, workspace: workspace, random: &random))
            if batchNorm { features.append(BatchNorm(channels: width)) }
            features.append(ReLU())
            channels = width
        }
        let classifier = Sequential([
            Linear(512 * 7 * 7, 4096, random: &random), ReLU(), Dropout(probability: dropout, random: &random),
            Linear(4096, 4096, random: &random), ReLU(), Dropout(probability: dropout, random: &random),
            Linear(4096, classes, random: &random),
        ])
        return finishing(Sequential(named: [("features", Sequential(features)), ("avgpool", AdaptiveAvgPool2D(7, 7)),
                                                        ("flatten", Flatten()), ("classifier", classifier)]))
    }
}

import Backbones
import NN
import Tensor
import XCTest

/// Backbones as torchvision builds them: names follow its state_dict, outputs are [17, N] at every size
/// and band count. (Parameter counts and logits against torchvision's, for every registry name:
/// BackboneNumericsTests.)
final class BackboneTests: XCTestCase {
    /// ResNet-18 at 128 px: about 1.19 GFLOP per image (torchvision's 1.82 GMAC at 224 px scaled by
    /// (128/224)², times 2).
    func testCostMeterCountsForwardFLOPs() {
        var random = SeededRandom(seed: 1)
        let model = BackboneRegistry.make("resnet18", random: &random)!
        let meter = CostMeter.measure { _ = model.forward(Tensor(shape: [3, 1, 128, 128], repeating: 0.5), mode: .training) }
        XCTAssertEqual(meter.flops / 1e9, 1.19, accuracy: 0.01)
        XCTAssertGreaterThan(meter.activationFloats, 1_000_000)
    }

    func testStateNamesFollowTorchvision() {
        var random = SeededRandom.skippingWeightInitialization(seed: 1)  // names only
        let resnet = Set(BackboneRegistry.make("resnet50", random: &random)!.state(prefix: "").map(\.name))
        for name in ["conv1.weight", "bn1.running_mean", "layer1.0.conv3.weight", "layer1.0.downsample.0.weight",
                     "layer1.0.downsample.1.num_batches_tracked", "layer4.2.bn3.bias", "fc.weight", "fc.bias"] {
            XCTAssertTrue(resnet.contains(name), name)
        }
        let vgg = Set(VGG.make(.vgg11, batchNorm: true, random: &random).state(prefix: "").map(\.name))
        for name in ["features.0.weight", "features.1.running_var", "features.4.weight", "classifier.0.weight",
                     "classifier.3.bias", "classifier.6.weight"] {
            XCTAssertTrue(vgg.contains(name), name)
        }
        let googlenet = Set(GoogLeNet.make(random: &random).state(prefix: "").map(\.name))
        for name in ["conv1.conv.weight", "conv1.bn.running_var", "inception3a.branch1.conv.weight",
                     "inception3a.branch2.1.bn.weight", "inception5b.branch4.1.conv.weight", "fc.weight"] {
            XCTAssertTrue(googlenet.contains(name), name)
        }
        let alexnet = Set(AlexNet.make(random: &random).state(prefix: "").map(\.name))
        XCTAssertEqual(alexnet, ["features.0.weight", "features.0.bias", "features.3.weight", "features.3.bias",
                                 "features.6.weight", "features.6.bias", "features.8.weight", "features.8.bias",
                                 "features.10.weight", "features.10.bias", "classifier.1.weight", "classifier.1.bias",
                                 "classifier.4.weight", "classifier.4.bias", "classifier.6.weight", "classifier.6.bias"])
    }

    func testOutputShapesAtEverySizeAndBandCount() {
        // Shapes follow the layers' geometry whatever the algorithm; the direct path is the cheaper one
        // in a debug build (Winograd against it: ConvolutionTests).
        EngineSettings.adjusting({ $0.winograd.enabled = false }) {
            for name in ["lenet5", "resnet18", "resnet50", "alexnet", "alexnet_lrn", "googlenet"] {
                for bands in [3, 4] {
                    // Weights by BackboneNumericsTests' formula: building draws none (seconds in a debug build).
                    var random = SeededRandom.skippingWeightInitialization(seed: 2)
                    let model = BackboneRegistry.make(name, bands: bands, random: &random)!
                    var fill = FormulaFill()
                    fill.fill(model)
                    for size in [64, 97] {  // 97: odd sizes through every stride and ceil-mode pool
                        let input = Tensor(shape: [bands, 2, size, size], scalars: (0..<(bands * 2 * size * size)).map { _ in random.nextNormal() })
                        let logits = model.forward(input, mode: .inference)
                        XCTAssertEqual(logits.shape, [17, 2], "\(name) at \(size) px, \(bands) bands")
                        XCTAssertTrue(logits.scalars.allSatisfy(\.isFinite), name)
                        if size == 64 {
                            let probabilities = model.probabilities(input)
                            XCTAssertEqual(probabilities.scalars, logits.scalars.map(sigmoid), name)
                        }
                    }
                }
            }
        }
    }
}

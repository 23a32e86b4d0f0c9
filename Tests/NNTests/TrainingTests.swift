import NN
import Tensor
import XCTest

/// The seed exercises: small networks must learn what they are shown.
final class TrainingTests: XCTestCase {
    /// A training step: forward, loss, zero gradients, backward, update. Returns the loss.
    private func step(_ model: Layer, _ optimizer: Optimizer, input: Tensor, targets: Tensor) -> Float {
        let logits = model.forward(input, mode: .training)
        let (loss, gradient) = BinaryCrossEntropy().lossAndGradient(logits: logits, targets: targets)
        model.zeroGradients()
        _ = model.backward(gradient)
        optimizer.step(model.namedParameters)
        return loss
    }

    func testTwoLayerNetworkLearnsXOR() {
        var random = SeededRandom(seed: 3)
        let model = Sequential([Linear(2, 8, random: &random), ReLU(), Linear(8, 1, random: &random)])
        let optimizer = Adam(learningRate: 0.05)
        // Features × batch: the four corners, and XOR of their coordinates.
        let input = Tensor(shape: [2, 4], scalars: [0, 0, 1, 1,
                                                    0, 1, 0, 1])
        let targets = Tensor(shape: [1, 4], scalars: [0, 1, 1, 0])
        var loss: Float = 1
        for _ in 0..<400 { loss = step(model, optimizer, input: input, targets: targets) }
        let probabilities = model.forward(input, mode: .inference).scalars.map(sigmoid)
        print("XOR: loss \(loss), probabilities \(probabilities)")
        XCTAssertLessThan(loss, 0.05)
        XCTAssertEqual(probabilities.map { $0 > 0.5 }, [false, true, true, false])
    }

    /// A small CNN must be able to memorise 64 fixed random images with random multi-labels.
    func testSmallCNNOverfitsRandomMultiLabels() {
        var random = SeededRandom(seed: 11)
        let images = 64, labels = 17, side = 12
        let input = Tensor(shape: [3, images, side, side],
                           scalars: (0..<(3 * images * side * side)).map { _ in random.nextNormal() })
        let targets = Tensor(shape: [labels, images], scalars: (0..<(labels * images)).map { _ in random.nextUniform() < 0.3 ? 1 : 0 })
        let workspace = Workspace()
        let model = Sequential([
            Convolution2D(3, 16, kernel: 3, padding: 1, bias: false, workspace: workspace, random: &random),
            BatchNorm(channels: 16), ReLU(), MaxPool2D(kernel: 2),
            Convolution2D(16, 32, kernel: 3, padding: 1, bias: false, workspace: workspace, random: &random),
            BatchNorm(channels: 32), ReLU(), MaxPool2D(kernel: 2),
            Flatten(), Linear(32 * 3 * 3, labels, random: &random),
        ])
        let optimizer = Adam(learningRate: 0.01)
        var losses: [Float] = []
        for _ in 0..<150 {
            losses.append(step(model, optimizer, input: input, targets: targets))
            if losses.last! < 0.005 { break }
        }
        print("overfit: \(losses.count) steps, loss \(losses.first!) → \(losses.last!)")
        XCTAssertLessThan(losses.last!, 0.01)
    }

    /// Winograd changes rounding, nothing else: twenty SGD steps of a network whose 3x3 convolutions take
    /// the Winograd path (256 channels on 8x8 maps), with either algorithm, follow the direct path's loss
    /// curve within float rounding, and learn.
    func testWinogradKeepsTheLossCurveOfTheDirectPath() {
        func losses(_ variant: Winograd.Variant?) -> [Float] {
            EngineSettings.adjusting({
                $0.winograd.enabled = variant != nil
                if let variant { $0.winograd.variant = variant }
            }) { lossesUnderSettings(winograd: variant != nil) }
        }
        func lossesUnderSettings(winograd: Bool) -> [Float] {
            var random = SeededRandom(seed: 21)
            let channels = 256, images = 4
            let input = Tensor(shape: [channels, images, 8, 8], scalars: (0..<(channels * images * 64)).map { _ in random.nextNormal() })
            let targets = Tensor(shape: [17, images], scalars: (0..<(17 * images)).map { _ in random.nextUniform() < 0.3 ? 1 : 0 })
            let model = Sequential([
                Convolution2D(channels, channels, kernel: 3, padding: 1, bias: false, random: &random), BatchNorm(channels: channels), ReLU(),
                Convolution2D(channels, channels, kernel: 3, padding: 1, bias: false, random: &random), BatchNorm(channels: channels), ReLU(),
                AdaptiveAvgPool2D(1, 1), Flatten(), Linear(channels, 17, random: &random),
            ])
            XCTAssertEqual(EngineSettings.current.winograd.applies(to: ConvolutionGeometry(inChannels: channels, outChannels: channels, kernel: 3, stride: 1, padding: 1),
                                            outputPixels: 64), winograd)
            let optimizer = SGD(learningRate: 0.05, momentum: 0.9)
            return (0..<20).map { _ in step(model, optimizer, input: input, targets: targets) }
        }
        let direct = losses(nil)
        for variant in Winograd.Variant.allCases {
            let fast = losses(variant)
            for (step, (a, b)) in zip(fast, direct).enumerated() {
                XCTAssertEqual(a, b, accuracy: 1e-5 * max(1, abs(b)), "\(variant) step \(step)")
            }
            XCTAssertLessThan(fast.last!, fast.first! * 0.5, "it learns: \(fast.first!) → \(fast.last!)")
            print("Winograd \(variant) loss curve: \(fast.first!) → \(fast.last!); largest difference from the direct path \(zip(fast, direct).map { abs($0 - $1) }.max()!)")
        }
    }
}

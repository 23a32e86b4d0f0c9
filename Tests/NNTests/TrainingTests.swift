import NN
import Tensor
import XCTest

/// The seed exercises: small networks must learn what they are shown.
final class TrainingTests: XCTestCase {
    /// A training step: forward, loss, zero gradients, backward, update. Returns the loss.
    private func step(_ model: Layer, _ optimizer: Optimizer, input: Tensor, targets: Tensor) -> Float {
        let logits = model.forward(input, mode: .training)
        let (loss, gradient) = Loss.binaryCrossEntropy(logits: logits, targets: targets)
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
}

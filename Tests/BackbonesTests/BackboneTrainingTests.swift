import Backbones
import NN
import Tensor
import XCTest

/// Every family learns: a few steps on a small fixed batch lower the loss.
final class BackboneTrainingTests: XCTestCase {
    func testAFewStepsLowerTheLossForEveryFamily() {
        for (name, size) in [("lenet5", 32), ("alexnet", 64), ("vgg11_bn", 32), ("resnet18", 32), ("googlenet", 32)] {
            var random = SeededRandom(seed: 21)
            let model = BackboneRegistry.make(name, bands: 4, random: &random)!
            let batch = 4
            let input = Tensor(shape: [4, batch, size, size], scalars: (0..<(4 * batch * size * size)).map { _ in random.nextNormal() })
            let targets = Tensor(shape: [17, batch], scalars: (0..<(17 * batch)).map { _ in random.nextUniform() < 0.3 ? 1 : 0 })
            // SGD with momentum, as these networks were trained: Adam's first steps move every weight by
            // the full learning rate, which VGG's 25088-input classifier turns into a jump in the loss.
            let optimizer = SGD(learningRate: 0.01, momentum: 0.9)
            var losses: [Float] = []
            for _ in 0..<6 {
                let (loss, gradient) = Loss.binaryCrossEntropy(logits: model.forward(input, mode: .training), targets: targets)
                losses.append(loss)
                model.zeroGradients()
                _ = model.backward(gradient)
                optimizer.step(model.namedParameters)
            }
            print("training \(name): losses \(losses)")
            XCTAssertLessThan(losses.last!, losses.first!, name)
        }
    }
}

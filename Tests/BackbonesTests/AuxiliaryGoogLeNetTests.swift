import Backbones
import NN
import Tensor
import XCTest

final class AuxiliaryGoogLeNetTests: XCTestCase {
    /// torchvision.models.googlenet(num_classes=17, aux_logits=True): 9,982,163 parameters, with
    /// aux1./aux2. names (counted with torchvision 0.29.2).
    func testAuxiliaryClassifiersTrainAndStayOutOfInference() {
        var random = SeededRandom(seed: 8)
        let model = GoogLeNet.makeWithAuxiliaryClassifiers(random: &random)
        XCTAssertEqual(model.parameterCount, 9_982_163)
        let names = Set(model.state(prefix: "").map(\.name))
        for name in ["conv1.conv.weight", "inception4a.branch1.conv.weight", "fc.bias", "aux1.conv.conv.weight",
                     "aux1.conv.bn.num_batches_tracked", "aux1.fc1.weight", "aux2.fc2.bias"] {
            XCTAssertTrue(names.contains(name), name)
        }

        let input = Tensor(shape: [3, 2, 64, 64], scalars: (0..<(3 * 2 * 64 * 64)).map { _ in random.nextNormal() })
        let targets = Tensor(shape: [17, 2], scalars: (0..<34).map { $0 % 3 == 0 ? 1 : 0 })
        let logits = model.forward(input, mode: .training)
        XCTAssertEqual(logits.shape, [17, 2])
        XCTAssertEqual(model.auxiliaryLogits.map(\.shape), [[17, 2], [17, 2]])
        let main = BinaryCrossEntropy().lossAndGradient(logits: logits, targets: targets)
        model.auxiliaryGradients = model.auxiliaryLogits.map { auxiliary in
            let gradient = BinaryCrossEntropy().lossAndGradient(logits: auxiliary, targets: targets).gradient
            return Activation.map(gradient) { $0 * 0.3 }
        }
        model.zeroGradients()
        _ = model.backward(main.gradient)
        let gradients = Dictionary(uniqueKeysWithValues: model.namedParameters.map { ($0.name, $0.parameter.gradient) })
        XCTAssertGreaterThan(gradients["aux1.fc2.weight"]!.scalars.map(abs).max()!, 0)
        XCTAssertGreaterThan(gradients["aux2.conv.conv.weight"]!.scalars.map(abs).max()!, 0)
        XCTAssertGreaterThan(gradients["conv1.conv.weight"]!.scalars.map(abs).max()!, 0)

        _ = model.forward(input, mode: .inference)
        XCTAssertTrue(model.auxiliaryLogits.isEmpty)
        // Without auxiliary classifiers, the same trunk and names as torchvision's aux_logits=False.
        XCTAssertEqual(GoogLeNet.make(random: &random).parameterCount, 5_617_329)
    }
}

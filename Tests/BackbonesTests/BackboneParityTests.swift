import Backbones
import Foundation
import NN
import Tensor
import XCTest

/// torchvision's weights in Canopy's backbones give torchvision's logits, and Canopy's weights are
/// written for the reverse check. Runs only under scripts/torchvision-parity.sh, which exports the
/// weights (too large to commit) and sets CANOPY_TORCHVISION_PARITY to their folder.
final class BackboneParityTests: XCTestCase {
    func testTorchvisionWeightsGiveTorchvisionLogits() throws {
        guard let folder = ProcessInfo.processInfo.environment["CANOPY_TORCHVISION_PARITY"] else {
            throw XCTSkip("set by scripts/torchvision-parity.sh (needs torch and torchvision)")
        }
        for name in ["resnet18", "resnet50", "vgg11_bn", "alexnet", "googlenet"] {
            var random = SeededRandom(seed: 1)
            let model = try XCTUnwrap(BackboneRegistry.make(name, random: &random))
            try Checkpoint.load(into: model, from: "\(folder)/\(name).torch.safetensors")
            let io = try SafeTensorsFile.read("\(folder)/\(name).torch-io.safetensors")
            let input = try XCTUnwrap(io.tensors["input"]).tensor.swappingLeadingAxes()
            let expected = try XCTUnwrap(io.tensors["logits"]).tensor.transposed()
            let logits = model.forward(input, mode: .inference)
            let error = logits.maxDifference(from: expected).absolute / (expected.scalars.map(abs).max() ?? 1)
            print("parity \(name): torchvision's weights in Canopy, logits relative error \(error)")
            XCTAssertLessThanOrEqual(error, 1e-4, name)

            // The other way: weights Canopy wrote after training them one SGD step (batch-norm running
            // statistics updated too), and Canopy's logits with them, for torchvision to reproduce.
            let canopyModel = model
            var labels = SeededRandom(seed: 7)
            let targets = Tensor(shape: [17, 2], scalars: (0..<34).map { _ in labels.nextUniform() < 0.3 ? 1 : 0 })
            let (_, gradient) = BinaryCrossEntropy().lossAndGradient(logits: canopyModel.forward(input, mode: .training), targets: targets)
            canopyModel.zeroGradients()
            _ = canopyModel.backward(gradient)
            SGD(learningRate: 0.05, momentum: 0.9).step(canopyModel.namedParameters)
            try Checkpoint.save(canopyModel, to: "\(folder)/\(name).canopy.safetensors")
            let canopyLogits = canopyModel.forward(input, mode: .inference).transposed()
            try SafeTensorsFile(tensors: ["input": StoredTensor(io.tensors["input"]!.tensor), "logits": StoredTensor(canopyLogits)])
                .write(to: "\(folder)/\(name).canopy-io.safetensors")
        }
    }
}

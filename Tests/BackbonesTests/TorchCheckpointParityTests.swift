import Backbones
import Foundation
import NN
import Tensor
import XCTest

/// torchvision's weights saved by torch.save (.pth), read without Python the way `models[].init` reads
/// them (WeightTransfer), give torchvision's logits. Runs only under scripts/torch-checkpoint-parity.sh,
/// which writes the files (too large to commit) and sets CANOPY_TORCH_CHECKPOINT_PARITY to their folder.
final class TorchCheckpointParityTests: XCTestCase {
    func testTorchSaveCheckpointsGiveTorchvisionLogits() throws {
        guard let folder = ProcessInfo.processInfo.environment["CANOPY_TORCH_CHECKPOINT_PARITY"] else {
            throw XCTSkip("set by scripts/torch-checkpoint-parity.sh (needs torch and torchvision)")
        }
        for name in ["resnet18", "vgg11_bn", "googlenet"] {
            var random = SeededRandom(seed: 1)
            let model = try XCTUnwrap(BackboneRegistry.make(name, random: &random))
            let started = Date()
            let report = try WeightTransfer.load("\(folder)/\(name).pth", into: model)
            let seconds = Date().timeIntervalSince(started)
            XCTAssertEqual(report.fresh.map(\.name), [], name)
            XCTAssertEqual(report.ignored, [], name)
            XCTAssertEqual(report.loaded.count, model.state(prefix: "").count, name)
            let io = try SafeTensorsFile.read("\(folder)/\(name).io.safetensors")
            let input = try XCTUnwrap(io.tensors["input"]).tensor.swappingLeadingAxes()
            let expected = try XCTUnwrap(io.tensors["logits"]).tensor.transposed()
            let logits = model.forward(input, mode: .inference)
            let error = logits.maxDifference(from: expected).absolute / (expected.scalars.map(abs).max() ?? 1)
            print("parity \(name): \(report.loaded.count) tensors from torch.save's .pth (read in \(String(format: "%.1f", seconds)) s, debug build), "
                  + "logits relative error \(error)")
            XCTAssertLessThanOrEqual(error, 1e-4, name)
        }
    }
}

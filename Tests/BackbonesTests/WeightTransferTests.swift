import Backbones
import Foundation
import NN
import Tensor
import XCTest

final class WeightTransferTests: XCTestCase {
    func testImageNetShapedWeightsLoadIntoAFourBandSeventeenLabelModel() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("canopy-transfer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("imagenet.safetensors").path

        // A 3-band, 1000-class ResNet-18 stands in for torchvision's ImageNet weights.
        var random = SeededRandom(seed: 1)
        let source = ResNet.make(.resNet18, bands: 3, classes: 1000, random: &random)
        try Checkpoint.save(source, to: path)
        let model = ResNet.make(.resNet18, bands: 4, classes: 17, random: &random)
        let freshHead = (model.state(prefix: "").first { $0.name == "fc.weight" }!.entry.value)

        let report = try WeightTransfer.load(path, into: model, nearInfrared: .red)
        print(report)
        XCTAssertEqual(report.adapted.map(\.name), ["conv1.weight"])
        XCTAssertEqual(report.fresh.map(\.name), ["fc.weight", "fc.bias"])
        XCTAssertEqual(report.loaded.count, model.state(prefix: "").count - 3)
        XCTAssertTrue(report.ignored.isEmpty)

        let state = Dictionary(uniqueKeysWithValues: model.state(prefix: "").map { ($0.name, $0.entry.value) })
        let original = Dictionary(uniqueKeysWithValues: source.state(prefix: "").map { ($0.name, $0.entry.value) })
        XCTAssertEqual(state["layer3.1.conv2.weight"], original["layer3.1.conv2.weight"])
        XCTAssertEqual(state["fc.weight"], freshHead)
        // conv1: [64, 4, 7, 7]; output 5's RGB filters copied, NIR equal to its red filter.
        let conv = state["conv1.weight"]!, from = original["conv1.weight"]!
        XCTAssertEqual(conv.shape, [64, 4, 7, 7])
        let plane = 49
        for k in 0..<plane {
            XCTAssertEqual(conv.scalars[(5 * 4 + 1) * plane + k], from.scalars[(5 * 3 + 1) * plane + k])
            XCTAssertEqual(conv.scalars[(5 * 4 + 3) * plane + k], from.scalars[(5 * 3 + 0) * plane + k])
        }
        let mean = WeightTransfer.addNearInfrared(to: from, shape: [64, 4, 7, 7], from: .mean)!
        let expected = (from.scalars[0] + from.scalars[plane] + from.scalars[2 * plane]) / 3
        XCTAssertEqual(mean.scalars[3 * plane], expected, accuracy: 1e-7)
    }

    /// `init:` with a file torch.save wrote (NNTests' fixture: conv1 3→4, bn1, fc 64→5) into the same
    /// network taking 4 bands: read without Python, the first convolution adapted as from safetensors.
    func testATorchSaveFileLoadsAndAdaptsToFourBandsAsSafetensorsDoes() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("NNTests/Fixtures/torch/nested_state_dict.pth").path
        var random = SeededRandom(seed: 3)
        let model = Sequential(named: [
            ("conv1", Convolution2D(4, 4, kernel: 3, padding: 1, bias: false, random: &random)),
            ("bn1", BatchNorm(channels: 4)), ("relu", ReLU()), ("pool", MaxPool2D(kernel: 2)),
            ("flatten", Flatten()), ("fc", Linear(4 * 4 * 4, 5, random: &random)),
        ])
        let report = try WeightTransfer.load(path, into: model)
        XCTAssertEqual(report.adapted.map(\.name), ["conv1.weight"])
        XCTAssertEqual(report.loaded.sorted(), ["bn1.bias", "bn1.num_batches_tracked", "bn1.running_mean", "bn1.running_var",
                                                "bn1.weight", "fc.bias", "fc.weight"])
        XCTAssertTrue(report.fresh.isEmpty && report.ignored.isEmpty, "\(report)")
        let file = try TorchCheckpoint.read(path).file.tensors
        let state = Dictionary(uniqueKeysWithValues: model.state(prefix: "").map { ($0.name, $0.entry.value) })
        XCTAssertEqual(state["fc.weight"], file["fc.weight"]?.tensor)
        XCTAssertEqual(state["bn1.num_batches_tracked"]?.scalars, [12])
        let conv = try XCTUnwrap(state["conv1.weight"]), from = try XCTUnwrap(file["conv1.weight"]?.tensor)
        XCTAssertEqual(conv.shape, [4, 4, 3, 3])
        for o in 0..<4 {
            for k in 0..<9 {
                XCTAssertEqual(conv.scalars[(o * 4 + 2) * 9 + k], from.scalars[(o * 3 + 2) * 9 + k])  // B copied
                XCTAssertEqual(conv.scalars[(o * 4 + 3) * 9 + k], from.scalars[(o * 3 + 0) * 9 + k])  // NIR from R
            }
        }
    }
}

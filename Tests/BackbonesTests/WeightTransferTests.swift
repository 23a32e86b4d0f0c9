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
}

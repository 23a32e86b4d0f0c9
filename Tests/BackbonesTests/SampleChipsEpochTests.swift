import Backbones
import Foundation
import ImageIO
import NN
import Tensor
import XCTest

/// One epoch on the real competition chips in datasets/planet-sample, end to end: JPEG decoding at
/// DCT 1/4 scale (64 px), labels from train_v2.csv, a backbone, BCE, SGD. The data layer proper (loader,
/// augmentation, folds) is the data issue's; this is the shortest honest path through real files.
final class SampleChipsEpochTests: XCTestCase {
    static let labels = ["agriculture", "artisinal_mine", "bare_ground", "blooming", "blow_down", "clear", "cloudy",
                         "conventional_mine", "cultivation", "habitation", "haze", "partly_cloudy", "primary", "road",
                         "selective_logging", "slash_burn", "water"]

    func testOneEpochOnTheSampleChips() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("datasets/planet-sample")
        let rows = try String(contentsOf: root.appendingPathComponent("train_v2.csv"), encoding: .utf8)
            .split(separator: "\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        XCTAssertEqual(rows.count, 20)
        let reader = ImageReader(options: DecodeOptions(jpegScale: .quarter))
        var chips: [[Float]] = [], targets: [[Float]] = []
        for row in rows {
            let image = try reader.read(root.appendingPathComponent("train-jpg/\(row[0]).jpg").path)
            XCTAssertEqual([image.width, image.height], [64, 64])
            chips.append(image.channelsFirst())
            let tags = Set(row[1].split(separator: " ").map(String.init))
            XCTAssertTrue(tags.isSubset(of: Set(Self.labels)), "\(tags)")
            targets.append(Self.labels.map { tags.contains($0) ? 1 : 0 })
        }

        // One backbone: every family's numerics are BackboneNumericsTests' and BackboneTrainingTests'.
        for name in ["resnet18"] {
            var random = SeededRandom(seed: 4)
            let model = BackboneRegistry.make(name, random: &random)!
            let optimizer = SGD(learningRate: 0.01, momentum: 0.9)
            var losses: [Float] = []
            for start in stride(from: 0, to: chips.count, by: 4) {
                let batch = Array(start..<min(start + 4, chips.count))
                let input = Self.featureMajorBatch(batch.map { chips[$0] }, bands: 3, pixels: 64 * 64)
                let labels = Tensor(shape: [batch.count, 17], scalars: batch.flatMap { targets[$0] }).transposed()
                let (loss, gradient) = BinaryCrossEntropy().lossAndGradient(logits: model.forward(input, mode: .training), targets: labels)
                losses.append(loss)
                model.zeroGradients()
                _ = model.backward(gradient)
                optimizer.step(model.namedParameters)
            }
            print("epoch on the sample chips, \(name): batch losses \(losses)")
            XCTAssertEqual(losses.count, 5)
            XCTAssertTrue(losses.allSatisfy(\.isFinite), name)
        }
    }

    /// Channels-first images [bands, H·W] each → one [bands, N, H, W] batch.
    static func featureMajorBatch(_ images: [[Float]], bands: Int, pixels: Int) -> Tensor {
        var scalars = [Float](repeating: 0, count: bands * images.count * pixels)
        for (n, image) in images.enumerated() {
            for band in 0..<bands {
                let from = band * pixels, to = (band * images.count + n) * pixels
                scalars.replaceSubrange(to..<(to + pixels), with: image[from..<(from + pixels)])
            }
        }
        let side = Int(Double(pixels).squareRoot())
        return Tensor(shape: [bands, images.count, side, side], scalars: scalars)
    }
}

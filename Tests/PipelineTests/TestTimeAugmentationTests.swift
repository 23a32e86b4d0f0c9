import Backbones
import Evaluation
import Foundation
import NN
import Pipeline
import PlanetData
import Tensor
import Training
import XCTest

/// `tta: flips` and `tta: d4` against their definition: the mean of the network's sigmoid outputs on
/// the chip flipped, rotated and transposed, every transformed input built here by index loops, not
/// by `Symmetry`.
final class TestTimeAugmentationTests: XCTestCase {
    static let size = 32
    static let statistics = NormalizationStatistics(bands: .rgb, mean: [0.33, 0.36, 0.32], std: [0.18, 0.16, 0.16], chips: 20)

    /// A chip as 3 normalised 32 x 32 planes, read and normalised here (DCT 1/8 of the 256 px JPEG).
    func planes(_ chip: DatasetChip, statistics: NormalizationStatistics = statistics) throws -> [Float] {
        let read = try ChipReader(bands: .rgb).read(chip, minimumSide: Self.size)
        XCTAssertEqual([read.bands, read.height, read.width], [3, Self.size, Self.size])
        let plane = Self.size * Self.size
        return read.values.enumerated().map { index, value in
            let band = index / plane
            return (value - statistics.mean[band]) / statistics.std[band]
        }
    }

    /// The mean over the first `count` transforms of the sigmoid outputs on the transformed chip.
    func explicitMean(_ model: Layer, _ values: [Float], count: Int) -> [Double] {
        let outputs = Self.transforms.prefix(count).map { sigmoidOutputs(model, transformed(values, $0.source)) }
        return (0..<17).map { label in outputs.map { $0[label] }.reduce(0, +) / Double(count) }
    }

    /// Output pixel (y, x) of each band takes input pixel `source(y, x)`; the 8 maps of the square.
    static let transforms: [(name: String, source: @Sendable (Int, Int) -> (Int, Int))] = {
        let last = size - 1
        return [
            ("identity", { y, x in (y, x) }),
            ("horizontal flip", { y, x in (y, last - x) }),
            ("vertical flip", { y, x in (last - y, x) }),
            ("rotation by 180°", { y, x in (last - y, last - x) }),
            ("transpose", { y, x in (x, y) }),
            // Rotating a quarter turn clockwise: the new top row is the old left column, read bottom up.
            ("rotation 90° clockwise", { y, x in (last - x, y) }),
            ("rotation 90° counter-clockwise", { y, x in (x, last - y) }),
            ("anti-transpose", { y, x in (last - x, last - y) }),
        ]
    }()

    func transformed(_ values: [Float], _ source: (Int, Int) -> (Int, Int)) -> [Float] {
        let n = Self.size
        var out = [Float](repeating: 0, count: values.count)
        for band in 0..<3 {
            for y in 0..<n {
                for x in 0..<n {
                    let (sy, sx) = source(y, x)
                    out[band * n * n + y * n + x] = values[band * n * n + sy * n + sx]
                }
            }
        }
        return out
    }

    /// The network's 17 sigmoid outputs for one image, run alone (a batch of 1).
    func sigmoidOutputs(_ model: Layer, _ values: [Float]) -> [Double] {
        let logits = model.forward(Tensor(shape: [3, 1, Self.size, Self.size], scalars: values), mode: .inference)
        XCTAssertEqual(logits.shape, [17, 1])
        return logits.scalars.map { 1 / (1 + exp(-Double($0))) }
    }

    func testFlipsAndD4AverageTheSigmoidOutputsOfTheExplicitlyTransformedChips() throws {
        let dataset = try PlanetDataset.open(root: PipelineRunTests.sample, bands: .rgb)
        let chips = Array(dataset.train.prefix(5))
        var random = SeededRandom(seed: 5)
        let model = try XCTUnwrap(BackboneRegistry.make("lenet5", bands: 3, classes: 17, random: &random))
        // Freshly initialised, LeNet's outputs hardly depend on the input; a 25 times larger output
        // layer makes the 8 symmetries' outputs differ well beyond the tolerance (checked below).
        let output = try XCTUnwrap(model.namedParameters.first { $0.name == "classifier.4.weight" }?.parameter)
        output.value = Tensor(shape: output.value.shape, scalars: output.value.scalars.map { $0 * 25 })
        // Batches of 2 (the last one short), so the averaging is checked across batch columns too.
        let predictor = Predictor(bands: .rgb, statistics: Self.statistics, inputSize: Self.size, batchSize: 2, workers: 2)
        let plain = try predictor.predict(model, chips: chips, tta: .none)
        let flips = try predictor.predict(model, chips: chips, tta: .flips)
        let d4 = try predictor.predict(model, chips: chips, tta: .d4)

        for (index, chip) in chips.enumerated() {
            let values = try planes(chip)
            let outputs = Self.transforms.map { sigmoidOutputs(model, transformed(values, $0.source)) }
            let flipsMean = (0..<17).map { label in (0..<4).map { outputs[$0][label] }.reduce(0, +) / 4 }
            let d4Mean = (0..<17).map { label in (0..<8).map { outputs[$0][label] }.reduce(0, +) / 8 }
            for label in 0..<17 {
                XCTAssertEqual(Double(plain[index][label]), outputs[0][label], accuracy: 1e-5, "\(chip.name) label \(label), no TTA")
                XCTAssertEqual(Double(flips[index][label]), flipsMean[label], accuracy: 1e-5, "\(chip.name) label \(label), flips")
                XCTAssertEqual(Double(d4[index][label]), d4Mean[label], accuracy: 1e-5, "\(chip.name) label \(label), d4")
            }
            // The 8 transformed chips give 8 different outputs: replacing any symmetry by another (or
            // one counted twice) would move the mean by at least gap / 8, far beyond the tolerance.
            for a in 0..<8 {
                for b in (a + 1)..<8 {
                    let gap = (0..<17).map { abs(outputs[a][$0] - outputs[b][$0]) }.max()!
                    XCTAssertGreaterThan(gap, 8e-4, "\(chip.name): \(Self.transforms[a].name) and \(Self.transforms[b].name) give the same outputs")
                }
            }
        }
        XCTAssertEqual(Set(TestTimeAugmentation.d4.symmetries).count, 8)
        XCTAssertEqual(TestTimeAugmentation.flips.symmetries.count, 4)
    }

    /// Where a pipeline applies it: a fold's `test.csv` and `oof.csv` hold the D4 means of its best
    /// weights, `oof-notta.csv` the plain outputs, each recomputed here from `best.safetensors`.
    func testAPipelineWithD4WritesTheD4MeansOfItsBestWeights() throws {
        let scratch = FileManager.default.isWritableFile(atPath: "/dev/shm") ? "/dev/shm/" : NSTemporaryDirectory()
        let results = scratch + "canopy-tta-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: results) }
        let config = try PipelineConfig.parse("""
            name: tta
            data: {root: \(PipelineRunTests.sample), input_size: \(Self.size), limit_test: 6}
            folds: {k: 2, seed: 3}
            models:
              - {backbone: lenet5, epochs: 1, batch_size: 5, optimizer: {kind: adam, learning_rate: 0.01}}
            tta: d4
            outputs: {report: false, sample_chips: 0}
            """, file: "tta.yaml", defaultName: "tta")
        let progress = ProgressPrinter(logPath: nil, isTerminal: false)
        progress.quiet = true
        try PipelineRunner(config: config, source: "tta.yaml", results: results, progress: progress).run(through: .train)

        let statistics = try NormalizationStatistics.read(results + "/stats-rgb.json")
        let dataset = try PlanetDataset.open(root: PipelineRunTests.sample, bands: .rgb)
        let chips = Dictionary(uniqueKeysWithValues: (dataset.train + dataset.test).map { ($0.name, $0) })
        let model = try FoldTrainer.makeModel(config.models[0], bands: 3, observer: nil)
        let folder = results + "/models/lenet5/fold-0"
        _ = try Checkpoint.load(into: model, from: folder + "/best.safetensors")
        var checked = 0
        for (file, count) in [("test.csv", 8), ("oof.csv", 8), ("oof-notta.csv", 1)] {
            let table = try ProbabilityTable.read(folder + "/" + file)
            XCTAssertFalse(table.names.isEmpty, file)
            for (name, row) in zip(table.names, table.rows).prefix(4) {
                let expected = explicitMean(model, try planes(try XCTUnwrap(chips[name]), statistics: statistics), count: count)
                for label in 0..<17 { XCTAssertEqual(Double(row[label]), expected[label], accuracy: 1e-5, "\(file) \(name) label \(label)") }
                checked += 1
            }
        }
        XCTAssertEqual(checked, 12)
        // D4 and the plain pass differ here, so the files cannot be swapped unnoticed.
        let oof = try ProbabilityTable.read(folder + "/oof.csv"), plain = try ProbabilityTable.read(folder + "/oof-notta.csv")
        XCTAssertEqual(oof.names, plain.names)
        XCTAssertGreaterThan(zip(oof.rows, plain.rows).map { zip($0, $1).map { abs($0 - $1) }.max()! }.max()!, 1e-4)
    }
}

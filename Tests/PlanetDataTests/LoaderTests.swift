import Foundation
import ImageIO
import PlanetData
import Tensor
import XCTest

final class LoaderTests: XCTestCase {
    func allBatches(_ loader: ChipLoader, epoch: Int) throws -> [Batch] {
        let batches = loader.epoch(epoch)
        var out: [Batch] = []
        while let batch = try batches.next() { out.append(batch) }
        return out
    }

    func options(workers: Int, batchSize: Int = 6) -> LoaderOptions {
        LoaderOptions(batchSize: batchSize, inputSize: 32, workers: workers, prefetch: 2, shuffle: true, seed: 11,
                      augmentation: .planetDefault)
    }

    /// The bar: the same seed gives identical batches whatever the worker count.
    func testOneWorkerAndTwoWorkersGiveIdenticalBatches() throws {
        let dataset = try PlanetDataset.open(root: TestData.sample, bands: .rgb)
        let one = try allBatches(ChipLoader(chips: dataset.train, bands: .rgb, options: options(workers: 1)), epoch: 0)
        let two = try allBatches(ChipLoader(chips: dataset.train, bands: .rgb, options: options(workers: 2)), epoch: 0)
        let three = try allBatches(ChipLoader(chips: dataset.train, bands: .rgb, options: options(workers: 3)), epoch: 0)
        XCTAssertEqual(one.count, 4)
        for (a, (b, c)) in zip(one, zip(two, three)) {
            XCTAssertEqual(a.names, b.names)
            XCTAssertEqual(a.input, b.input)
            XCTAssertEqual(a.targets, b.targets)
            XCTAssertEqual(a.input, c.input)
        }
        // Another epoch reshuffles and re-augments; every chip is seen once per epoch.
        let next = try allBatches(ChipLoader(chips: dataset.train, bands: .rgb, options: options(workers: 2)), epoch: 1)
        XCTAssertNotEqual(next.map(\.names), one.map(\.names))
        XCTAssertEqual(Set(next.flatMap(\.names)), Set(dataset.train.map(\.name)))
        XCTAssertEqual(one.flatMap(\.names).count, 20)
    }

    func testBatchesAreFeatureMajorWithTheirTargetsAndAShortLastBatch() throws {
        let dataset = try PlanetDataset.open(root: TestData.sample, bands: .rgb)
        let loader = ChipLoader(chips: dataset.train, bands: .rgb,
                                options: LoaderOptions(batchSize: 8, inputSize: 64, workers: 2, prefetch: 1))
        let batches = try allBatches(loader, epoch: 0)
        XCTAssertEqual(batches.map(\.count), [8, 8, 4])
        XCTAssertEqual(batches[2].input.shape, [3, 4, 64, 64])
        XCTAssertEqual(batches.flatMap(\.names), dataset.train.map(\.name))
        // Image 1 of batch 0, band 2, equals the chip decoded on its own at 1/4 scale.
        let reader = ImageReader(options: DecodeOptions(jpegScale: .quarter))
        let image = try reader.read(dataset.train[1].jpegPath!)
        let alone = image.channelsFirst()
        let plane = 64 * 64
        XCTAssertEqual(Array(batches[0].input.scalars[((2 * 8 + 1) * plane)..<((2 * 8 + 2) * plane)]),
                       Array(alone[(2 * plane)..<(3 * plane)]))
        // Targets: [17, N], chip i's labels in column i.
        let targets = batches[0].targets!
        XCTAssertEqual(targets.shape, [17, 8])
        for (i, chipIndex) in batches[0].chipIndices.enumerated() {
            XCTAssertEqual((0..<17).map { targets.scalars[$0 * 8 + i] }, dataset.train[chipIndex].labels!.targets)
        }
        let dropping = ChipLoader(chips: dataset.train, bands: .rgb,
                                  options: LoaderOptions(batchSize: 8, inputSize: 64, dropLast: true))
        XCTAssertEqual(try allBatches(dropping, epoch: 0).map(\.count), [8, 8])
    }

    /// A 128 px model never decodes a 256 px chip at full size; TIFF chips come out R,G,B,N.
    func testJPEGsDecodeAtTheSmallestSufficientScaleAndTIFFsReorderBands() throws {
        let dataset = try PlanetDataset.open(root: TestData.sample, bands: .rgbAndRGBN, missingFiles: .report)
        let reader = ChipReader(bands: .rgbAndRGBN)
        for (side, decoded) in [(128, 128), (100, 128), (64, 64), (200, 256), (20, 32)] {
            let planes = try reader.read(dataset.train[0], minimumSide: side)
            XCTAssertEqual([planes.bands, planes.width, planes.height], [7, decoded, decoded], "minimum side \(side)")
        }
        let tiff = try ChipReader(bands: .rgbn).read(dataset.train[0], minimumSide: 256)
        // tifffile's band means of train_0.tif (B, G, R, N), pinned by ImageIO's tests, in R, G, B, N order here.
        let expected = [2823.257049560547, 4369.5269775390625, 5226.039260864258, 6126.069625854492].map { $0 / 65535 }
        for (band, mean) in tiff.bandMeans().enumerated() { XCTAssertEqual(mean, expected[band], accuracy: 1e-6) }
    }

    /// A corrupt chip in the middle: `fail` stops with the file named, `skip` leaves it out and lists it.
    func testACorruptChipFailsOrIsSkippedAsConfigured() throws {
        let root = TestData.copyOfSample("corrupt")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let victim = root + "/train-jpg/train_7.jpg"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: victim))
        try bytes.prefix(300).write(to: URL(fileURLWithPath: victim))  // truncated inside the entropy-coded data
        let dataset = try PlanetDataset.open(root: root, bands: .rgb)

        var failing = options(workers: 2, batchSize: 4)
        failing.shuffle = false
        let batches = ChipLoader(chips: dataset.train, bands: .rgb, options: failing).epoch(0)
        XCTAssertEqual(try batches.next()?.count, 4)
        XCTAssertThrowsError(try batches.next()) { error in
            XCTAssertEqual((error as? DataError)?.file, victim)
            XCTAssertTrue("\(error)".contains("truncated JPEG"), "\(error)")
        }

        var skipping = failing
        skipping.onBadImage = .skip
        let loader = ChipLoader(chips: dataset.train, bands: .rgb, options: skipping)
        let kept = try allBatches(loader, epoch: 0)
        XCTAssertEqual(kept.map(\.count), [4, 3, 4, 4, 4])
        XCTAssertFalse(kept.flatMap(\.names).contains("train_7"))
        XCTAssertEqual(loader.skipped.map(\.name), ["train_7"])
        XCTAssertTrue(loader.skipped[0].error.contains(victim))

        // A missing file is a bad image too.
        try FileManager.default.removeItem(atPath: root + "/train-jpg/train_12.jpg")
        let again = ChipLoader(chips: dataset.train, bands: .rgb, options: skipping)
        XCTAssertEqual(try allBatches(again, epoch: 0).flatMap(\.names).count, 18)
        XCTAssertEqual(again.skipped.map(\.name), ["train_7", "train_12"])
    }

    func testDroppingAnEpochHalfwayStopsItsWorkers() throws {
        let dataset = try PlanetDataset.open(root: TestData.sample, bands: .rgb)
        let loader = ChipLoader(chips: dataset.train, bands: .rgb, options: options(workers: 2, batchSize: 2))
        for _ in 0..<5 {
            let batches = loader.epoch(0)
            _ = try batches.next()
        }
        XCTAssertEqual(try allBatches(loader, epoch: 0).count, 10)
    }

    /// Statistics from one streaming pass equal the mean of each chip's own band means (all chips have
    /// the same size), computed by ImageIO independently.
    func testNormalizationStatisticsMatchImageIOAndRoundTrip() throws {
        let dataset = try PlanetDataset.open(root: TestData.sample, bands: .rgb)
        let (statistics, failures) = NormalizationStatistics.compute(dataset.train, bands: .rgb, workers: 2)
        XCTAssertTrue(failures.isEmpty)
        XCTAssertEqual(statistics.chips, 20)
        let reader = ImageReader()
        var means = [Double](repeating: 0, count: 3)
        for chip in dataset.train {
            for (band, stats) in try reader.read(chip.jpegPath!).bandStatistics().enumerated() { means[band] += stats.mean / 255 / 20 }
        }
        for band in 0..<3 { XCTAssertEqual(Double(statistics.mean[band]), means[band], accuracy: 1e-5) }
        XCTAssertTrue(statistics.std.allSatisfy { $0 > 0.01 && $0 < 0.5 }, "\(statistics.std)")
        let one = NormalizationStatistics.compute(dataset.train, bands: .rgb, workers: 1).statistics
        XCTAssertEqual(one, statistics)

        let folder = TestData.temporaryFolder("stats")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = NormalizationStatistics.path(root: folder, bands: .rgb)
        try statistics.write(to: path)
        XCTAssertEqual(try NormalizationStatistics.read(path), statistics)
        TestData.write("{\"bands\": \"rgb\", \"mean\": [0.1], \"std\": [0.2], \"chips\": 3}", to: path)
        XCTAssertThrowsError(try NormalizationStatistics.read(path)) { error in
            XCTAssertEqual("\(error)", "\(path): statistics for rgb need 3 finite means and positive deviations")
        }
        TestData.write("not json", to: path)
        XCTAssertThrowsError(try NormalizationStatistics.read(path)) { error in
            XCTAssertTrue("\(error)".hasPrefix("\(path): not a statistics file"), "\(error)")
        }
    }
}

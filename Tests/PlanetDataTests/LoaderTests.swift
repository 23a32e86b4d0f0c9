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

    /// The 16-bit TIFF bands (stored B,G,R,N, used R,G,B,N) against a reader and numpy that share
    /// nothing with Canopy's (scripts/test-values/normalization_statistics.py).
    func testNormalizationStatisticsOfTheTIFFBandsMatchNumpy() throws {
        let dataset = try PlanetDataset.open(root: TestData.sample, bands: .rgbn, missingFiles: .report)  // the sample has no test TIFFs
        XCTAssertEqual(dataset.train.count, 20)
        let (statistics, failures) = NormalizationStatistics.compute(dataset.train, bands: .rgbn, workers: 2)
        XCTAssertTrue(failures.isEmpty)
        XCTAssertEqual(statistics.chips, 20)
        // Within 7e-9 (a float ulp is 3.7e-9 to 7.5e-9 here); n − 1 instead of n would add over 1e-8.
        for band in 0..<4 {
            XCTAssertEqual(Double(statistics.mean[band]), ReferenceStatistics.rgbnMean[band], accuracy: 7e-9, "mean, band \(band)")
            XCTAssertEqual(Double(statistics.std[band]), ReferenceStatistics.rgbnStd[band], accuracy: 7e-9, "std, band \(band)")
        }
    }

    /// The kernel's ids of this process's threads (/proc/self/task).
    static func threadIDs() -> Set<String> {
        Set((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? [])
    }

    /// Those of `ids` that are the loader's workers, by the name each gives itself when it starts:
    /// another thread the runtime starts meanwhile (a dispatch worker, under load) is not one, and
    /// need not end.
    static func loaderThreads(_ ids: Set<String>) -> Set<String> {
        ids.filter { id in
            let comm = try? String(contentsOfFile: "/proc/self/task/\(id)/comm", encoding: .utf8)
            return comm?.trimmingCharacters(in: .whitespacesAndNewlines) == EpochBatches.workerThreadName
        }
    }

    /// Dropping an epoch after the first of its 10 batches ends its worker threads: of the threads that
    /// appeared when each epoch started (its 3 workers), none named as a loader's is left soon after it
    /// is dropped, and the `EpochBatches` itself is freed (its deinit cancels and waits for the
    /// workers). Workers that kept their epoch alive would wait for ever for a consumer.
    func testDroppingAnEpochHalfwayStopsItsWorkers() throws {
        let dataset = try PlanetDataset.open(root: TestData.sample, bands: .rgb)
        let loader = ChipLoader(chips: dataset.train, bands: .rgb, options: options(workers: 3, batchSize: 2))
        let seesThreads = !Self.threadIDs().isEmpty  // Linux; elsewhere only the handles are checked
        var workers = Set<String>()
        var handles: [() -> EpochBatches?] = []
        for _ in 0..<5 {
            let before = Self.threadIDs()
            let batches = loader.epoch(0)
            let started = Self.threadIDs().subtracting(before)
            if seesThreads { XCTAssertGreaterThanOrEqual(started.count, 3, "3 worker threads start with the epoch") }
            workers.formUnion(started)
            XCTAssertEqual(try batches.next()?.index, 0)
            // Each worker names itself as it starts (the name tells them from other new threads): the
            // one that built batch 0 has. (Another may be done already: its kernel thread is gone.)
            if seesThreads { XCTAssertGreaterThanOrEqual(Self.loaderThreads(started).count, 1, "a worker carries the loader's name") }
            weak let handle = batches
            handles.append { handle }
        }
        XCTAssertTrue(handles.allSatisfy { $0() == nil }, "every dropped epoch is freed")
        // A worker has returned from its body when the deinit goes on; its kernel thread ends just after.
        var alive = Self.loaderThreads(workers.intersection(Self.threadIDs()))
        for _ in 0..<200 where !alive.isEmpty {
            usleep(10_000)
            alive = Self.loaderThreads(workers.intersection(Self.threadIDs()))
        }
        XCTAssertEqual(alive.count, 0, "worker threads of dropped epochs still running: \(alive.count) of \(workers.count)")
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
        // Mean and population standard deviation over all 20 x 256 x 256 pixels, from Pillow's decode
        // and numpy in float64 (scripts/test-values/normalization_statistics.py). Within 1.5 float
        // ulps; dividing by n − 1 instead of n would move each deviation by over 6e-8.
        for band in 0..<3 {
            XCTAssertEqual(Double(statistics.mean[band]), ReferenceStatistics.rgbMean[band], accuracy: 4.5e-8, "mean, band \(band)")
            XCTAssertEqual(Double(statistics.std[band]), ReferenceStatistics.rgbStd[band], accuracy: 4.5e-8, "std, band \(band)")
        }
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

/// Per-band mean and population standard deviation of the sample's 20 training chips, in [0, 1] units:
/// printed by scripts/test-values/normalization_statistics.py (Pillow, a plain TIFF strip reader, numpy).
enum ReferenceStatistics {
    static let rgbMean = [0.3253058070785443, 0.35755560781648665, 0.3163708496123636]
    static let rgbStd = [0.17721122502965495, 0.16051758831824262, 0.16315363687195605]
    static let rgbnMean = [0.04995651374340167, 0.06858457542460761, 0.08090151477644043, 0.0994388989120906]
    static let rgbnStd = [0.03221568426744681, 0.030620698753690063, 0.03630172157419317, 0.028655583131938805]
}

private extension ChipPlanes {
    /// Mean of each band.
    func bandMeans() -> [Double] {
        (0..<bands).map { band in
            values[(band * planeSize)..<((band + 1) * planeSize)].reduce(0.0) { $0 + Double($1) } / Double(planeSize)
        }
    }
}

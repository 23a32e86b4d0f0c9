import Foundation
import ImageIO
import PlanetData
import Tensor
import XCTest

/// The loader's decoded-chip cache: the same batches as without it, epoch after epoch, within its
/// limit, and nothing kept of a chip that would not decode.
final class DecodedChipCacheTests: XCTestCase {
    private func allBatches(_ loader: ChipLoader, epoch: Int) throws -> [Batch] {
        let batches = loader.epoch(epoch)
        var out: [Batch] = []
        while let batch = try batches.next() { out.append(batch) }
        return out
    }

    private func options(cacheBytes: Int, bands: BandSource = .rgb) -> LoaderOptions {
        LoaderOptions(batchSize: 6, inputSize: 32, workers: 2, prefetch: 2, shuffle: true, seed: 11, augmentation: .planetDefault,
                      cacheBytes: cacheBytes)
    }

    /// Three epochs with the cache (the first decodes, the others read it) against three without,
    /// for JPEG chips and for JPEG and TIFF stacked; chips listed twice (as rare-label oversampling
    /// lists them) are held once.
    func testTheSameBatchesEveryEpochWithAndWithoutTheCache() throws {
        for bands in [BandSource.rgb, .rgbAndRGBN] {
            let dataset = try PlanetDataset.open(root: TestData.sample, bands: bands, missingFiles: .report)
            let chips = dataset.train + dataset.train.prefix(4)
            let plain = ChipLoader(chips: chips, bands: bands, options: options(cacheBytes: 0))
            let cached = ChipLoader(chips: chips, bands: bands, options: options(cacheBytes: 1 << 30))
            XCTAssertNil(plain.cache)
            for epoch in 0..<3 {
                let expected = try allBatches(plain, epoch: epoch), got = try allBatches(cached, epoch: epoch)
                XCTAssertEqual(got.map(\.names), expected.map(\.names), "\(bands) epoch \(epoch)")
                XCTAssertEqual(got.map(\.input), expected.map(\.input), "\(bands) epoch \(epoch)")
                XCTAssertEqual(got.map(\.targets), expected.map(\.targets), "\(bands) epoch \(epoch)")
            }
            let cache = try XCTUnwrap(cached.cache)
            XCTAssertEqual(cache.count, dataset.train.count, "one entry a chip, \(bands)")
            // The sample's JPEGs decode to 32x32 at 1/8 scale (3 bytes a pixel); TIFFs at 256x256 (8 bytes).
            let perChip = bands == .rgb ? 32 * 32 * 3 : 32 * 32 * 3 + 256 * 256 * 8
            XCTAssertEqual(cache.byteCount, dataset.train.count * perChip, "\(bands)")
        }
    }

    /// Past its limit the cache keeps what fits and the rest is decoded each time: the batches do not change.
    func testALimitKeepsWhatFits() throws {
        let dataset = try PlanetDataset.open(root: TestData.sample, bands: .rgb)
        let limit = 5 * 32 * 32 * 3 + 100
        let plain = ChipLoader(chips: dataset.train, bands: .rgb, options: options(cacheBytes: 0))
        let capped = ChipLoader(chips: dataset.train, bands: .rgb, options: options(cacheBytes: limit))
        for epoch in 0..<2 {
            XCTAssertEqual(try allBatches(capped, epoch: epoch).map(\.input), try allBatches(plain, epoch: epoch).map(\.input))
        }
        XCTAssertEqual(capped.cache?.count, 5)
        XCTAssertLessThanOrEqual(capped.cache?.byteCount ?? .max, limit)
    }

    /// A chip that does not decode is skipped in every epoch (under `skip`) and never kept.
    func testABadChipIsNotKept() throws {
        let root = TestData.copyOfSample("cache-corrupt")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let victim = root + "/train-jpg/train_7.jpg"
        try Data(contentsOf: URL(fileURLWithPath: victim)).prefix(300).write(to: URL(fileURLWithPath: victim))
        let dataset = try PlanetDataset.open(root: root, bands: .rgb)
        var skipping = options(cacheBytes: 1 << 30)
        skipping.onBadImage = .skip
        let loader = ChipLoader(chips: dataset.train, bands: .rgb, options: skipping)
        for epoch in 0..<2 {
            XCTAssertFalse(try allBatches(loader, epoch: epoch).flatMap(\.names).contains("train_7"))
        }
        XCTAssertEqual(loader.skipped.map(\.name), ["train_7", "train_7"], "met, and skipped, in each epoch")
        XCTAssertEqual(loader.cache?.count, dataset.train.count - 1)
    }
}

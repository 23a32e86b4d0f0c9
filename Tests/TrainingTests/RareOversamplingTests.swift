import PlanetData
import Training
import XCTest

/// `oversample_rare`: which labels count as rare in a training fold, and which chips repeat.
final class RareOversamplingTests: XCTestCase {
    lazy var template = try? TrainerBehaviourTests.sampleChips()[0]

    /// The sample's first chip renamed and relabelled.
    func chip(_ name: String, _ tags: String) throws -> DatasetChip {
        var chip = try XCTUnwrap(template)
        chip.name = name
        chip.labels = try LabelSet(tags: Substring(tags))
        return chip
    }

    func testChipsWithARareLabelRepeatAndOthersDoNot() throws {
        // 20 chips: primary on all, water on 4 (20%), slash_burn on 1 (5%), blow_down on none.
        var chips = try (0..<20).map { try chip("c\($0)", "primary" + ($0 < 4 ? " water" : "")) }
        chips[7] = try chip("c7", "primary slash_burn")
        let oversampling = RareOversampling(below: 0.1, times: 3)
        XCTAssertEqual(oversampling.rareLabels(in: chips), ["slash_burn"])
        let expanded = oversampling.expand(chips)
        XCTAssertEqual(expanded.count, 22)
        XCTAssertEqual(expanded.filter { $0.name == "c7" }.count, 3)
        XCTAssertEqual(expanded.filter { $0.name == "c0" }.count, 1)
        XCTAssertEqual(RareOversampling(below: 0.25, times: 2).expand(chips).count, 25, "water (4 of 20) is rare under 25%")
        XCTAssertEqual(RareOversampling(below: 0.1, times: 1).expand(chips), chips, "once: unchanged")
    }

    /// `keep_epoch_size`: an epoch draws as many chips as the fold has, from the list with the repeats,
    /// so its length does not grow with the rare chips while they keep their larger share.
    func testKeepEpochSizeDrawsTheFoldsCountWithTheRareChipsMoreOften() throws {
        var chips = try (0..<20).map { try chip("c\($0)", "primary") }
        chips[7] = try chip("c7", "primary slash_burn")
        let kept = RareOversampling(below: 0.1, times: 5, keepEpochSize: true)
        XCTAssertEqual(kept.drawnPerEpoch(chips), 20)
        XCTAssertEqual(RareOversampling(below: 0.1, times: 5).drawnPerEpoch(chips), 24)
        let loader = ChipLoader(chips: kept.expand(chips), bands: .rgb, options: LoaderOptions(
            batchSize: 4, inputSize: 32, shuffle: true, dropLast: true, seed: 9, epochChips: chips.count))
        XCTAssertEqual(loader.batchesPerEpoch, 5)
        var draws = [String: Int]()
        let epochs = 400
        for epoch in 0..<epochs {
            let order = loader.order(epoch: epoch)
            XCTAssertEqual(order.count, 20)
            XCTAssertEqual(Set(order).count, 20, "an epoch draws without replacement from the list")
            for index in order { draws[loader.chips[index].name, default: 0] += 1 }
        }
        XCTAssertEqual(loader.order(epoch: 3), loader.order(epoch: 3), "seeded")
        XCTAssertNotEqual(loader.order(epoch: 3), loader.order(epoch: 4))
        // 24 entries, 20 drawn: every entry with probability 5/6; c7 has 5 entries, the others 1.
        let rare = Double(draws["c7", default: 0]) / Double(epochs), common = Double(draws["c0", default: 0]) / Double(epochs)
        XCTAssertEqual(rare, 5.0 * 20 / 24, accuracy: 0.25)
        XCTAssertEqual(common, 20.0 / 24, accuracy: 0.1)
    }

    /// The option decodes from a pipeline's keys, and a recipe without it keeps its encoding (the
    /// stage cache's key): `keep_epoch_size` is written only when set.
    func testKeepEpochSizeDecodesAndIsLeftOutOfTheEncodingWhenOff() throws {
        let decoded = try JSONDecoder().decode(RareOversampling.self, from: Data(#"{"below": 0.05, "times": 3, "keep_epoch_size": true}"#.utf8))
        XCTAssertEqual(decoded, RareOversampling(below: 0.05, times: 3, keepEpochSize: true))
        let off = String(decoding: try JSONEncoder().encode(RareOversampling(below: 0.05, times: 3)), as: UTF8.self)
        XCTAssertFalse(off.contains("keep"), off)
        let on = String(decoding: try JSONEncoder().encode(decoded), as: UTF8.self)
        XCTAssertTrue(on.contains("\"keep_epoch_size\":true"), on)
    }
}

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
}

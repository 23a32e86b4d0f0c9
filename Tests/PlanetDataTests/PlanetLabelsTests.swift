import PlanetData
import XCTest

final class PlanetLabelsTests: XCTestCase {
    func testTheSeventeenLabelsInTheirOrder() {
        XCTAssertEqual(PlanetLabels.names.count, 17)
        XCTAssertEqual(PlanetLabels.index(of: "agriculture"), 0)
        XCTAssertEqual(PlanetLabels.index(of: "artisinal_mine"), 1)
        XCTAssertEqual(PlanetLabels.index(of: "water"), 16)
        XCTAssertNil(PlanetLabels.index(of: "artisanal_mine"), "the competition spells it artisinal")
        XCTAssertEqual(PlanetLabels.weather.names, ["clear", "cloudy", "haze", "partly_cloudy"])
        XCTAssertEqual(PlanetLabels.ground.count, 13)
    }

    func testTagsParseAndPrintInLabelOrder() throws {
        let set = try LabelSet(tags: "water  primary clear agriculture")
        XCTAssertEqual(set.tags, "agriculture clear primary water")
        XCTAssertEqual(set.targets.enumerated().filter { $0.element == 1 }.map(\.offset), [0, 5, 12, 16])
        XCTAssertEqual(try LabelSet(tags: ""), LabelSet())
        XCTAssertThrowsError(try LabelSet(tags: "clear forest")) { error in
            XCTAssertEqual((error as? LabelSet.UnknownTag)?.tag, "forest")
        }
    }
}

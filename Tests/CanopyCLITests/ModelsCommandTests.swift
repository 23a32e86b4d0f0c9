import XCTest

/// `canopy models` at a size some backbones cannot take: those are named, not run (AlexNet's maps
/// would shrink to nothing at 32 px, which used to stop the command at a precondition).
final class ModelsCommandTests: XCTestCase {
    func testASizeTooSmallForSomeBackbonesListsTheOthersAndNamesThem() throws {
        let listed = try CLI.run(["models", "--size", "32"])
        XCTAssertEqual(listed.status, 0, listed.output)
        XCTAssertTrue(listed.output.contains("too small an input for: alexnet (from 63 px), alexnet_lrn (from 63 px)"), listed.output)
        XCTAssertTrue(listed.output.contains("resnet18 "), listed.output)
        XCTAssertTrue(listed.output.contains("lenet5 "), listed.output)
    }
}

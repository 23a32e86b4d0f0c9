import Foundation
import ImageIO
import XCTest

/// Inputs the fuzzers found (scripts/fuzz.sh), kept so the bugs they showed stay fixed.
/// Each must end in the typed error named here, never in a crash or an unbounded allocation.
final class FuzzRegressionTests: XCTestCase {
    private enum Expected { case tooLarge, corrupt, truncated }

    private let cases: [(file: String, expected: Expected, why: String)] = [
        ("tiff-huge-tile-length.tif", .tooLarge,
         "50x40 image declaring 16 x 268435456 tiles: the tile buffer was malloc'd (8 GiB) before any check"),
    ]

    func testEveryRegressionInputEndsInItsTypedError() throws {
        let folder = TestPaths.packageRoot.appendingPathComponent("Tests/ImageIOTests/Fixtures/fuzz-regressions")
        let onDisk = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        XCTAssertEqual(onDisk, cases.map(\.file).sorted(), "every regression file has an expectation here")
        for item in cases {
            let path = folder.appendingPathComponent(item.file).path
            XCTAssertThrowsError(try ImageReader().read(path), item.why) { error in
                guard let error = error as? ImageIOError else { return XCTFail("\(item.file): \(error)") }
                XCTAssertEqual(error.file, path)
                switch (item.expected, error.reason) {
                case (.tooLarge, .tooLarge), (.corrupt, .corrupt), (.truncated, .truncated): break
                default: XCTFail("\(item.file): expected \(item.expected), got \(error)")
                }
            }
        }
    }
}

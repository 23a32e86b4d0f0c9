import Foundation
import ImageIO
import XCTest

/// Inputs the fuzzers found (scripts/fuzz.sh), kept so the bugs they showed stay fixed.
/// Each must end in the typed error named here, never in a crash or an unbounded allocation.
final class FuzzRegressionTests: XCTestCase {
    private enum Expected { case tooLarge, corrupt, truncated }

    private let cases: [(file: String, expected: Expected, why: String, detail: String)] = [
        ("tiff-huge-tile-length.tif", .tooLarge,
         "50x40 image declaring 16 x 268435456 tiles: the tile buffer was malloc'd (8 GiB) before any check",
         // 16 · 268435456 pixels · 3 samples · 8 bits = 2³³ bytes, over the default 2³⁰-byte limit.
         "a 16 x 268435456 tile of 8589934592 bytes exceeds the 1073741824-byte allocation limit"),
    ]

    /// The fixture still declares what its case says: tags read here from the little-endian IFD.
    func testTheTileFixtureDeclaresItsHugeTile() throws {
        let bytes = try FileBytes.read(TestPaths.packageRoot.appendingPathComponent(
            "Tests/ImageIOTests/Fixtures/fuzz-regressions/tiff-huge-tile-length.tif").path)
        func value(_ at: Int, _ size: Int) -> Int { (0..<size).reduce(0) { $0 | Int(bytes[at + $1]) << (8 * $1) } }
        XCTAssertEqual(Array(bytes.prefix(4)), [0x49, 0x49, 0x2A, 0x00])
        let ifd = value(4, 4)
        var tags: [Int: Int] = [:]
        for entry in 0..<value(ifd, 2) {
            let at = ifd + 2 + 12 * entry
            let type = value(at + 2, 2), count = value(at + 4, 4)
            if count == 1, type == 3 || type == 4 { tags[value(at, 2)] = value(at + 8, type == 3 ? 2 : 4) }
        }
        XCTAssertEqual(tags[256], 50)  // ImageWidth
        XCTAssertEqual(tags[257], 40)  // ImageLength
        XCTAssertEqual(tags[277], 3)  // SamplesPerPixel
        XCTAssertEqual(tags[322], 16)  // TileWidth
        XCTAssertEqual(tags[323], 268_435_456)  // TileLength
    }

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
                case (.tooLarge, .tooLarge(_, let detail)), (.corrupt, .corrupt(_, let detail)), (.truncated, .truncated(_, let detail)):
                    XCTAssertEqual(detail, item.detail, item.file)
                default: XCTFail("\(item.file): expected \(item.expected), got \(error)")
                }
            }
        }
    }
}

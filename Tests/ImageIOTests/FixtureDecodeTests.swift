import Foundation
import ImageIO
import XCTest

/// Decodes every fixture written by scripts/fixtures/make_image_fixtures.py and compares it with
/// the pixels an independent source says it holds (the array it was written from, or djpeg's output).
final class FixtureDecodeTests: XCTestCase {
    struct Entry: Decodable {
        var file: String
        var format: String
        var width: Int
        var height: Int
        var band_order: String
        var bit_depth: Int
        var expected: String
        var tolerance: Double
        var jpeg_scale: Int
        var note: String
    }

    func testEveryFixtureDecodesToItsExpectedPixels() throws {
        let manifestURL = TestPaths.fixtures.appendingPathComponent("manifest.json")
        let entries = try JSONDecoder().decode([Entry].self, from: Data(contentsOf: manifestURL))
        XCTAssertGreaterThanOrEqual(entries.count, 30)
        let formats = Set(entries.map(\.format))
        XCTAssertEqual(formats, ["jpeg", "png", "tiff"])

        for entry in entries {
            let path = TestPaths.fixtures.appendingPathComponent(entry.file).path
            let reader = ImageReader(options: DecodeOptions(jpegScale: JPEGScale(rawValue: entry.jpeg_scale)!))
            let label = "\(entry.file) at 1/\(entry.jpeg_scale) (\(entry.note))"
            let image: Image
            do {
                image = try reader.read(path)
            } catch {
                XCTFail("\(label): \(error)")
                continue
            }
            XCTAssertEqual(image.width, entry.width, label)
            XCTAssertEqual(image.height, entry.height, label)
            XCTAssertEqual(image.bandOrder.description, entry.band_order, label)
            XCTAssertEqual(image.bitDepth, entry.bit_depth, label)

            let raw = try Data(contentsOf: TestPaths.fixtures.appendingPathComponent(entry.expected))
            let expected: [Int] = entry.bit_depth == 16
                ? stride(from: 0, to: raw.count, by: 2).map { Int(raw[$0]) | Int(raw[$0 + 1]) << 8 }
                : raw.map(Int.init)
            let actual = image.intSamples
            XCTAssertEqual(actual.count, expected.count, label)
            guard actual.count == expected.count else { continue }
            if entry.tolerance == 0 {
                let mismatches = zip(actual, expected).filter { $0 != $1 }.count
                XCTAssertEqual(mismatches, 0, "\(label): \(mismatches) samples differ")
            } else {
                let meanError = zip(actual, expected).map { Double(abs($0 - $1)) }.reduce(0, +) / Double(actual.count)
                XCTAssertLessThan(meanError, entry.tolerance, label)
            }
        }
    }

    func testFormatIsSniffedFromBytesNotName() throws {
        let jpeg = try FileBytes.read(TestPaths.fixtures.appendingPathComponent("jpeg/gray.jpg").path)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("canopy-sniff-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let misnamed = directory.appendingPathComponent("actually-a-jpeg.png").path
        try Data(jpeg).write(to: URL(fileURLWithPath: misnamed))
        let image = try ImageReader().read(misnamed)
        XCTAssertEqual(image.bandOrder, .gray)
        XCTAssertEqual(ImageFormat.sniff(jpeg), .jpeg)
        XCTAssertNil(ImageFormat.sniff([UInt8]("GIF89a".utf8)))
    }
}

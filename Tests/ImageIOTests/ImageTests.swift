import Foundation
import ImageIO
import XCTest

/// The Image value: band selection, statistics, Float32 channels-first conversion, PNG round trips.
final class ImageTests: XCTestCase {
    private func ramp16(width: Int, height: Int, bands: Int) -> Image {
        let values = (0..<(width * height * bands)).map { UInt16(($0 * 257) % 65536) }
        return Image(width: width, height: height, bandOrder: BandOrder(Array([Band.blue, .green, .red, .nearInfrared].prefix(bands))),
                     samples: .uint16(values))
    }

    func testSelectingReordersBands() throws {
        let image = ramp16(width: 3, height: 2, bands: 4)
        let rgb = try image.selecting(.rgb)
        XCTAssertEqual(rgb.bands, 3)
        for y in 0..<2 {
            for x in 0..<3 {
                XCTAssertEqual(rgb.sample(x: x, y: y, band: 0), image.sample(x: x, y: y, band: 2))
                XCTAssertEqual(rgb.sample(x: x, y: y, band: 2), image.sample(x: x, y: y, band: 0))
            }
        }
        XCTAssertThrowsError(try Image(width: 1, height: 1, bandOrder: .rgb, samples: .uint8([1, 2, 3])).selecting(.rgbn)) {
            guard let error = $0 as? ImageIOError, case .missingBand = error.reason else { return XCTFail("\($0)") }
        }
    }

    func testChannelsFirstNormalises() {
        // 2x1 RGB: pixels (0, 51, 255) and (255, 102, 0).
        let image = Image(width: 2, height: 1, bandOrder: .rgb, samples: .uint8([0, 51, 255, 255, 102, 0]))
        assertClose(image.channelsFirst(), [0, 1, 0.2, 0.4, 1, 0])
        let norm = BandNormalization(scale: [1, 1, 1], mean: [10, 20, 30], std: [2, 4, 5])
        assertClose(image.channelsFirst(normalization: norm), [-5, 122.5, 7.75, 20.5, 45, -6])
    }

    private func assertClose(_ actual: [Float], _ expected: [Float], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.count, expected.count, file: file, line: line)
        for (a, e) in zip(actual, expected) { XCTAssertEqual(a, e, accuracy: 1e-5, file: file, line: line) }
    }

    func testBandStatistics() {
        let image = Image(width: 2, height: 2, bandOrder: .grayAlpha, samples: .uint8([0, 9, 10, 9, 20, 9, 30, 9]))
        XCTAssertEqual(image.bandStatistics(), [BandStatistics(minimum: 0, mean: 15, maximum: 30),
                                                BandStatistics(minimum: 9, mean: 9, maximum: 9)])
    }

    func testPNGRoundTripEveryLayout() throws {
        let layouts: [BandOrder] = [.gray, .grayAlpha, .rgb, .rgba]
        for order in layouts {
            for depth in [8, 16] {
                let count = 13 * 7 * order.count
                let samples: Image.Samples = depth == 8
                    ? .uint8((0..<count).map { UInt8(($0 * 37) % 256) })
                    : .uint16((0..<count).map { UInt16(($0 * 4099) % 65536) })
                let image = Image(width: 13, height: 7, bandOrder: order, samples: samples)
                let bytes = try PNGCodec.encode(image)
                XCTAssertEqual(ImageFormat.sniff(bytes), .png)
                XCTAssertEqual(try ImageReader().decode(bytes), image, "\(order) \(depth)-bit")
            }
        }
    }

    func testPNGEncodeRefusesFiveBands() {
        let image = Image(width: 1, height: 1, bandOrder: "RGBNX", samples: .uint8([1, 2, 3, 4, 5]))
        XCTAssertThrowsError(try PNGCodec.encode(image, file: "five.png")) {
            XCTAssertTrue("\($0)".contains("five.png"))
        }
    }

    func testWarningsAreRoutedNotPrinted() throws {
        // A JPEG with junk bytes before its EOI marker: libjpeg warns ("extraneous bytes") and goes on.
        var bytes = try FileBytes.read(TestPaths.fixtures.appendingPathComponent("jpeg/gray.jpg").path)
        XCTAssertEqual(Array(bytes.suffix(2)), [0xFF, 0xD9])
        bytes.insert(contentsOf: [0x12, 0x34, 0x56], at: bytes.count - 2)
        let collected = WarningLog()
        let reader = ImageReader(options: DecodeOptions(warningHandler: { collected.append($0) }))
        let image = try reader.decode(bytes, file: "junk.jpg")
        XCTAssertEqual(image.bandOrder, .gray)
        XCTAssertEqual(collected.messages.count, 1)
        XCTAssertTrue(collected.messages.first?.contains("extraneous") ?? false, "\(collected.messages)")
    }
}

/// Collects warnings from a decoder's handler.
final class WarningLog: @unchecked Sendable {
    private var stored: [String] = []
    private let lock = NSLock()
    func append(_ message: String) { lock.withLock { stored.append(message) } }
    var messages: [String] { lock.withLock { stored } }
}

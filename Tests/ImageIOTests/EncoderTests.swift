import Dispatch
import Foundation
import ImageIO
import XCTest

/// JPEGEncoder and TIFFEncoder: round trips through the decoders, Planet's layouts, refusals.
final class EncoderTests: XCTestCase {
    // MARK: Images

    /// A smooth 8-bit image: gentle ramps and a slow wave per band, nothing JPEG finds hard.
    private func smooth8(width: Int = 64, height: Int = 64, order: BandOrder = .rgb) -> Image {
        let bands = order.count
        var values = [UInt8](repeating: 0, count: width * height * bands)
        for y in 0..<height {
            for x in 0..<width {
                for b in 0..<bands {
                    let wave = 20 * sin(Double(x + 2 * y + 17 * b) / 9)
                    let value = 60 + Double(x) * 1.2 + Double(y) * 0.8 + Double(b) * 15 + wave
                    values[(y * width + x) * bands + b] = UInt8(max(0, min(255, value.rounded())))
                }
            }
        }
        return Image(width: width, height: height, bandOrder: order, samples: .uint8(values))
    }

    /// A 16-bit image with Planet-like levels (a few thousand, NIR highest) that uses the high byte.
    private func smooth16(width: Int = 64, height: Int = 64, order: BandOrder = .bgrn) -> Image {
        let bands = order.count
        var values = [UInt16](repeating: 0, count: width * height * bands)
        for y in 0..<height {
            for x in 0..<width {
                for b in 0..<bands {
                    let value = 3000 + 1000 * b + 7 * x + 5 * y + (x * y) % 13
                    values[(y * width + x) * bands + b] = UInt16(value)
                }
            }
        }
        return Image(width: width, height: height, bandOrder: order, samples: .uint16(values))
    }

    private func meanAbsoluteError(_ a: Image, _ b: Image) -> Double {
        let x = a.intSamples, y = b.intSamples
        precondition(x.count == y.count)
        return Double(zip(x, y).reduce(0) { $0 + abs($1.0 - $1.1) }) / Double(x.count)
    }

    private func jpegHeader(_ bytes: [UInt8]) throws -> JPEGHeader {
        let decoder = JPEGDecoder()
        let result = bytes.withUnsafeBytes { buffer in
            Result { () throws(ImageIOError) -> JPEGHeader in try decoder.header(buffer, file: "<encoded>") }
        }
        return try result.get()
    }

    private func assertUnsupported(_ body: () throws -> [UInt8], _ message: String, file: StaticString = #filePath,
                                   line: UInt = #line) {
        XCTAssertThrowsError(try body(), message, file: file, line: line) { error in
            guard let error = error as? ImageIOError, case .unsupportedLayout = error.reason else {
                return XCTFail("\(message): expected unsupportedLayout, got \(error)", file: file, line: line)
            }
            XCTAssertFalse(error.description.isEmpty, file: file, line: line)
        }
    }

    // MARK: JPEG

    func testJPEGYCbCrRoundTripIsClose() throws {
        let image = smooth8()
        let bytes = try JPEGEncoder.encode(image)
        XCTAssertEqual(ImageFormat.sniff(bytes), .jpeg)
        let header = try jpegHeader(bytes)
        XCTAssertEqual(header.components, 3)
        XCTAssertEqual(header.colorSpace, .yCbCr)
        XCTAssertFalse(header.hasAdobeMarker)
        XCTAssertTrue(JPEGSegments(bytes).hasJFIF)
        let decoded = try ImageReader().decode(bytes)
        XCTAssertEqual(decoded.bandOrder, .rgb)
        XCTAssertEqual(decoded.width, 64)
        XCTAssertEqual(decoded.height, 64)
        XCTAssertLessThan(meanAbsoluteError(decoded, image), 3)
        // Lower quality: smaller and further off, but still the same picture.
        let rough = try JPEGEncoder.encode(image, quality: 30)
        XCTAssertLessThan(rough.count, bytes.count)
        XCTAssertLessThan(meanAbsoluteError(try ImageReader().decode(rough), image), 8)
    }

    func testJPEGGrayRoundTripIsClose() throws {
        let image = smooth8(width: 48, height: 40, order: .gray)
        let bytes = try JPEGEncoder.encode(image, quality: 95)
        let header = try jpegHeader(bytes)
        XCTAssertEqual(header.components, 1)
        XCTAssertEqual(header.colorSpace, .gray)
        let decoded = try ImageReader().decode(bytes)
        XCTAssertEqual(decoded.bandOrder, .gray)
        XCTAssertEqual(decoded.width, 48)
        XCTAssertEqual(decoded.height, 40)
        XCTAssertLessThan(meanAbsoluteError(decoded, image), 3)
    }

    func testJPEGWritesBGRImageAsRGB() throws {
        let image = smooth8()
        let bgr = try image.selecting("BGR")
        let decoded = try ImageReader().decode(try JPEGEncoder.encode(bgr))
        XCTAssertEqual(decoded.bandOrder, .rgb)
        XCTAssertLessThan(meanAbsoluteError(decoded, image), 3)
    }

    func testPlanetFourComponentHeaderAndDecode() throws {
        let image = smooth8()
        let bytes = try JPEGEncoder.encode(image, layout: .planetFourComponent)
        let header = try jpegHeader(bytes)
        XCTAssertEqual(header.components, 4)
        XCTAssertEqual(header.colorSpace, .cmyk)
        XCTAssertFalse(header.hasAdobeMarker)
        let segments = JPEGSegments(bytes)
        XCTAssertFalse(segments.hasJFIF)
        XCTAssertFalse(segments.hasAdobe)
        let decoded = try ImageReader().decode(bytes)
        XCTAssertEqual(decoded.bandOrder, .rgb)
        XCTAssertLessThan(meanAbsoluteError(decoded, image), 3)
    }

    /// The competition's own chips are exactly this layout: an encoded file's header, marker sequence
    /// and frame (component ids, sampling, table numbers) equal train_1.jpg's, size aside; at Planet's
    /// quality 75 the quantisation table is byte for byte theirs.
    func testPlanetFourComponentMatchesTrainJPG() throws {
        let real = try [UInt8](Data(contentsOf: URL(fileURLWithPath: TestPaths.sample("train-jpg/train_1.jpg"))))
        let realHeader = try jpegHeader(real)
        let source = try ImageReader().decode(real)
        for size in [(256, 256), (40, 24)] {
            let image = size.0 == 256 ? source : smooth8(width: size.0, height: size.1)
            let bytes = try JPEGEncoder.encode(image, quality: 75, layout: .planetFourComponent)
            var header = try jpegHeader(bytes)
            XCTAssertEqual(header.width, size.0)
            XCTAssertEqual(header.height, size.1)
            header.width = realHeader.width
            header.height = realHeader.height
            XCTAssertEqual(header, realHeader)
            let ours = JPEGSegments(bytes), theirs = JPEGSegments(real)
            XCTAssertEqual(ours.markers, theirs.markers)
            XCTAssertEqual(ours.markers, [0xDB, 0xC0, 0xC4, 0xC4, 0xDA])  // DQT, SOF0, DHT, DHT, SOS
            XCTAssertEqual(ours.frameComponents, theirs.frameComponents)
            XCTAssertEqual(ours.scanComponents, theirs.scanComponents)
            XCTAssertEqual(ours.quantizationTables, theirs.quantizationTables)
        }
        // Re-encoding the real chip at its own quality stays close to it.
        let again = try ImageReader().decode(try JPEGEncoder.encode(source, quality: 75, layout: .planetFourComponent))
        XCTAssertLessThan(meanAbsoluteError(again, source), 3)
    }

    func testJPEGRefusesWhatItCannotHold() {
        let sixteen = smooth16(width: 8, height: 8, order: .rgb)
        assertUnsupported({ try JPEGEncoder.encode(sixteen) }, "16-bit RGB")
        assertUnsupported({ try JPEGEncoder.encode(self.smooth16(width: 8, height: 8, order: .gray)) }, "16-bit gray")
        let four = smooth8(width: 8, height: 8, order: .rgbn)
        assertUnsupported({ try JPEGEncoder.encode(four) }, "4 bands")
        assertUnsupported({ try JPEGEncoder.encode(four, layout: .planetFourComponent) }, "4 bands, Planet layout")
        assertUnsupported({ try JPEGEncoder.encode(self.smooth8(width: 8, height: 8, order: .grayAlpha)) }, "2 bands")
        assertUnsupported({ try JPEGEncoder.encode(self.smooth8(width: 8, height: 8, order: .gray), layout: .planetFourComponent) },
                          "gray, Planet layout")
        let wide = Image(width: 65501, height: 1, bandOrder: .gray, samples: .uint8([UInt8](repeating: 9, count: 65501)))
        assertUnsupported({ try JPEGEncoder.encode(wide) }, "too wide")
        XCTAssertThrowsError(try JPEGEncoder.encode(smooth8(width: 8, height: 8), quality: 0)) { error in
            guard let error = error as? ImageIOError, case .cannotWrite = error.reason else { return XCTFail("\(error)") }
        }
    }

    // MARK: TIFF

    func testTIFF16BitBGRNRoundTripIsExact() throws {
        let image = smooth16()
        for compression in [TIFFCompression.none, .deflate] {
            let bytes = try TIFFEncoder.encode(image, compression: compression)
            XCTAssertEqual(Array(bytes.prefix(4)), [0x49, 0x49, 0x2A, 0x00])  // little-endian, as Planet's
            let decoded = try ImageReader().decode(bytes)
            XCTAssertEqual(decoded.bandOrder, .bgrn, "\(compression)")
            XCTAssertEqual(decoded.bitDepth, 16)
            XCTAssertEqual(decoded, image, "\(compression)")
            // Declared as Planet declares: RGB plus one extra sample.
            let declared = try ImageReader(options: DecodeOptions(tiffBandConvention: .asDeclared)).decode(bytes)
            XCTAssertEqual(declared.bandOrder, "RGBX")
        }
    }

    /// Planet's analytic layout, tag for tag where it matters: a chip re-encoded from train_1.tif decodes
    /// to the very same samples and labels, and is the same size uncompressed.
    func testTIFFRewritesPlanetChipExactly() throws {
        let path = TestPaths.sample("train-tif-v2/train_1.tif")
        let real = try ImageReader().read(path)
        let bytes = try TIFFEncoder.encode(real)
        XCTAssertEqual(try ImageReader().decode(bytes), real)
        XCTAssertEqual(bytes.count, try Data(contentsOf: URL(fileURLWithPath: path)).count, accuracy: 400)  // header and tags differ a little
        let ours = TIFFTags(bytes).values, theirs = TIFFTags(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))).values
        // Width, length, bits, compression, photometric, samples, rows per strip, strip byte count, planar.
        for tag in [256, 257, 258, 259, 262, 277, 278, 279, 284] {
            XCTAssertEqual(ours[tag], theirs[tag], "tag \(tag)")
        }
        XCTAssertEqual(ours[273]?.count, 1)  // one strip
        XCTAssertEqual(ours[338], [0])  // one extra sample, unspecified (Planet's says associated alpha: 1)
        XCTAssertEqual(theirs[338], [1])
    }

    func testTIFF8BitRGBAndGrayRoundTripsAreExact() throws {
        let rgb = smooth8(width: 37, height: 23)
        XCTAssertEqual(try ImageReader().decode(try TIFFEncoder.encode(rgb)), rgb)
        let gray = smooth8(width: 31, height: 17, order: .gray)
        XCTAssertEqual(try ImageReader().decode(try TIFFEncoder.encode(gray)), gray)
        let gray16 = smooth16(width: 9, height: 5, order: .gray)
        XCTAssertEqual(try ImageReader().decode(try TIFFEncoder.encode(gray16, compression: .deflate)), gray16)
        let one = Image(width: 1, height: 1, bandOrder: .rgb, samples: .uint8([1, 2, 3]))
        XCTAssertEqual(try ImageReader().decode(try TIFFEncoder.encode(one, compression: .deflate)), one)
    }

    func testTIFFOtherBandCountsAreGrayWithExtraSamples() throws {
        let two = smooth8(width: 12, height: 7, order: "LX")
        XCTAssertEqual(try ImageReader().decode(try TIFFEncoder.encode(two)), two)
        let five = smooth16(width: 12, height: 7, order: "LXXXX")
        XCTAssertEqual(try ImageReader().decode(try TIFFEncoder.encode(five, compression: .deflate)), five)
        // 8-bit, 4 bands: RGB plus an unnamed sample (the BGRN label is for Planet's 16-bit files).
        let rgbx = smooth8(width: 12, height: 7, order: "RGBX")
        XCTAssertEqual(try ImageReader().decode(try TIFFEncoder.encode(rgbx)), rgbx)
    }

    /// Labels the file cannot carry are honoured by writing the samples in the order it declares.
    func testTIFFReordersToDeclaredBands() throws {
        let bgrn = smooth16(width: 10, height: 6)
        let rgbn = try bgrn.selecting(.rgbn)
        let decoded = try ImageReader().decode(try TIFFEncoder.encode(rgbn))
        XCTAssertEqual(decoded, bgrn)
        XCTAssertEqual(try decoded.selecting(.rgbn), rgbn)
        let rgb = smooth8(width: 10, height: 6)
        XCTAssertEqual(try ImageReader().decode(try TIFFEncoder.encode(try rgb.selecting("BGR"))), rgb)
    }

    func testTIFFDeflateIsSmallerAndExact() throws {
        let image = smooth16(width: 128, height: 96)
        let plain = try TIFFEncoder.encode(image, compression: .none)
        let deflated = try TIFFEncoder.encode(image, compression: .deflate)
        XCTAssertGreaterThan(plain.count, 128 * 96 * 4 * 2)
        XCTAssertLessThan(deflated.count, plain.count / 2)
        XCTAssertEqual(try ImageReader().decode(deflated), image)
        XCTAssertEqual(TIFFTags(deflated).values[259], [8])  // Adobe Deflate
        XCTAssertEqual(TIFFTags(deflated).values[317], [2])  // horizontal predictor
        let rgb8 = smooth8(width: 128, height: 96)
        let rgbDeflated = try TIFFEncoder.encode(rgb8, compression: .deflate)
        XCTAssertLessThan(rgbDeflated.count, try TIFFEncoder.encode(rgb8).count)
        XCTAssertEqual(try ImageReader().decode(rgbDeflated), rgb8)
    }

    /// Rows of 5600 bytes give 187-row strips: 200 rows take two, the second short.
    func testTIFFSeveralStrips() throws {
        let image = smooth16(width: 700, height: 200)
        for compression in [TIFFCompression.none, .deflate] {
            let bytes = try TIFFEncoder.encode(image, compression: compression)
            XCTAssertEqual(TIFFTags(bytes).values[278], [187])
            XCTAssertEqual(TIFFTags(bytes).values[273]?.count, 2)
            XCTAssertEqual(try ImageReader().decode(bytes), image)
        }
    }

    // MARK: Both

    /// Several threads at once produce the same bytes as one thread, and the caller's pixels are
    /// never touched (libtiff's predictor works in place, on a copy).
    func testEncodersAreThreadSafeAndDeterministic() throws {
        let rgb = smooth8()
        let bgrn = smooth16()
        let expected = (try JPEGEncoder.encode(rgb), try JPEGEncoder.encode(rgb, layout: .planetFourComponent),
                        try TIFFEncoder.encode(bgrn, compression: .deflate))
        let failures = Counter()
        DispatchQueue.concurrentPerform(iterations: 16) { _ in
            do {
                if try JPEGEncoder.encode(rgb) != expected.0 { failures.add() }
                if try JPEGEncoder.encode(rgb, layout: .planetFourComponent) != expected.1 { failures.add() }
                if try TIFFEncoder.encode(bgrn, compression: .deflate) != expected.2 { failures.add() }
            } catch {
                failures.add()
            }
        }
        XCTAssertEqual(failures.value, 0)
        XCTAssertEqual(bgrn, smooth16())
        XCTAssertEqual(rgb, smooth8())
    }
}

/// A thread-safe tally for concurrentPerform.
private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}

/// The marker segments of a JPEG up to its first scan, read byte by byte (independent of libjpeg).
private struct JPEGSegments {
    /// Marker codes after SOI, up to and including SOS (0xDA).
    var markers: [UInt8] = []
    var hasJFIF = false
    var hasAdobe = false
    /// SOF: per component, id, sampling byte and quantisation table number.
    var frameComponents: [[UInt8]] = []
    /// SOS: per component, id and Huffman table byte.
    var scanComponents: [[UInt8]] = []
    /// Every DQT segment's payload.
    var quantizationTables: [[UInt8]] = []

    init(_ bytes: [UInt8]) {
        guard bytes.count > 4, bytes[0] == 0xFF, bytes[1] == 0xD8 else { return }
        var i = 2
        while i + 4 <= bytes.count, bytes[i] == 0xFF {
            let marker = bytes[i + 1]
            let length = Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
            guard length >= 2, i + 2 + length <= bytes.count else { return }
            let payload = Array(bytes[(i + 4)..<(i + 2 + length)])
            markers.append(marker)
            switch marker {
            case 0xE0: if payload.starts(with: Array("JFIF\0".utf8)) { hasJFIF = true }
            case 0xEE: if payload.starts(with: Array("Adobe".utf8)) { hasAdobe = true }
            case 0xDB: quantizationTables.append(payload)
            case 0xC0...0xC2:
                let count = Int(payload[5])
                frameComponents = (0..<count).map { Array(payload[(6 + 3 * $0)..<(9 + 3 * $0)]) }
            case 0xDA:
                let count = Int(payload[0])
                scanComponents = (0..<count).map { Array(payload[(1 + 2 * $0)..<(3 + 2 * $0)]) }
                return
            default: break
            }
            i += 2 + length
        }
    }
}

/// The first directory of a classic little-endian TIFF: tag → values (SHORT and LONG tags only),
/// read byte by byte (independent of libtiff).
private struct TIFFTags {
    var values: [Int: [Int]] = [:]

    init(_ bytes: [UInt8]) {
        func read(_ offset: Int, _ size: Int) -> Int {
            (0..<size).reduce(0) { $0 | Int(bytes[offset + $1]) << (8 * $1) }
        }
        guard bytes.count >= 8, bytes[0] == 0x49, bytes[1] == 0x49 else { return }
        let directory = read(4, 4)
        let count = read(directory, 2)
        for entry in 0..<count {
            let at = directory + 2 + 12 * entry
            let tag = read(at, 2), type = read(at + 2, 2), n = read(at + 4, 4)
            guard type == 3 || type == 4 else { continue }
            let size = type == 3 ? 2 : 4
            let base = n * size <= 4 ? at + 8 : read(at + 8, 4)
            values[tag] = (0..<n).map { read(base + $0 * size, size) }
        }
    }
}

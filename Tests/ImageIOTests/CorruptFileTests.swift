import Foundation
import ImageIO
import XCTest

/// A bad-file corpus made from the real sample files: truncations, bit flips, zeroed blocks, wrong
/// magic, bad CRCs, absurd declared sizes. Every file must end in a typed `ImageIOError` naming it
/// (or, for a bit flip that leaves a decodable stream, in a whole image), and the process goes on.
final class CorruptFileTests: XCTestCase {
    // Static, not instance properties: XCTest keeps every test case instance alive for the whole run,
    // which LeakSanitizer reports as leaks of whatever the instances hold.
    private static let jpegBytes = try! FileBytes.read(TestPaths.sample("train-jpg/train_3.jpg"))
    private static let tiffBytes = try! FileBytes.read(TestPaths.sample("train-tif-v2/train_3.tif"))
    private static let pngBytes: [UInt8] = {
        var values: [UInt8] = []
        for index in 0..<(64 * 48 * 3) {
            let value: Int = (index * 7 + index / 192) % 256
            values.append(UInt8(value))
        }
        return try! PNGCodec.encode(Image(width: 64, height: 48, bandOrder: .rgb, samples: .uint8(values)))
    }()
    private var jpeg: [UInt8] { Self.jpegBytes }
    private var tiff: [UInt8] { Self.tiffBytes }
    private var png: [UInt8] { Self.pngBytes }

    private enum Kind: String { case truncated, corrupt, unknownFormat, tooLarge, unsupported, cannotOpen, decoded }

    /// Decodes `bytes` as file `name`; returns what happened, asserting any error names the file.
    private func outcome(_ bytes: [UInt8], _ name: String, options: DecodeOptions = DecodeOptions(),
                         file: StaticString = #filePath, line: UInt = #line) -> Kind {
        do {
            let image = try ImageReader(options: options).decode(bytes, file: name)
            XCTAssertEqual(image.samples.count, image.width * image.height * image.bands, file: file, line: line)
            return .decoded
        } catch {
            XCTAssertEqual(error.file, name, file: file, line: line)
            XCTAssertTrue(error.description.hasPrefix(name + ": "), error.description, file: file, line: line)
            switch error.reason {
            case .truncated: return .truncated
            case .corrupt: return .corrupt
            case .unknownFormat: return .unknownFormat
            case .tooLarge: return .tooLarge
            case .unsupportedLayout: return .unsupported
            case .cannotOpen: return .cannotOpen
            default:
                XCTFail("\(name): unexpected \(error)", file: file, line: line)
                return .corrupt
            }
        }
    }

    func testTruncationsAtManyOffsets() {
        let signature = ["jpg": 3, "tif": 4, "png": 8]
        for (format, bytes) in [("jpg", jpeg), ("tif", tiff), ("png", png)] {
            let cuts = [1, 2, 3, 4, 7, 10, 50, 100, bytes.count / 4, bytes.count / 2, bytes.count * 3 / 4]
            for cut in cuts {
                let kind = outcome(Array(bytes.prefix(cut)), "cut-\(cut).\(format)")
                if cut < signature[format]! {
                    XCTAssertEqual(kind, .unknownFormat, "\(format) cut at \(cut)")
                } else {
                    XCTAssertTrue([.truncated, .corrupt].contains(kind), "\(format) cut at \(cut): \(kind)")
                }
            }
        }
        // Deterministic cases: a JPEG cut inside its entropy-coded data, a TIFF cut inside its pixel
        // strip, and a PNG cut inside IDAT are all `truncated`.
        XCTAssertEqual(outcome(Array(jpeg.prefix(jpeg.count / 2)), "half.jpg"), .truncated)
        XCTAssertEqual(outcome(Array(tiff.prefix(tiff.count / 2)), "half.tif"), .truncated)
        XCTAssertEqual(outcome(Array(png.prefix(png.count / 2)), "half.png"), .truncated)
    }

    /// Planet's JPEGs end without an EOI marker, after two zero bytes of padding; a reader must accept
    /// that (every real chip is like it). Cutting the padding changes nothing; cutting into the last
    /// entropy-coded bytes must not produce a silently different image.
    func testPlanetJPEGsEndWithoutEOI() throws {
        XCTAssertNotEqual(Array(jpeg.suffix(2)), [0xFF, 0xD9])
        let whole = try ImageReader().decode(jpeg, file: "whole.jpg")
        for cut in 1...8 {
            let kind = outcome(Array(jpeg.dropLast(cut)), "tail-\(cut).jpg")
            if kind == .decoded {
                XCTAssertEqual(try ImageReader().decode(Array(jpeg.dropLast(cut)), file: "tail.jpg"), whole, "cut \(cut) bytes")
            } else {
                XCTAssertTrue([.truncated, .corrupt].contains(kind), "cut \(cut) bytes: \(kind)")
            }
        }
    }

    func testRandomBitFlipsNeverCrash() {
        var random = SeededGenerator(seed: 17)
        var tally: [String: [Kind: Int]] = [:]
        for (format, bytes) in [("jpg", jpeg), ("tif", tiff), ("png", png)] {
            for mutant in 0..<150 {
                var copy = bytes
                for _ in 0..<(1 + Int(random.next() % 8)) {
                    let at = 4 + Int(random.next() % UInt64(copy.count - 4))  // keep the magic
                    copy[at] ^= UInt8(1 << (random.next() % 8))
                }
                let kind = outcome(copy, "flip-\(mutant).\(format)")
                tally[format, default: [:]][kind, default: 0] += 1
            }
        }
        print("bit flips: \(tally.mapValues { $0.map { "\($0.key.rawValue) \($0.value)" }.sorted() })")
    }

    func testZeroedBlocksAndEmptyFiles() {
        XCTAssertEqual(outcome([], "empty.jpg"), .unknownFormat)
        for (format, bytes) in [("jpg", jpeg), ("tif", tiff), ("png", png)] {
            var zeroed = bytes
            let start = bytes.count / 3
            for i in start..<min(start + 512, bytes.count) { zeroed[i] = 0 }
            let kind = outcome(zeroed, "zeroed.\(format)")
            // A TIFF's uncompressed pixels may legally be zero: the file decodes with a black band.
            XCTAssertTrue([.corrupt, .truncated, .decoded].contains(kind), "\(format): \(kind)")
        }
    }

    func testWrongMagicIsUnknownFormat() {
        var notJPEG = jpeg
        notJPEG[1] = 0x00
        XCTAssertEqual(outcome(notJPEG, "wrong-magic.jpg"), .unknownFormat)
        XCTAssertEqual(outcome(Array("hello, this is text, not pixels".utf8), "notes.png"), .unknownFormat)
        XCTAssertEqual(outcome(Array("GIF89a".utf8) + [UInt8](repeating: 0, count: 100), "old.gif"), .unknownFormat)
    }

    /// Offsets of each PNG chunk: (type, start of its length field, data length).
    private func chunks(_ bytes: [UInt8]) -> [(type: String, offset: Int, length: Int)] {
        var result: [(String, Int, Int)] = []
        var at = 8
        while at + 12 <= bytes.count {
            let length = bytes[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) }
            result.append((String(decoding: bytes[(at + 4)..<(at + 8)], as: UTF8.self), at, length))
            at += 12 + length
        }
        return result
    }

    func testPNGWithBadCRCs() {
        for type in ["IHDR", "IDAT"] {
            var copy = png
            let chunk = chunks(png).first { $0.type == type }!
            copy[chunk.offset + 8 + chunk.length] ^= 0xFF  // first CRC byte
            XCTAssertEqual(outcome(copy, "bad-crc-\(type).png"), .corrupt)
            XCTAssertThrowsError(try ImageReader().decode(copy, file: "x.png")) { error in
                XCTAssertTrue("\(error)".contains("CRC"), "\(error)")
            }
        }
    }

    /// Patches the little-endian TIFF's ImageWidth/ImageLength tags.
    private func tiffDeclaring(width: UInt32, height: UInt32) -> [UInt8] {
        var bytes = tiff
        XCTAssertEqual(Array(bytes.prefix(2)), [0x49, 0x49])
        let ifd = Int(bytes[4]) | Int(bytes[5]) << 8 | Int(bytes[6]) << 16 | Int(bytes[7]) << 24
        let entries = Int(bytes[ifd]) | Int(bytes[ifd + 1]) << 8
        for entry in 0..<entries {
            let at = ifd + 2 + 12 * entry
            let tag = Int(bytes[at]) | Int(bytes[at + 1]) << 8
            guard tag == 256 || tag == 257 else { continue }
            let value = tag == 256 ? width : height
            bytes[at + 2] = 4  // type LONG, so any size fits
            bytes[at + 3] = 0
            for k in 0..<4 { bytes[at + 8 + k] = UInt8((value >> (8 * UInt32(k))) & 0xFF) }
        }
        return bytes
    }

    func testTIFFDeclaringAbsurdDimensions() {
        XCTAssertEqual(outcome(tiffDeclaring(width: 1_000_000, height: 1_000_000), "huge.tif"), .tooLarge)
        XCTAssertEqual(outcome(tiffDeclaring(width: 20_000, height: 20_000), "big.tif"), .tooLarge)
        // Within the default limits but far larger than the data: libtiff finds the strip short.
        XCTAssertTrue([.truncated, .corrupt].contains(outcome(tiffDeclaring(width: 4000, height: 4000), "stretched.tif")))
        let budget = DecodeOptions(limits: DecodeLimits(maximumDimension: 16_384, maximumBytes: 1000))
        XCTAssertEqual(outcome(tiff, "budget.tif", options: budget), .tooLarge)
    }

    /// Patches the JPEG's start-of-frame height and width.
    private func jpegDeclaring(width: Int, height: Int) -> [UInt8] {
        var bytes = jpeg
        var at = 2
        while at + 9 < bytes.count {
            guard bytes[at] == 0xFF else { break }
            let marker = bytes[at + 1], length = Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
            if (0xC0...0xC2).contains(marker) {
                bytes[at + 5] = UInt8(height >> 8); bytes[at + 6] = UInt8(height & 0xFF)
                bytes[at + 7] = UInt8(width >> 8); bytes[at + 8] = UInt8(width & 0xFF)
                return bytes
            }
            at += 2 + length
        }
        XCTFail("no start-of-frame marker")
        return bytes
    }

    func testJPEGDeclaringHugeOrZeroSize() {
        XCTAssertEqual(outcome(jpegDeclaring(width: 60_000, height: 60_000), "huge.jpg"), .tooLarge)
        XCTAssertEqual(outcome(jpegDeclaring(width: 256, height: 0), "zero.jpg"), .corrupt)
        let budget = DecodeOptions(limits: DecodeLimits(maximumDimension: 100))
        XCTAssertEqual(outcome(jpeg, "limited.jpg", options: budget), .tooLarge)
    }

    func testMissingFilesAndFolders() {
        for path in ["/no/such/chip.jpg", TestPaths.planetSample.path] {
            XCTAssertThrowsError(try ImageReader().read(path)) { error in
                guard let error = error as? ImageIOError, case .cannotOpen = error.reason else { return XCTFail("\(error)") }
                XCTAssertEqual(error.file, path)
                XCTAssertTrue(error.description.contains(path))
            }
        }
    }

    func testReaderRecoversAfterAnError() throws {
        let reader = ImageReader()
        for _ in 0..<3 {
            XCTAssertThrowsError(try reader.decode(Array(jpeg.prefix(jpeg.count / 2)), file: "cut.jpg"))
            XCTAssertThrowsError(try reader.decode(jpegDeclaring(width: 60_000, height: 60_000), file: "huge.jpg"))
            let image = try reader.decode(jpeg, file: "good.jpg")
            XCTAssertEqual([image.width, image.height, image.bands], [256, 256, 3])
        }
    }
}

/// SplitMix64, so the corpus is the same on every run.
struct SeededGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

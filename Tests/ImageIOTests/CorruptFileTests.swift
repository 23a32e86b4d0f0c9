import Foundation
import ImageIO
import XCTest

/// A bad-file corpus made from the real sample files: truncations, bit flips, zeroed blocks, wrong
/// magic, bad CRCs, absurd declared sizes. Every file must end in a typed `ImageIOError` naming it
/// (or, for damage that leaves a decodable stream, in a whole image), and the process goes on. Where
/// a file's outcome follows from something other than Canopy's decoder (libjpeg-turbo's djpeg, the
/// PNG chunks' CRCs, the TIFF strip's raw bytes), the test holds that exact outcome.
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
        decodeOutcome(bytes, name, options: options, file: file, line: line).kind
    }

    /// As `outcome`, with the image when it decodes.
    private func decodeOutcome(_ bytes: [UInt8], _ name: String, options: DecodeOptions = DecodeOptions(),
                               file: StaticString = #filePath, line: UInt = #line) -> (kind: Kind, image: Image?) {
        do {
            let image = try ImageReader(options: options).decode(bytes, file: name)
            XCTAssertEqual(image.samples.count, image.width * image.height * image.bands, file: file, line: line)
            return (.decoded, image)
        } catch {
            XCTAssertEqual(error.file, name, file: file, line: line)
            XCTAssertTrue(error.description.hasPrefix(name + ": "), error.description, file: file, line: line)
            switch error.reason {
            case .truncated: return (.truncated, nil)
            case .corrupt: return (.corrupt, nil)
            case .unknownFormat: return (.unknownFormat, nil)
            case .tooLarge: return (.tooLarge, nil)
            case .unsupportedLayout: return (.unsupported, nil)
            case .cannotOpen: return (.cannotOpen, nil)
            default:
                XCTFail("\(name): unexpected \(error)", file: file, line: line)
                return (.corrupt, nil)
            }
        }
    }

    /// Every cut past the signature is a truncated file. JPEG: djpeg says "Premature end of JPEG file"
    /// at each of these cuts (scripts/test-values/jpeg_bit_flips.py); TIFF: the file ends inside its
    /// 8-byte header, its directory (bytes 8 to 304) or its pixel strip; PNG: inside a chunk (the
    /// chunk walk of `expectedPNG`).
    func testTruncationsAtManyOffsets() {
        let signature = ["jpg": 3, "tif": 4, "png": 8]
        for (format, bytes) in [("jpg", jpeg), ("tif", tiff), ("png", png)] {
            let cuts = [1, 2, 3, 4, 7, 10, 50, 100, bytes.count / 4, bytes.count / 2, bytes.count * 3 / 4]
            for cut in cuts {
                let kind = outcome(Array(bytes.prefix(cut)), "cut-\(cut).\(format)")
                let expected = cut < signature[format]! ? Kind.unknownFormat.rawValue
                    : format == "png" ? expectedPNG(Array(bytes.prefix(cut))) : Kind.truncated.rawValue
                XCTAssertEqual(kind.rawValue, expected, "\(format) cut at \(cut)")
            }
        }
        // The PNG cuts past the signature all end inside a chunk.
        XCTAssertEqual(expectedPNG(Array(png.prefix(10))), Kind.truncated.rawValue)
        XCTAssertEqual(outcome(Array(jpeg.prefix(jpeg.count / 2)), "half.jpg"), .truncated)
        XCTAssertEqual(outcome(Array(tiff.prefix(tiff.count / 2)), "half.tif"), .truncated)
        XCTAssertEqual(outcome(Array(png.prefix(png.count / 2)), "half.png"), .truncated)
    }

    /// Planet's JPEGs end without an EOI marker, after two zero bytes of padding; a reader must accept
    /// that (every real chip is like it). Dropping up to 8 of the last bytes changes nothing: djpeg
    /// decodes each such file to the whole file's pixels, without a warning.
    func testPlanetJPEGsEndWithoutEOI() throws {
        XCTAssertNotEqual(Array(jpeg.suffix(2)), [0xFF, 0xD9])
        XCTAssertEqual(Array(jpeg.suffix(2)), [0x00, 0x00])
        let whole = try ImageReader().decode(jpeg, file: "whole.jpg")
        for cut in 1...8 {
            XCTAssertEqual(outcome(Array(jpeg.dropLast(cut)), "tail-\(cut).jpg"), .decoded, "cut \(cut) bytes")
            XCTAssertEqual(try ImageReader().decode(Array(jpeg.dropLast(cut)), file: "tail.jpg"), whole, "cut \(cut) bytes")
        }
    }

    /// `WxHxBANDS` and a hash of the samples (`fnv1aWords` of their bytes) for an 8-bit image that
    /// decodes, else the kind of error.
    private func described(_ bytes: [UInt8], _ name: String) -> String {
        let (kind, image) = decodeOutcome(bytes, name)
        guard let image else { return kind.rawValue }
        guard case .uint8(let values) = image.samples else { return "\(name): 16-bit samples" }
        let digits = String(values.withUnsafeBytes { fnv1aWords($0) }, radix: 16)
        return "\(image.width)x\(image.height)x\(image.bands) " + String(repeating: "0", count: 16 - digits.count) + digits
    }

    /// A TIFF mutant whose changed bytes (`flipped`) all lie in the pixel strip must decode to the
    /// strip's bytes read as little-endian 16-bit samples (B,G,R,N interleaved, as stored).
    private func checkTIFF(_ bytes: [UInt8], _ name: String, flipped: [Int]) {
        let strip = 304, length = 256 * 256 * 4 * 2  // train_3.tif: one uncompressed strip at 304 (StripOffsets, StripByteCounts)
        XCTAssertEqual(bytes.count, strip + length)
        XCTAssertTrue(flipped.allSatisfy { $0 >= strip }, "\(name): a flip in the TIFF header, no expectation for \(flipped)")
        let (kind, image) = decodeOutcome(bytes, name)
        XCTAssertEqual(kind, .decoded, name)
        guard let image, case .uint16(let values) = image.samples else { return XCTFail("\(name): no 16-bit image") }
        XCTAssertEqual([image.width, image.height, image.bands], [256, 256, 4], name)
        XCTAssertEqual(1.littleEndian, 1, "compared as little-endian bytes")
        let same = values.withUnsafeBytes { decoded in
            bytes[strip...].withUnsafeBytes { stored in decoded.count == stored.count && memcmp(decoded.baseAddress!, stored.baseAddress!, stored.count) == 0 }
        }
        XCTAssertTrue(same, "\(name): samples differ from the strip's bytes (flips at \(flipped))")
    }

    /// A PNG mutant by the format's rules: a changed signature is not PNG; IHDR must come first with 13
    /// bytes of data; then, chunk by chunk in file order, a length over 2³¹ − 1, a type that is not
    /// 4 letters or a CRC-32 (computed here) that does not match makes the file corrupt, and a chunk
    /// running past the end makes it truncated.
    private func expectedPNG(_ bytes: [UInt8]) -> String {
        guard bytes.prefix(8).elementsEqual([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) else { return Kind.unknownFormat.rawValue }
        func word(_ at: Int) -> Int { bytes[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) } }
        let isLetter = { (byte: UInt8) in (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) }
        guard bytes.count >= 16 else { return Kind.truncated.rawValue }
        guard word(8) == 13, bytes[12..<16].elementsEqual(Array("IHDR".utf8)) else { return Kind.corrupt.rawValue }
        var at = 8
        while at < bytes.count {
            guard at + 8 <= bytes.count else { return Kind.truncated.rawValue }
            let length = word(at)
            guard length <= Int(Int32.max), bytes[(at + 4)..<(at + 8)].allSatisfy(isLetter) else { return Kind.corrupt.rawValue }
            guard at + 12 + length <= bytes.count else { return Kind.truncated.rawValue }
            guard crc32(bytes[(at + 4)..<(at + 8 + length)]) == UInt32(word(at + 8 + length)) else { return Kind.corrupt.rawValue }
            at += 12 + length
        }
        XCTFail("every chunk of the mutant is valid")
        return ""
    }

    /// 1 to 8 random bits flipped (never in the first 4 bytes), 150 files per format, each with its
    /// expected outcome from a source that is not Canopy's decoder: djpeg for the JPEGs
    /// (`jpegFlips`), the strip's own bytes for the TIFFs, the chunks' CRCs for the PNGs.
    func testRandomBitFlipsEndInTheirExpectedOutcome() {
        var random = SeededGenerator(seed: 17)
        var tally: [String: [String: Int]] = [:]
        XCTAssertEqual(Self.jpegFlips.count, 150)
        for (format, bytes) in [("jpg", jpeg), ("tif", tiff), ("png", png)] {
            for mutant in 0..<150 {
                var copy = bytes
                var flipped: [Int] = []
                for _ in 0..<(1 + Int(random.next() % 8)) {
                    let at = 4 + Int(random.next() % UInt64(copy.count - 4))  // keep the magic
                    copy[at] ^= UInt8(1 << (random.next() % 8))
                    flipped.append(at)
                }
                let name = "flip-\(mutant).\(format)"
                let expected: String
                switch format {
                case "jpg":
                    expected = Self.jpegFlips[mutant]
                    XCTAssertEqual(described(copy, name), expected, "\(name): bytes flipped at \(flipped)")
                case "tif":
                    expected = "256x256x4"
                    checkTIFF(copy, name, flipped: flipped)
                default:
                    expected = expectedPNG(copy)
                    XCTAssertEqual(described(copy, name), expected, "\(name): bytes flipped at \(flipped)")
                }
                tally[format, default: [:]][String(expected.split(separator: " ")[0]), default: 0] += 1
            }
        }
        // The corpus exercises each path: decodes, and failures of each kind these formats produce.
        XCTAssertEqual(tally["jpg"], ["256x256x3": 106, "corrupt": 44])
        XCTAssertEqual(tally["tif"], ["256x256x4": 150])
        XCTAssertEqual(tally["png"], ["corrupt": 144, "unknownFormat": 5, "truncated": 1])
    }

    /// What each JPEG of the bit-flip corpus must give (`WxHxBANDS HASH` of its RGB samples, or the
    /// error kind), from libjpeg-turbo's djpeg: printed by scripts/test-values/jpeg_bit_flips.py.
    private static let jpegFlips: [String] = [
        "corrupt",  // 0: Bogus Huffman table definition
        "corrupt",  // 1: Corrupt JPEG data: premature end of data segment
        "256x256x3 6e4beeafbddc809a",  // 2
        "256x256x3 f49269e09ff3c40d",  // 3
        "256x256x3 5eba295fd50ebaee",  // 4
        "256x256x3 7bb86c7ab44ddbed",  // 5
        "256x256x3 4ee8f25cb8087db5",  // 6
        "256x256x3 71268f882e7e4299",  // 7
        "256x256x3 659e8f4b6a4bd59e",  // 8
        "256x256x3 4638b2b38955d272",  // 9
        "corrupt",  // 10: Corrupt JPEG data: premature end of data segment
        "256x256x3 4a9e1ec33f46f17b",  // 11
        "corrupt",  // 12: Corrupt JPEG data: premature end of data segment
        "corrupt",  // 13: Bogus Huffman table definition
        "256x256x3 9cbfaaa925a5671d",  // 14
        "256x256x3 37cbafdbe9837302",  // 15
        "256x256x3 e809bb5fb6667f32",  // 16
        "256x256x3 4b56534d4b066768",  // 17
        "256x256x3 dffbaafb491843ed",  // 18
        "corrupt",  // 19: Corrupt JPEG data: premature end of data segment
        "256x256x3 8b5444480579a4bc",  // 20
        "corrupt",  // 21: Corrupt JPEG data: premature end of data segment
        "corrupt",  // 22: Corrupt JPEG data: premature end of data segment
        "corrupt",  // 23: Corrupt JPEG data: premature end of data segment
        "256x256x3 a2e8a8c25fa2356a",  // 24
        "corrupt",  // 25: Corrupt JPEG data: premature end of data segment
        "256x256x3 d55dace357c7e9b0",  // 26
        "256x256x3 256ad6793445515b",  // 27
        "256x256x3 2002b3dbd8dfa137",  // 28
        "corrupt",  // 29: Corrupt JPEG data: premature end of data segment
        "corrupt",  // 30: Corrupt JPEG data: premature end of data segment
        "256x256x3 4c444dfba450d7bd",  // 31
        "256x256x3 61edd9da809ae1a9",  // 32
        "256x256x3 f854feadb7159b6a",  // 33
        "256x256x3 228304ca3020d8f5",  // 34
        "256x256x3 6d3f0d6530c1f590",  // 35
        "256x256x3 b340cbd5269775f9",  // 36
        "corrupt",  // 37: Corrupt JPEG data: premature end of data segment
        "256x256x3 5c60dd3828690513",  // 38
        "256x256x3 789cf216874f99d9",  // 39
        "256x256x3 abe9c58d246573e6",  // 40
        "256x256x3 34640de4175c91f0",  // 41
        "corrupt",  // 42: Corrupt JPEG data: premature end of data segment
        "corrupt",  // 43: Corrupt JPEG data: premature end of data segment
        "256x256x3 113e406f1cdadb74",  // 44
        "256x256x3 37bf8c933058f927",  // 45
        "256x256x3 c46a07c2a827a572",  // 46
        "256x256x3 9d8fcd3dad2e5cc1",  // 47
        "256x256x3 40b6cc3b76741042",  // 48
        "256x256x3 ee38c25cc349f8e8",  // 49
        "corrupt",  // 50: Corrupt JPEG data: premature end of data segment
        "256x256x3 d91f7b363afdd67a",  // 51
        "corrupt",  // 52: Corrupt JPEG data: premature end of data segment
        "256x256x3 f55993341638e86b",  // 53
        "corrupt",  // 54: Corrupt JPEG data: premature end of data segment
        "corrupt",  // 55: Corrupt JPEG data: premature end of data segment
        "256x256x3 0fe9934f6768d7c8",  // 56
        "corrupt",  // 57: Corrupt JPEG data: premature end of data segment
        "256x256x3 a1dded2077984002",  // 58
        "256x256x3 81c4db01bfb09e12",  // 59
        "corrupt",  // 60: Corrupt JPEG data: premature end of data segment
        "256x256x3 e8effc6d8a31e888",  // 61
        "256x256x3 f8db09cff3254dfb",  // 62
        "256x256x3 7e860cfa0b00ec50",  // 63
        "256x256x3 eb9929f385fbd800",  // 64
        "256x256x3 54d7bd03ae501ba6",  // 65
        "256x256x3 970cc4964f42c8f8",  // 66
        "corrupt",  // 67: Corrupt JPEG data: premature end of data segment
        "256x256x3 c87e245e45f6ff95",  // 68
        "256x256x3 292ddd496b07aa5e",  // 69
        "256x256x3 d94ab35e7ee49fdb",  // 70
        "corrupt",  // 71: Corrupt JPEG data: premature end of data segment
        "256x256x3 99f0fad4fe0c2b20",  // 72
        "corrupt",  // 73: Corrupt JPEG data: premature end of data segment
        "256x256x3 86bcf662389a8ec2",  // 74
        "256x256x3 58c02d8cc7985fc3",  // 75: djpeg warns "Corrupt JPEG data: bad Huffman code"
        "corrupt",  // 76: Bogus Huffman table definition
        "256x256x3 06512eb154402c53",  // 77
        "256x256x3 f673f4f5b634d4fd",  // 78
        "256x256x3 f8bba716e4df7cb9",  // 79
        "corrupt",  // 80: Corrupt JPEG data: premature end of data segment
        "256x256x3 80a3c9b2fd8abd1c",  // 81
        "256x256x3 53e110dc24757290",  // 82
        "corrupt",  // 83: Corrupt JPEG data: premature end of data segment
        "corrupt",  // 84: Corrupt JPEG data: premature end of data segment
        "256x256x3 8a90bfadb9dfba24",  // 85
        "256x256x3 882de871af0e46a5",  // 86
        "256x256x3 b09d1cde645df583",  // 87
        "corrupt",  // 88: Corrupt JPEG data: premature end of data segment
        "corrupt",  // 89: Corrupt JPEG data: premature end of data segment
        "256x256x3 1c9362ea2500ceb4",  // 90
        "corrupt",  // 91: Corrupt JPEG data: premature end of data segment
        "corrupt",  // 92: Corrupt JPEG data: premature end of data segment
        "corrupt",  // 93: Corrupt JPEG data: premature end of data segment
        "256x256x3 1bf5abbfbbbc67f4",  // 94
        "256x256x3 3de03cd0af48300f",  // 95
        "256x256x3 48031399cb532d5e",  // 96
        "256x256x3 0dd20dc263987f6b",  // 97
        "corrupt",  // 98: Corrupt JPEG data: premature end of data segment
        "256x256x3 bb90acf83cf5b7ec",  // 99
        "corrupt",  // 100: Corrupt JPEG data: premature end of data segment
        "corrupt",  // 101: Corrupt JPEG data: premature end of data segment
        "256x256x3 90af2216481d92c7",  // 102
        "256x256x3 544063351fcbc2a5",  // 103
        "256x256x3 1fb3bbad13c95c83",  // 104
        "corrupt",  // 105: Bogus Huffman table definition
        "256x256x3 ea11eca37bdb5e87",  // 106
        "256x256x3 6d2819b79abfe624",  // 107
        "corrupt",  // 108: Corrupt JPEG data: premature end of data segment
        "256x256x3 4d4cdedd436b8c0a",  // 109
        "256x256x3 684a20cb8e35bbfb",  // 110
        "256x256x3 d24d6cb0ae257e38",  // 111
        "256x256x3 08839d5eaa8c4892",  // 112
        "256x256x3 f8f222977bc7c20e",  // 113
        "256x256x3 bebe05ce4f1cce11",  // 114
        "corrupt",  // 115: Corrupt JPEG data: premature end of data segment
        "256x256x3 1e5fbd62cb8fcc24",  // 116
        "256x256x3 0ef5a2f8170db359",  // 117
        "256x256x3 84b10c2cc26e02ab",  // 118: djpeg warns "Corrupt JPEG data: bad Huffman code"
        "256x256x3 460ef42aa8949b97",  // 119
        "256x256x3 da9114f717bc8096",  // 120
        "256x256x3 8827b905015a11a0",  // 121
        "256x256x3 8ac4ad5e8a3c641d",  // 122
        "256x256x3 6db217e854f47274",  // 123
        "corrupt",  // 124: Corrupt JPEG data: premature end of data segment
        "256x256x3 5efc877edecc80d6",  // 125
        "256x256x3 4d718ad43f2124c3",  // 126
        "256x256x3 3adae57745054e96",  // 127
        "256x256x3 60a2c2619633292c",  // 128
        "256x256x3 3f2b14c49b3c2fb4",  // 129
        "256x256x3 74d4efbbe0e32b92",  // 130
        "256x256x3 b6c57966408a6cb2",  // 131
        "256x256x3 0ffc18bb3c8706d8",  // 132
        "256x256x3 575612075a50eab8",  // 133
        "256x256x3 883921845f305c55",  // 134
        "256x256x3 472ecbd098471fe6",  // 135
        "256x256x3 03ed53359d10320b",  // 136
        "256x256x3 a852dee23c312e83",  // 137
        "256x256x3 cb1e013a6eebfabe",  // 138
        "256x256x3 b641c1dbc7c6e608",  // 139
        "256x256x3 cfe66c6d3671302d",  // 140
        "corrupt",  // 141: Corrupt JPEG data: premature end of data segment
        "256x256x3 92846ddd73514293",  // 142
        "256x256x3 9040d1e0bb6bc33d",  // 143
        "256x256x3 f616614cd0ea32fd",  // 144
        "corrupt",  // 145: Corrupt JPEG data: premature end of data segment
        "256x256x3 7551102af2c9d062",  // 146
        "corrupt",  // 147: Corrupt JPEG data: premature end of data segment
        "corrupt",  // 148: Corrupt JPEG data: premature end of data segment
        "256x256x3 04c8beef7eb6b12a",  // 149
    ]

    /// 512 bytes zeroed a third of the way in: in the JPEG's entropy-coded data djpeg finds "premature
    /// end of data segment" (corrupt); in the TIFF's strip they are legal pixels, read as zeros; in
    /// the PNG's IDAT they break its CRC (corrupt).
    func testZeroedBlocksAndEmptyFiles() {
        XCTAssertEqual(outcome([], "empty.jpg"), .unknownFormat)
        for (format, bytes) in [("jpg", jpeg), ("tif", tiff), ("png", png)] {
            var zeroed = bytes
            let start = bytes.count / 3
            for i in start..<min(start + 512, bytes.count) { zeroed[i] = 0 }
            switch format {
            case "jpg": XCTAssertEqual(outcome(zeroed, "zeroed.jpg"), .corrupt)
            case "tif": checkTIFF(zeroed, "zeroed.tif", flipped: Array(start..<(start + 512)))
            default:
                XCTAssertEqual(expectedPNG(zeroed), Kind.corrupt.rawValue)
                XCTAssertEqual(outcome(zeroed, "zeroed.png"), .corrupt)
            }
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

/// FNV-1a 64 over little-endian 64-bit words rather than bytes (8 times fewer steps in a debug
/// build); `bytes` holds a whole number of words.
func fnv1aWords(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
    precondition(bytes.count % 8 == 0)
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for offset in stride(from: 0, to: bytes.count, by: 8) {
        hash = (hash ^ UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))) &* 0x100_0000_01B3
    }
    return hash
}

/// CRC-32 (ISO-HDLC, as PNG uses), bit by bit.
func crc32<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    return ~crc
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

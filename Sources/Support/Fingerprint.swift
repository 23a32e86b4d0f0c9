import Foundation

/// A 64-bit FNV-1a hash of text, printed as 16 hex digits: the cache key of a pipeline stage (its
/// inputs and settings, written canonically), of a fold's checkpoints, and of the chip set
/// normalisation statistics were computed on. Not a cryptographic hash; it only has
/// to tell one run's inputs from another's.
public struct Fingerprint: Equatable, Sendable, CustomStringConvertible {
    public private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325

    public init() {}

    public init(_ parts: String...) {
        for part in parts { add(part) }
    }

    public mutating func add(_ text: String) {
        for byte in text.utf8 { mix(byte) }
        mix(0x1F)  // a separator, so ("ab", "c") and ("a", "bc") differ
    }

    public mutating func add(bytes: [UInt8]) {
        for byte in bytes { mix(byte) }
        mix(0x1F)
    }

    /// Any Encodable value, as JSON with sorted keys.
    public mutating func add<T: Encodable>(_ value: T) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        add(bytes: Array((try? encoder.encode(value)) ?? Data("unencodable".utf8)))
    }

    private mutating func mix(_ byte: UInt8) {
        value ^= UInt64(byte)
        value = value &* 0x0000_0100_0000_01B3
    }

    public var description: String { String(format: "%016llx", value) }
}

extension Fingerprint {
    /// FNV-1a 64 of a file's bytes, 8 lanes at a time (one lane per byte position mod 8, folded
    /// together at the end): a content hash fast enough for every chip of a dataset. Nil when the
    /// file cannot be read.
    public static func contentHash(ofFile path: String) -> String? {
        guard let bytes = try? AtomicFile.read(path) else { return nil }
        return contentHash(bytes)
    }

    public static func contentHash(_ bytes: [UInt8]) -> String {
        var lanes = [UInt64](repeating: 0xCBF2_9CE4_8422_2325, count: 8)
        let prime: UInt64 = 0x0000_0100_0000_01B3
        bytes.withUnsafeBufferPointer { buffer in
            lanes.withUnsafeMutableBufferPointer { lane in
                let whole = buffer.count / 8 * 8
                var i = 0
                while i < whole {
                    for k in 0..<8 { lane[k] = (lane[k] ^ UInt64(buffer[i + k])) &* prime }
                    i += 8
                }
                while i < buffer.count { lane[i % 8] = (lane[i % 8] ^ UInt64(buffer[i])) &* prime; i += 1 }
            }
        }
        var f = Fingerprint()
        f.add(String(bytes.count))
        for lane in lanes { f.add(String(lane, radix: 16)) }
        return f.description
    }
}

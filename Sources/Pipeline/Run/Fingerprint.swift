import Foundation

/// A 64-bit FNV-1a hash of text, printed as 16 hex digits: the cache key of a stage (its inputs and
/// settings, written canonically) and of a fold's checkpoints. Not a cryptographic hash; it only has
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

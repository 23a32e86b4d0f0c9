import Foundation
import Support

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

/// The content hash of every chip file, kept in the results folder (`chip-hashes.tsv`: path, size,
/// modification time, hash) so a file is read again only when its size or modification time changed.
/// A chip's cache identity is its content, so a file rewritten with the same bytes (restored from a
/// backup, copied, touched) keeps every result.
final class ChipHashes {
    struct Entry { var size: Int64; var modified: String; var hash: String }
    let file: String
    private var entries: [String: Entry] = [:]
    private var changed = false

    init(file: String) {
        self.file = file
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return }
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count == 4, let size = Int64(fields[1]) else { continue }
            entries[String(fields[0])] = Entry(size: size, modified: String(fields[2]), hash: String(fields[3]))
        }
    }

    /// The hash of the file at `path` ("missing" when it cannot be read).
    func hash(_ path: String) -> String {
        var info = stat()
        guard stat(path, &info) == 0 else { return "missing" }
        let modified = "\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
        if let entry = entries[path], entry.size == Int64(info.st_size), entry.modified == modified { return entry.hash }
        let hash = Fingerprint.contentHash(ofFile: path) ?? "unreadable"
        entries[path] = Entry(size: Int64(info.st_size), modified: modified, hash: hash)
        changed = true
        return hash
    }

    func save() throws {
        guard changed else { return }
        let lines = entries.keys.sorted().map { path -> String in
            let e = entries[path]!
            return "\(path)\t\(e.size)\t\(e.modified)\t\(e.hash)"
        }
        try AtomicFile.write(Array((lines.joined(separator: "\n") + "\n").utf8), to: file)
        changed = false
    }
}

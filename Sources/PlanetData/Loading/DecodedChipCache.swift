import Foundation
import ImageIO

/// Chips a loader has decoded, kept from epoch to epoch so that later epochs skip the file read and
/// the decoder: the files' samples at the decoded size (for an 8-bit JPEG a quarter of its planes'
/// bytes), keyed by the chip's name, so a chip that rare-label oversampling lists three times is held
/// once. Up to `limit` bytes; chips past it are decoded every time, as without a cache. Augmentation
/// and normalisation run on every use: an epoch's batches are the same with or without it.
/// Shared by a loader's workers (a lock around the table).
public final class DecodedChipCache: @unchecked Sendable {
    public let limit: Int
    private let lock = NSLock()
    private var chips: [String: DecodedChip] = [:]
    private var held = 0

    public init(limit: Int) {
        precondition(limit >= 0, "a cache limit of \(limit) bytes")
        self.limit = limit
    }

    /// Bytes of samples held now.
    public var byteCount: Int {
        lock.lock(); defer { lock.unlock() }
        return held
    }

    /// Chips held now.
    public var count: Int {
        lock.lock(); defer { lock.unlock() }
        return chips.count
    }

    /// The chip's decoded files: the kept ones, else `decode()`'s, kept while they fit.
    func decoded(_ name: String, _ decode: () throws(ImageIOError) -> DecodedChip) throws(ImageIOError) -> DecodedChip {
        lock.lock()
        let kept = chips[name]
        lock.unlock()
        if let kept { return kept }
        let made = try decode()
        let bytes = made.byteCount
        lock.lock()
        if chips[name] == nil && held + bytes <= limit {
            chips[name] = made
            held += bytes
        }
        lock.unlock()
        return made
    }
}

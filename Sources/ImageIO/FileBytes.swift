import Support

/// Whole-file reads for images, with errors that name the file.
public enum FileBytes {
    /// The bytes of the file at `path`; at most `limit` bytes are accepted.
    public static func read(_ path: String, limit: Int = 1 << 31) throws(ImageIOError) -> [UInt8] {
        do {
            return try AtomicFile.read(path, limit: limit)
        } catch {
            throw ImageIOError(file: path, reason: .cannotOpen(error.reason))
        }
    }
}

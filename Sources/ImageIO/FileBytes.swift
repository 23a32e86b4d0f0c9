#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole-file reads and crash-safe writes, with errors that name the file.
public enum FileBytes {
    /// The bytes of the file at `path`; at most `limit` bytes are accepted.
    public static func read(_ path: String, limit: Int = 1 << 31) throws(ImageIOError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ImageIOError(file: path, reason: .cannotOpen(errnoText())) }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw ImageIOError(file: path, reason: .cannotOpen(errnoText())) }
        guard (status.st_mode & S_IFMT) == S_IFREG else { throw ImageIOError(file: path, reason: .cannotOpen("not a regular file")) }
        let size = Int(status.st_size)
        guard size <= limit else { throw ImageIOError(file: path, reason: .cannotOpen("\(size) bytes, over the \(limit)-byte limit")) }
        var failure: String?
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            var done = 0
            while done < size {
                let n = Glibc.read(fd, buffer.baseAddress! + done, size - done)
                if n < 0 && errno == EINTR { continue }
                if n < 0 { failure = errnoText(); break }
                if n == 0 { break }  // the file shrank while we read it
                done += n
            }
            initialized = done
        }
        if let failure { throw ImageIOError(file: path, reason: .cannotOpen(failure)) }
        return bytes
    }

    /// Writes `bytes` to `path` through a temporary file in the same folder, flushed and renamed,
    /// so `path` holds either its old contents or the new ones, never a part.
    public static func writeAtomically(_ bytes: [UInt8], to path: String) throws(ImageIOError) {
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ImageIOError(file: path, reason: .cannotWrite(errnoText())) }
        var failure: String?
        bytes.withUnsafeBytes { buffer in
            var done = 0
            while done < buffer.count {
                let n = write(fd, buffer.baseAddress! + done, buffer.count - done)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { failure = errnoText(); return }
                done += n
            }
        }
        if failure == nil && fsync(fd) != 0 { failure = errnoText() }
        if close(fd) != 0 && failure == nil { failure = errnoText() }
        if failure == nil && rename(temporary, path) != 0 { failure = errnoText() }
        if let failure {
            unlink(temporary)
            throw ImageIOError(file: path, reason: .cannotWrite(failure))
        }
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }
}

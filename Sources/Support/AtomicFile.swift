#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a file could not be read or written; `path` names it, `reason` is the system's words.
public struct FileError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Operation: Sendable { case read, write }
    public var path: String
    public var operation: Operation
    public var reason: String

    public init(path: String, operation: Operation, reason: String) {
        self.path = path
        self.operation = operation
        self.reason = reason
    }

    public var description: String { "\(path): cannot \(operation == .read ? "read" : "write"): \(reason)" }
}

/// Whole-file reads and crash-safe writes.
public enum AtomicFile {
    /// The bytes of the regular file at `path`; files over `limit` bytes are refused before reading.
    public static func read(_ path: String, limit: Int = 1 << 34) throws(FileError) -> [UInt8] {
        func failure(_ reason: String) -> FileError { FileError(path: path, operation: .read, reason: reason) }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failure(errnoText()) }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw failure(errnoText()) }
        guard (status.st_mode & S_IFMT) == S_IFREG else { throw failure("not a regular file") }
        let size = Int(status.st_size)
        guard size <= limit else { throw failure("\(size) bytes, over the \(limit)-byte limit") }
        var error: String?
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            var done = 0
            while done < size {
                let n = Glibc.read(fd, buffer.baseAddress! + done, size - done)
                if n < 0 && errno == EINTR { continue }
                if n < 0 { error = errnoText(); break }
                if n == 0 { break }  // the file shrank while being read
                done += n
            }
            initialized = done
        }
        if let error { throw failure(error) }
        return bytes
    }

    /// Writes `bytes` to `path` through a temporary file in the same folder, flushed to disk and then
    /// renamed over `path`: a crash leaves either the old file or the new one, never a part.
    public static func write(_ bytes: [UInt8], to path: String) throws(FileError) {
        // withUnsafeBytes rethrows untyped errors: carry the typed one out in a Result.
        let result = bytes.withUnsafeBytes { buffer in Result { () throws(FileError) in try write(buffer, to: path) } }
        try result.get()
    }

    public static func write(_ buffer: UnsafeRawBufferPointer, to path: String) throws(FileError) {
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileError(path: path, operation: .write, reason: errnoText()) }
        var error: String?
        var done = 0
        while done < buffer.count {
            let n = Glibc.write(fd, buffer.baseAddress! + done, buffer.count - done)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { error = errnoText(); break }
            done += n
        }
        if error == nil && fsync(fd) != 0 { error = errnoText() }
        if close(fd) != 0 && error == nil { error = errnoText() }
        if error == nil && rename(temporary, path) != 0 { error = errnoText() }
        if let error {
            unlink(temporary)
            throw FileError(path: path, operation: .write, reason: error)
        }
        syncFolder(of: path)
    }

    /// Makes the rename itself durable.
    private static func syncFolder(of path: String) {
        let folder = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        let fd = open(folder.isEmpty ? "/" : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }
}

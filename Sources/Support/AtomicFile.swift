#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a file could not be read or written; `path` names it, `reason` is the system's words.
public struct FileError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Operation: Sendable { case read, write, createFolder }
    public var path: String
    public var operation: Operation
    public var reason: String

    public init(path: String, operation: Operation, reason: String) {
        self.path = path
        self.operation = operation
        self.reason = reason
    }

    public var description: String {
        let what = switch operation {
        case .read: "read"
        case .write: "write"
        case .createFolder: "create folder"
        }
        return "\(path): cannot \(what): \(reason)"
    }
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
        let writer = try AtomicFileWriter(path: path)
        try writer.write(buffer)
        try writer.commit()
    }

    /// Makes the rename itself durable.
    static func syncFolder(of path: String) {
        let folder = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        let fd = open(folder.isEmpty ? "/" : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}

/// A file written piece by piece (a table of 100,000 predictions, say) with `AtomicFile.write`'s
/// guarantee: the pieces go to `NAME.tmp-PID` beside it, and `commit()` flushes that to disk and
/// renames it over `path`. A writer dropped without `commit()` (an error on the way) removes its
/// temporary file, and `path` keeps whatever it held before.
public final class AtomicFileWriter {
    public let path: String
    private let temporary: String
    private var fd: Int32
    private var committed = false

    public init(path: String) throws(FileError) {
        self.path = path
        temporary = path + ".tmp-\(getpid())"
        fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileError(path: path, operation: .write, reason: AtomicFile.errnoText()) }
        CrashPoints.reached("\(temporary) opened")
    }

    public func write(_ bytes: [UInt8]) throws(FileError) {
        let result = bytes.withUnsafeBytes { buffer in Result { () throws(FileError) in try write(buffer) } }
        try result.get()
    }

    public func write(_ buffer: UnsafeRawBufferPointer) throws(FileError) {
        precondition(!committed, "write after commit")
        var done = 0
        while done < buffer.count {
            let n = Glibc.write(fd, buffer.baseAddress! + done, buffer.count - done)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { throw fail(AtomicFile.errnoText()) }
            done += n
        }
    }

    /// Flushes, closes and renames over `path`; after an error `path` is untouched.
    public func commit() throws(FileError) {
        precondition(!committed, "commit twice")
        CrashPoints.reached("\(temporary) written")
        if fsync(fd) != 0 { throw fail(AtomicFile.errnoText()) }
        let closed = close(fd)
        fd = -1
        if closed != 0 { throw fail(AtomicFile.errnoText()) }
        CrashPoints.reached("\(temporary) flushed")
        if rename(temporary, path) != 0 { throw fail(AtomicFile.errnoText()) }
        committed = true
        CrashPoints.reached("\(path) renamed")
        AtomicFile.syncFolder(of: path)
    }

    /// Closes and removes the temporary file; the error names `path`.
    private func fail(_ reason: String) -> FileError {
        if fd >= 0 { close(fd); fd = -1 }
        unlink(temporary)
        return FileError(path: path, operation: .write, reason: reason)
    }

    deinit {
        if !committed {
            if fd >= 0 { close(fd) }
            unlink(temporary)
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// One process at a time in a folder: `FOLDER/.canopy.lock` holds the owner's PID, host and command.
/// The file is made complete under a temporary name and then hard-linked into place, which fails
/// when another lock is there, so no process ever sees a half-written lock. A lock whose process is
/// gone (same host, no such PID) is stale and is taken over; one held by a live process, or by any
/// process on another host (which cannot be checked from here), is a `Held` error naming it.
public final class FolderLock {
    public static let fileName = ".canopy.lock"

    public struct Held: Error, Equatable, Sendable, CustomStringConvertible {
        public var lockPath: String
        public var pid: Int32
        public var host: String
        public var command: String
        public var description: String {
            let what = command.isEmpty ? "" : " (\(command))"
            return "\(lockPath): another run is using this results folder: process \(pid) on \(host)\(what); "
                + "wait for it to finish, or remove the lock file if that process is gone"
        }
    }

    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        case held(Held)
        case cannotWrite(path: String, reason: String)
        public var description: String {
            switch self {
            case .held(let held): return held.description
            case .cannotWrite(let path, let reason): return "\(path): cannot write the lock file: \(reason)"
            }
        }
    }

    public let path: String
    /// The stale lock this one replaced (its PID), when there was one.
    public let tookOverFrom: Int32?
    private var released = false
    /// Locks this process holds (a lock file naming this PID but not in here is a stale one).
    private static let heldHere = Mutex(Set<String>())

    private init(path: String, tookOverFrom: Int32?) {
        self.path = path
        self.tookOverFrom = tookOverFrom
    }

    /// Takes the lock of `folder` (which must exist) for `command` (shown to a second process).
    public static func acquire(folder: String, command: String) throws(Failure) -> FolderLock {
        let path = (folder.hasSuffix("/") ? folder : folder + "/") + fileName
        let host = hostName()
        let contents = "pid \(getpid())\nhost \(host)\ncommand \(command.replacingNewlines)\n"
        let temporary = path + ".tmp-\(getpid())"
        var staleOwner: Int32?
        for _ in 0..<3 {
            let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw .cannotWrite(path: path, reason: AtomicFile.errnoText()) }
            let bytes = Array(contents.utf8)
            let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            close(fd)
            guard written == bytes.count else {
                let reason = AtomicFile.errnoText()
                unlink(temporary)
                throw .cannotWrite(path: path, reason: reason)
            }
            let linked = link(temporary, path)
            let linkErrno = errno
            unlink(temporary)
            if linked == 0 {
                heldHere.withLock { _ = $0.insert(path) }
                return FolderLock(path: path, tookOverFrom: staleOwner)
            }
            guard linkErrno == EEXIST else { throw .cannotWrite(path: path, reason: String(cString: strerror(linkErrno))) }
            let owner = read(path)
            if let owner, !isStale(owner, host: host, path: path) {
                throw .held(Held(lockPath: path, pid: owner.pid, host: owner.host, command: owner.command))
            }
            // Stale (or unreadable: a lock is always written whole, so that is not a live one).
            staleOwner = owner?.pid ?? -1
            unlink(path)
        }
        throw .cannotWrite(path: path, reason: "the lock kept changing hands")
    }

    /// Removes the lock (once; also when the lock is dropped).
    public func release() {
        guard !released else { return }
        released = true
        Self.heldHere.withLock { _ = $0.remove(path) }
        unlink(path)
    }

    deinit { release() }

    struct Owner {
        var pid: Int32
        var host: String
        var command: String
    }

    static func read(_ path: String) -> Owner? {
        guard let bytes = try? AtomicFile.read(path, limit: 1 << 16) else { return nil }
        var pid: Int32?, host = "", command = ""
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            if line.hasPrefix("pid ") { pid = Int32(line.dropFirst(4)) }
            if line.hasPrefix("host ") { host = String(line.dropFirst(5)) }
            if line.hasPrefix("command ") { command = String(line.dropFirst(8)) }
        }
        return pid.map { Owner(pid: $0, host: host, command: command) }
    }

    static func isStale(_ owner: Owner, host: String, path: String) -> Bool {
        guard owner.host == host else { return false }
        if owner.pid == getpid() { return !heldHere.withLock { $0.contains(path) } }
        return owner.pid <= 0 || (kill(owner.pid, 0) != 0 && errno == ESRCH) || isZombie(owner.pid)
    }

    /// A process killed but not yet reaped by its parent (for a moment after a launcher such as
    /// mpirun ends a job) still answers `kill(pid, 0)`; Linux says it is a zombie in /proc/PID/stat.
    static func isZombie(_ pid: Int32) -> Bool {
        // /proc files report no size: read what comes (the state follows the command's closing parenthesis).
        guard let file = fopen("/proc/\(pid)/stat", "r") else { return false }
        defer { fclose(file) }
        var stat = [UInt8](repeating: 0, count: 1024)
        let count = fread(&stat, 1, stat.count, file)
        guard let close = stat.prefix(count).lastIndex(of: UInt8(ascii: ")")) else { return false }
        return stat[(close + 1)..<count].first { $0 != UInt8(ascii: " ") } == UInt8(ascii: "Z")
    }

    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "unknown-host" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

}

private extension String {
    var replacingNewlines: String { String(map { $0 == "\n" ? " " : $0 }) }
}

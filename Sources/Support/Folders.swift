#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Folders made the way `mkdir -p` makes them, with one-line errors: `results/x: cannot create
/// folder: Permission denied` (the path that failed and the system's reason), never a Foundation dump.
public enum Folders {
    /// Creates `path` and any missing parents; an existing folder is fine, an existing file is not.
    public static func create(_ path: String) throws(FileError) {
        guard !path.isEmpty else { return }
        var status = stat()
        if stat(path, &status) == 0 {
            guard (status.st_mode & S_IFMT) == S_IFDIR else { throw FileError(path: path, operation: .createFolder, reason: "a file of that name is in the way") }
            return
        }
        let trimmed = path.hasSuffix("/") && path.count > 1 ? String(path.dropLast()) : path
        if let slash = trimmed.lastIndex(of: "/"), slash != trimmed.startIndex {
            try create(String(trimmed[..<slash]))
        }
        if mkdir(trimmed, 0o755) != 0 && errno != EEXIST {
            throw FileError(path: trimmed, operation: .createFolder, reason: AtomicFile.errnoText())
        }
    }

    /// Whether this process can create and remove a file in the existing folder `path` (a real test,
    /// so it holds for root, read-only mounts and ACLs alike): nil when it can, else the reason.
    public static func writeProblem(_ path: String) -> String? {
        let probe = (path.hasSuffix("/") ? path : path + "/") + ".canopy-write-test-\(getpid())"
        let fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return AtomicFile.errnoText() }
        close(fd)
        unlink(probe)
        return nil
    }
}

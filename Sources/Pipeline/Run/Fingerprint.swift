import Foundation
import Support

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

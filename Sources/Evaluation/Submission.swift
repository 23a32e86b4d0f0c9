import PlanetData
import Support

/// The Kaggle submission file: header `image_name,tags`, one row per row of the sample submission and
/// in its order, tags space-separated in label order (`LabelSet.tags`); a row may have no tags.
public enum Submission {
    /// Checks the rows against the sample submission's names, then writes the file atomically
    /// (temporary name, fsync, rename): a failed check or write leaves whatever was at `path` before.
    ///
    /// Checked, in this order: one tag set per name; no duplicate name; every name is in the sample;
    /// as many rows as the sample (naming the first sample chip missing); the sample's order (naming
    /// the first row that differs). Errors carry `path` and the line the row would have had.
    public static func write(names: [String], tags: [LabelSet], sampleNames: [String], to path: String) throws(DataError) {
        let bytes = try encoded(names: names, tags: tags, sampleNames: sampleNames, file: path)
        do { try AtomicFile.write(bytes, to: path) } catch { throw DataError(file: path, problem: error.reason) }
    }

    /// The checked file's bytes; `file` names the target in errors.
    public static func encoded(names: [String], tags: [LabelSet], sampleNames: [String], file: String) throws(DataError) -> [UInt8] {
        guard names.count == tags.count else {
            throw DataError(file: file, problem: "\(names.count) image names but \(tags.count) tag sets")
        }
        var lineOf: [String: Int] = [:]
        lineOf.reserveCapacity(names.count)
        for (index, name) in names.enumerated() {
            if let earlier = lineOf[name] {
                throw DataError(file: file, line: index + 2, problem: "duplicate image name \"\(name)\" (first on line \(earlier))")
            }
            lineOf[name] = index + 2
        }
        let sample = Set(sampleNames)
        if let index = names.firstIndex(where: { !sample.contains($0) }) {
            throw DataError(file: file, line: index + 2, problem: "image name \"\(names[index])\" is not in the sample submission")
        }
        guard names.count == sampleNames.count else {
            let missing = sampleNames.first { lineOf[$0] == nil }.map { ", first missing \"\($0)\"" } ?? ""
            throw DataError(file: file, problem: "\(names.count) rows, the sample submission has \(sampleNames.count)\(missing)")
        }
        if let index = names.indices.first(where: { names[$0] != sampleNames[$0] }) {
            throw DataError(file: file, line: index + 2,
                            problem: "row \(index + 1) is \"\(names[index])\", the sample submission has \"\(sampleNames[index])\" there (rows must follow its order)")
        }
        if let index = names.firstIndex(where: { $0.isEmpty || $0.contains(where: { $0 == "," || $0 == "\"" || $0.isNewline }) }) {
            throw DataError(file: file, line: index + 2, problem: "image name \"\(names[index])\" cannot be written to a CSV field")
        }
        var text = "image_name,tags\n"
        text.reserveCapacity(names.count * 48)
        for (name, set) in zip(names, tags) {
            text += name
            text += ","
            text += set.tags
            text += "\n"
        }
        return Array(text.utf8)
    }

    /// Reads a submission back (`LabelFile.read`: unknown tags, malformed rows and duplicate names are
    /// errors naming the file and line).
    public static func read(_ path: String) throws(DataError) -> [LabeledChip] {
        try LabelFile.read(path)
    }

    /// Parses submission bytes; `file` names the source in errors.
    public static func parse(_ bytes: [UInt8], file: String) throws(DataError) -> [LabeledChip] {
        try LabelFile.parse(bytes, file: file)
    }
}

/// One labelled chip from `train_v2.csv`: its name (`train_123`) and its tags.
public struct LabeledChip: Hashable, Sendable {
    public var name: String
    public var labels: LabelSet

    public init(name: String, labels: LabelSet) {
        self.name = name
        self.labels = labels
    }
}

/// The competition's label files: `train_v2.csv` (and Canopy's `test_labels.csv` for synthetic data),
/// `image_name,tags` with space-separated tags; and `sample_submission_v2.csv`, whose rows fix the
/// test chips and their order.
public enum LabelFile {
    public static let header = ["image_name", "tags"]

    /// Reads a label file. An unknown tag, a malformed row, an empty or duplicated name is an error
    /// naming the file and line.
    public static func read(_ path: String) throws(DataError) -> [LabeledChip] {
        try parse(CSVTable.read(path, expectedHeader: header))
    }

    /// Parses label-file bytes (for fuzzing and tests); `file` names the source in errors.
    public static func parse(_ bytes: [UInt8], file: String) throws(DataError) -> [LabeledChip] {
        try parse(CSVTable.parse(bytes, file: file, expectedHeader: header))
    }

    private static func parse(_ table: CSVTable) throws(DataError) -> [LabeledChip] {
        var firstLine: [String: Int] = [:]
        var chips: [LabeledChip] = []
        chips.reserveCapacity(table.rows.count)
        for row in table.rows {
            let name = try imageName(row, table: table)
            if let earlier = firstLine[name] {
                throw DataError(file: table.file, line: row.line, problem: "duplicate image name \"\(name)\" (first on line \(earlier))")
            }
            firstLine[name] = row.line
            do {
                chips.append(LabeledChip(name: name, labels: try LabelSet(tags: row.fields[1])))
            } catch {
                throw DataError(file: table.file, line: row.line,
                                problem: "unknown tag \"\(error.tag)\" for \(name) (the 17 labels: \(PlanetLabels.names.joined(separator: " ")))")
            }
        }
        return chips
    }

    /// The test chips' names in the sample submission's order (its tags are placeholders and are ignored).
    public static func readSampleSubmission(_ path: String) throws(DataError) -> [String] {
        try parseSampleSubmission(CSVTable.read(path, expectedHeader: header))
    }

    public static func parseSampleSubmission(_ bytes: [UInt8], file: String) throws(DataError) -> [String] {
        try parseSampleSubmission(CSVTable.parse(bytes, file: file, expectedHeader: header))
    }

    private static func parseSampleSubmission(_ table: CSVTable) throws(DataError) -> [String] {
        var seen: [String: Int] = [:]
        var names: [String] = []
        names.reserveCapacity(table.rows.count)
        for row in table.rows {
            let name = try imageName(row, table: table)
            if let earlier = seen[name] {
                throw DataError(file: table.file, line: row.line, problem: "duplicate image name \"\(name)\" (first on line \(earlier))")
            }
            seen[name] = row.line
            names.append(name)
        }
        return names
    }

    /// The row's name, checked: not empty, no path separators or spaces (it becomes a file name).
    private static func imageName(_ row: CSVTable.Row, table: CSVTable) throws(DataError) -> String {
        let name = String(row.fields[0])
        guard !name.isEmpty else { throw DataError(file: table.file, line: row.line, problem: "malformed row: empty image_name") }
        guard !name.contains("/"), !name.contains(" "), name != ".", name != ".." else {
            throw DataError(file: table.file, line: row.line, problem: "malformed row: image_name \"\(name)\" is not a plain file name")
        }
        return name
    }
}

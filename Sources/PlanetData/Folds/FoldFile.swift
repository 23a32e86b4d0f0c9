import Support

/// `folds.csv`: `image_name,fold`, one row per training chip, folds numbered from 0. Written once per
/// run and read back by every model, so every member of an ensemble sees the same split.
public struct FoldAssignment: Sendable, Equatable {
    public static let header = ["image_name", "fold"]

    public var folds: Int
    /// Fold of each chip, by name.
    public var foldOf: [String: Int]
    /// Names in the order they were written.
    public var names: [String]

    public init(names: [String], folds: [Int], count: Int) {
        precondition(names.count == folds.count, "one fold per name")
        self.folds = count
        self.names = names
        self.foldOf = Dictionary(uniqueKeysWithValues: zip(names, folds))
    }

    /// Stratified folds of `chips` (iterative stratification, seeded).
    public static func stratified(_ chips: [LabeledChip], folds: Int, seed: UInt64) -> FoldAssignment {
        let assignment = IterativeStratification.assign(chips.map(\.labels), folds: folds, seed: seed)
        return FoldAssignment(names: chips.map(\.name), folds: assignment, count: folds)
    }

    /// Names in fold `fold` (validation) and in every other fold (training), in `names` order.
    public func split(holdingOut fold: Int) -> (train: [String], validation: [String]) {
        var train: [String] = [], validation: [String] = []
        for name in names { if foldOf[name] == fold { validation.append(name) } else { train.append(name) } }
        return (train, validation)
    }

    public func csvText() -> String {
        var text = Self.header.joined(separator: ",") + "\n"
        for name in names { text += "\(name),\(foldOf[name]!)\n" }
        return text
    }

    /// Written through a temporary file and renamed.
    public func write(to path: String) throws(DataError) {
        do { try AtomicFile.write(Array(csvText().utf8), to: path) } catch { throw DataError(file: path, problem: "cannot write: \(error.reason)") }
    }

    /// Reads `folds.csv`; `expectedFolds`, when given, must equal the file's fold count. A fold number
    /// that is not an integer in 0..<K, a duplicate name, or a fold with no chip is an error naming the line.
    public static func read(_ path: String, expectedFolds: Int? = nil) throws(DataError) -> FoldAssignment {
        try parse(CSVTable.read(path, expectedHeader: header), expectedFolds: expectedFolds)
    }

    public static func parse(_ bytes: [UInt8], file: String, expectedFolds: Int? = nil) throws(DataError) -> FoldAssignment {
        try parse(CSVTable.parse(bytes, file: file, expectedHeader: header), expectedFolds: expectedFolds)
    }

    private static func parse(_ table: CSVTable, expectedFolds: Int?) throws(DataError) -> FoldAssignment {
        var names: [String] = [], folds: [Int] = [], lineOf: [String: Int] = [:]
        for row in table.rows {
            let name = String(row.fields[0])
            guard !name.isEmpty else { throw DataError(file: table.file, line: row.line, problem: "malformed row: empty image_name") }
            guard let fold = Int(row.fields[1]), fold >= 0, fold < (expectedFolds ?? 1000) else {
                throw DataError(file: table.file, line: row.line, problem: "fold \"\(row.fields[1])\" is not a fold number\(expectedFolds.map { " in 0..<\($0)" } ?? "")")
            }
            if let earlier = lineOf[name] {
                throw DataError(file: table.file, line: row.line, problem: "duplicate image name \"\(name)\" (first on line \(earlier))")
            }
            lineOf[name] = row.line
            names.append(name)
            folds.append(fold)
        }
        let count = expectedFolds ?? ((folds.max() ?? 0) + 1)
        let used = Set(folds)
        if let empty = (0..<count).first(where: { !used.contains($0) }) {
            throw DataError(file: table.file, problem: "fold \(empty) has no chip (\(count) folds expected)")
        }
        guard count >= 2 else { throw DataError(file: table.file, problem: "\(count) fold; cross-validation needs at least 2") }
        return FoldAssignment(names: names, folds: folds, count: count)
    }
}

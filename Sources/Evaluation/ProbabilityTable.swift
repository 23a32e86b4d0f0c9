import PlanetData
import Support

/// One model's (or one ensemble's) probabilities: a row of 17 per chip, in label order
/// (`PlanetLabels.names`), and the chips' names. Out-of-fold tables are what thresholds and ensembles
/// are fitted on; test tables are what they are applied to.
///
/// On disk: a CSV with the header `image_name,agriculture,artisinal_mine,...,water` and each value
/// printed as the shortest decimal that reads back to the same `Float` (Swift's `Float.description`,
/// e.g. `0.1`, `1e-05`), so a write then a read gives the table back bit for bit.
public struct ProbabilityTable: Sendable, Equatable {
    public var names: [String]
    public var rows: [[Float]]

    public init(names: [String], rows: [[Float]]) {
        precondition(names.count == rows.count, "\(names.count) names, \(rows.count) rows")
        self.names = names
        self.rows = rows
    }

    /// The file header: `image_name` then the 17 label names.
    public static let header: [String] = ["image_name"] + PlanetLabels.names

    public var count: Int { rows.count }

    /// Label `label`'s probability for every chip.
    public func column(_ label: Int) -> [Float] { rows.map { $0[label] } }

    // MARK: Writing

    /// Writes the table atomically (temporary name, fsync, rename). A row that could not be read back
    /// (not 17 values, a value that is NaN, infinite or outside [0, 1], a name with a comma, quote,
    /// space or line break, a duplicate name) is refused before anything is written.
    public func write(to path: String) throws(DataError) {
        let bytes = try encoded(file: path)
        do { try AtomicFile.write(bytes, to: path) } catch { throw DataError(file: path, problem: error.reason) }
    }

    /// The file's bytes (checked as `write(to:)` says; `file` names the target in errors).
    public func encoded(file: String = "probabilities.csv") throws(DataError) -> [UInt8] {
        guard names.count == rows.count else {
            throw DataError(file: file, problem: "\(names.count) names but \(rows.count) rows")
        }
        var firstRow: [String: Int] = [:]
        var text = Self.header.joined(separator: ",") + "\n"
        text.reserveCapacity(rows.count * (20 + 12 * PlanetLabels.count))
        for (index, row) in rows.enumerated() {
            let line = index + 2, name = names[index]
            guard !name.isEmpty, !name.contains(where: { $0 == "," || $0 == "\"" || $0 == " " || $0.isNewline }) else {
                throw DataError(file: file, line: line, problem: "image name \"\(name)\" cannot be written to a CSV field")
            }
            if let earlier = firstRow[name] {
                throw DataError(file: file, line: line, problem: "duplicate image name \"\(name)\" (first on line \(earlier))")
            }
            firstRow[name] = line
            guard row.count == PlanetLabels.count else {
                throw DataError(file: file, line: line, problem: "\(name) has \(row.count) probabilities, expected \(PlanetLabels.count)")
            }
            text += name
            for (label, value) in row.enumerated() {
                if let problem = Self.problem(with: value) {
                    throw DataError(file: file, line: line, problem: "\(PlanetLabels.names[label]) of \(name) \(problem)")
                }
                text += ","
                text += value.description
            }
            text += "\n"
        }
        return Array(text.utf8)
    }

    // MARK: Reading

    /// Reads a table written by `write(to:)` (or by anyone else in that format: `\r\n` line ends and a
    /// UTF-8 byte-order mark are accepted). Every problem is a `DataError` naming the file and line.
    public static func read(_ path: String) throws(DataError) -> ProbabilityTable {
        let bytes: [UInt8]
        do { bytes = try AtomicFile.read(path, limit: 1 << 31) } catch { throw DataError(file: path, problem: error.reason) }
        return try parse(bytes, file: path)
    }

    /// Parses table bytes; `file` names the source in errors.
    public static func parse(_ bytes: [UInt8], file: String) throws(DataError) -> ProbabilityTable {
        let body = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? Array(bytes.dropFirst(3)) : bytes
        guard let text = String(validating: body, as: UTF8.self) else { throw DataError(file: file, problem: "not UTF-8 text") }
        // "\r\n" is one Character in Swift: split on it as well as on "\n".
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        if lines.last?.isEmpty == true { lines.removeLast() }
        let expected = header.joined(separator: ",")
        guard let first = lines.first else { throw DataError(file: file, problem: "empty file, expected the header \(expected)") }
        let headerLine = first.last == "\r" ? first.dropLast() : first
        guard headerLine == expected else {
            throw DataError(file: file, line: 1, problem: "header is \"\(headerLine.prefix(200))\", expected \"\(expected)\"")
        }
        var names: [String] = [], rows: [[Float]] = []
        names.reserveCapacity(lines.count - 1)
        rows.reserveCapacity(lines.count - 1)
        var firstLine: [String: Int] = [:]
        for (offset, rawLine) in lines.dropFirst().enumerated() {
            let line = offset + 2
            let content = rawLine.last == "\r" ? rawLine.dropLast() : rawLine
            if content.isEmpty { continue }  // blank lines carry nothing
            let fields = content.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count == header.count else {
                throw DataError(file: file, line: line, problem: "\(fields.count) field\(fields.count == 1 ? "" : "s"), expected \(header.count)")
            }
            let name = String(fields[0])
            guard !name.isEmpty else { throw DataError(file: file, line: line, problem: "empty image_name") }
            if let earlier = firstLine[name] {
                throw DataError(file: file, line: line, problem: "duplicate image name \"\(name)\" (first on line \(earlier))")
            }
            firstLine[name] = line
            var row = [Float](repeating: 0, count: PlanetLabels.count)
            for label in 0..<PlanetLabels.count {
                let field = fields[label + 1]
                guard let value = Float(field) else {
                    throw DataError(file: file, line: line, problem: "\(PlanetLabels.names[label]) of \(name) is \"\(field.prefix(40))\", not a number")
                }
                if let problem = problem(with: value) {
                    throw DataError(file: file, line: line, problem: "\(PlanetLabels.names[label]) of \(name) \(problem)")
                }
                row[label] = value
            }
            names.append(name)
            rows.append(row)
        }
        return ProbabilityTable(names: names, rows: rows)
    }

    /// Why `value` is not a probability, or nil.
    static func problem(with value: Float) -> String? {
        if value.isNaN { return "is NaN" }
        if value.isInfinite { return "is \(value), not finite" }
        if value < 0 || value > 1 { return "is \(value), outside [0, 1]" }
        return nil
    }

    // MARK: Helpers

    /// The rows of `names`, in that order (a selection, a reordering, or both). A name the table does
    /// not have is an error; `context` names the table in it.
    public func subset(names wanted: [String], context: String = "probability table") throws(DataError) -> ProbabilityTable {
        var rowOf: [String: Int] = [:]
        rowOf.reserveCapacity(names.count)
        for (index, name) in names.enumerated() where rowOf[name] == nil { rowOf[name] = index }
        var rows: [[Float]] = []
        rows.reserveCapacity(wanted.count)
        for name in wanted {
            guard let index = rowOf[name] else { throw DataError(file: context, problem: "no row for chip \"\(name)\"") }
            rows.append(self.rows[index])
        }
        return ProbabilityTable(names: wanted, rows: rows)
    }

    /// The element-wise mean of tables over the same chips in the same order (align them first with
    /// `subset(names:)`). An error names the first table and row that differ.
    public static func mean(of tables: [ProbabilityTable], context: String = "ensemble") throws(DataError) -> ProbabilityTable {
        try weightedMean(of: tables, weights: [Float](repeating: 1, count: tables.count), context: context)
    }

    /// Σ wᵢ·tableᵢ / Σ wᵢ (weights are normalised; they must be ≥ 0 with a positive sum). Accumulated
    /// in Double, so the mean of identical tables is that table exactly.
    public static func weightedMean(of tables: [ProbabilityTable], weights: [Float], context: String = "ensemble") throws(DataError) -> ProbabilityTable {
        try checkAligned(tables, context: context)
        guard weights.count == tables.count else {
            throw DataError(file: context, problem: "\(weights.count) weights for \(tables.count) tables")
        }
        guard weights.allSatisfy({ $0 >= 0 && $0.isFinite }), weights.contains(where: { $0 > 0 }) else {
            throw DataError(file: context, problem: "weights \(weights) must be finite, ≥ 0 and not all 0")
        }
        let total = weights.reduce(0.0) { $0 + Double($1) }
        let w = weights.map { Double($0) / total }
        let first = tables[0]
        var rows = [[Float]](repeating: [], count: first.count)
        var sums = [Double](repeating: 0, count: PlanetLabels.count)
        for chip in 0..<first.count {
            for label in 0..<PlanetLabels.count { sums[label] = 0 }
            for (m, table) in tables.enumerated() where w[m] > 0 {
                let row = table.rows[chip]
                for label in 0..<PlanetLabels.count { sums[label] += w[m] * Double(row[label]) }
            }
            rows[chip] = sums.map { Float(min(1, max(0, $0))) }
        }
        return ProbabilityTable(names: first.names, rows: rows)
    }

    /// Throws unless there is at least one table and all have the same names in the same order and
    /// 17 values per row.
    public static func checkAligned(_ tables: [ProbabilityTable], context: String = "ensemble") throws(DataError) {
        guard let first = tables.first else { throw DataError(file: context, problem: "no tables") }
        for (m, table) in tables.enumerated() {
            guard table.names.count == table.rows.count else {
                throw DataError(file: context, problem: "table \(m + 1) has \(table.names.count) names but \(table.rows.count) rows")
            }
            if let bad = table.rows.firstIndex(where: { $0.count != PlanetLabels.count }) {
                throw DataError(file: context, problem: "table \(m + 1), row \(bad + 1) (\(table.names[bad])) has \(table.rows[bad].count) values, expected \(PlanetLabels.count)")
            }
            guard m > 0 else { continue }
            guard table.count == first.count else {
                throw DataError(file: context, problem: "table \(m + 1) has \(table.count) rows, table 1 has \(first.count)")
            }
            if let row = table.names.indices.first(where: { table.names[$0] != first.names[$0] }) {
                throw DataError(file: context, problem: "row \(row + 1) is \"\(table.names[row])\" in table \(m + 1) but \"\(first.names[row])\" in table 1 (align the tables with subset(names:))")
            }
        }
    }
}

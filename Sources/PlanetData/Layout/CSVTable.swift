import Support

/// A small CSV reader for the competition's files (`image_name,tags`, `image_name,fold`): comma
/// separated, optional double quotes around a field (with `""` inside), `\n` or `\r\n` line ends,
/// an optional UTF-8 byte-order mark. Every problem is a `DataError` naming the file and line.
struct CSVTable {
    struct Row {
        /// 1-based line number in the file (the header is line 1).
        let line: Int
        let fields: [Substring]
    }

    let file: String
    let header: [Substring]
    /// Every row's fields one after another, `header.count` per row (one allocation for the table,
    /// not one per row: a 40,000-row label file stays small).
    private let cells: [Substring]
    private let lines: [Int]

    var rows: LazyMapSequence<Range<Int>, Row> {
        let width = header.count
        return (0..<lines.count).lazy.map { Row(line: self.lines[$0], fields: Array(self.cells[($0 * width)..<(($0 + 1) * width)])) }
    }

    /// Reads `path`, checks the header is exactly `expectedHeader` and that every row has that many fields.
    static func read(_ path: String, expectedHeader: [String]) throws(DataError) -> CSVTable {
        let bytes: [UInt8]
        do { bytes = try AtomicFile.read(path, limit: 1 << 30) } catch {
            throw DataError(file: path, problem: error.reason)
        }
        return try parse(bytes, file: path, expectedHeader: expectedHeader)
    }

    static func parse(_ bytes: [UInt8], file: String, expectedHeader: [String]) throws(DataError) -> CSVTable {
        let body = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? Array(bytes.dropFirst(3)) : bytes
        guard let text = String(validating: body, as: UTF8.self) else {
            throw DataError(file: file, problem: "not UTF-8 text")
        }
        // "\r\n" is one Character in Swift: split on it as well as on "\n".
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        if lines.last?.isEmpty == true { lines.removeLast() }
        guard let first = lines.first else { throw DataError(file: file, problem: "empty file, expected the header \(expectedHeader.joined(separator: ","))") }
        let header = try fields(of: first, file: file, line: 1)
        guard header.map(String.init) == expectedHeader else {
            throw DataError(file: file, line: 1, problem: "header is \"\(first.trimmingCR)\", expected \"\(expectedHeader.joined(separator: ","))\"")
        }
        var cells: [Substring] = [], numbers: [Int] = []
        cells.reserveCapacity((lines.count - 1) * expectedHeader.count)
        numbers.reserveCapacity(lines.count - 1)
        for (offset, line) in lines.dropFirst().enumerated() {
            let number = offset + 2
            if line.trimmingCR.isEmpty { continue }  // blank lines carry nothing
            let parsed = try fields(of: line, file: file, line: number)
            guard parsed.count == expectedHeader.count else {
                throw DataError(file: file, line: number,
                                problem: "malformed row \"\(line.trimmingCR.prefix(80))\": \(parsed.count) field\(parsed.count == 1 ? "" : "s"), expected \(expectedHeader.count)")
            }
            cells.append(contentsOf: parsed)
            numbers.append(number)
        }
        return CSVTable(file: file, header: header, cells: cells, lines: numbers)
    }

    private static func fields(of rawLine: Substring, file: String, line lineNumber: Int) throws(DataError) -> [Substring] {
        let line = rawLine.trimmingCR
        guard line.contains("\"") else { return line.split(separator: ",", omittingEmptySubsequences: false) }
        var result: [Substring] = []
        var current = ""
        var quoted = false, atFieldStart = true
        var index = line.startIndex
        while index < line.endIndex {
            let character = line[index]
            if quoted {
                if character == "\"" {
                    let next = line.index(after: index)
                    if next < line.endIndex && line[next] == "\"" { current.append("\""); index = next } else { quoted = false }
                } else { current.append(character) }
            } else if character == "," {
                result.append(Substring(current)); current = ""; atFieldStart = true
                index = line.index(after: index); continue
            } else if character == "\"" && atFieldStart {
                quoted = true
            } else { current.append(character) }
            atFieldStart = false
            index = line.index(after: index)
        }
        guard !quoted else { throw DataError(file: file, line: lineNumber, problem: "unterminated quote") }
        result.append(Substring(current))
        return result
    }
}

extension Substring {
    /// The line without a trailing carriage return (files written on Windows).
    var trimmingCR: Substring { last == "\r" ? dropLast() : self }
}

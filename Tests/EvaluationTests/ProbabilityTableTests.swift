import Evaluation
import Foundation
import PlanetData
import XCTest

final class ProbabilityTableTests: XCTestCase {
    static let header = "image_name," + PlanetLabels.names.joined(separator: ",")

    func testRoundTripIsExact() throws {
        var generator = SplitMix(seed: 1)
        var rows: [[Float]] = (0..<50).map { _ in (0..<17).map { _ in Float(generator.unit()) } }
        // Awkward values: both ends, the smallest subnormal, the float just below 1, thirds and tenths.
        rows.append([0, 1, .leastNonzeroMagnitude, .leastNormalMagnitude, Float(1).nextDown, 1.0 / 3, 0.1, 0.2, 1e-7,
                     0.999_999_9, 0.5, 0.25, 0.123_456_79, Float(0.1).nextUp, 2.0 / 3, 1e-30, 0.9])
        let table = ProbabilityTable(names: (0..<rows.count).map { "test_\($0)" }, rows: rows)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("canopy-probabilities-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/oof.csv"
        try table.write(to: path)
        let back = try ProbabilityTable.read(path)
        XCTAssertEqual(back, table)
        XCTAssertEqual(back.rows.flatMap { $0 }.map(\.bitPattern), rows.flatMap { $0 }.map(\.bitPattern))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), ["oof.csv"])
        let text = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertTrue(text.hasPrefix(Self.header + "\ntest_0,"))
        // \r\n line ends and a byte-order mark read the same.
        let windows = [0xEF, 0xBB, 0xBF] + Array(text.replacingOccurrences(of: "\n", with: "\r\n").utf8)
        XCTAssertEqual(try ProbabilityTable.parse(windows, file: "w.csv"), table)
    }

    func testErrorsNameFileAndLine() {
        let values = Array(repeating: "0.5", count: 17).joined(separator: ",")
        func message(_ text: String) -> String {
            do {
                _ = try ProbabilityTable.parse(Array(text.utf8), file: "oof.csv")
                return "no error"
            } catch { return error.description }
        }
        XCTAssertEqual(message(""), "oof.csv: empty file, expected the header \(Self.header)")
        XCTAssertEqual(message("image_name,tags\n"), "oof.csv:1: header is \"image_name,tags\", expected \"\(Self.header)\"")
        XCTAssertEqual(message("\(Self.header)\na,\(values)\nb,0.5,0.5\n"), "oof.csv:3: 3 fields, expected 18")
        XCTAssertEqual(message("\(Self.header)\na,x\(values.dropFirst())\n"), "oof.csv:2: agriculture of a is \"x.5\", not a number")
        XCTAssertEqual(message("\(Self.header)\na,\(values.dropLast(3))nan\n"), "oof.csv:2: water of a is NaN")
        XCTAssertEqual(message("\(Self.header)\na,\(values.dropLast(3))inf\n"), "oof.csv:2: water of a is inf, not finite")
        XCTAssertEqual(message("\(Self.header)\na,1.5\(values.dropFirst(3))\n"), "oof.csv:2: agriculture of a is 1.5, outside [0, 1]")
        XCTAssertEqual(message("\(Self.header)\na,-0.1\(values.dropFirst(3))\n"), "oof.csv:2: agriculture of a is -0.1, outside [0, 1]")
        XCTAssertEqual(message("\(Self.header)\na,\(values)\n\nb,\(values)\na,\(values)\n"), "oof.csv:5: duplicate image name \"a\" (first on line 2)")
        XCTAssertEqual(message("\(Self.header)\n,\(values)\n"), "oof.csv:2: empty image_name")
        XCTAssertEqual(message("\(Self.header)\na,\(values)\n"), "no error")
        XCTAssertEqual(message("\(Self.header)\n"), "no error")
        XCTAssertThrowsError(try ProbabilityTable.read("/nonexistent/oof.csv")) { error in
            XCTAssertTrue("\(error)".hasPrefix("/nonexistent/oof.csv: "), "\(error)")
        }
    }

    func testWriteRefusesWhatCouldNotBeReadBack() {
        var row = [Float](repeating: 0.5, count: 17)
        row[3] = .nan
        XCTAssertThrowsError(try ProbabilityTable(names: ["a"], rows: [row]).encoded(file: "t.csv")) { error in
            XCTAssertEqual("\(error)", "t.csv:2: blooming of a is NaN")
        }
        XCTAssertThrowsError(try ProbabilityTable(names: ["a"], rows: [[0.5]]).encoded(file: "t.csv")) { error in
            XCTAssertEqual("\(error)", "t.csv:2: a has 1 probabilities, expected 17")
        }
        XCTAssertThrowsError(try ProbabilityTable(names: ["a,b"], rows: [[Float](repeating: 0, count: 17)]).encoded(file: "t.csv"))
    }

    func testSubsetAndMean() throws {
        let rows: [[Float]] = (0..<3).map { [Float](repeating: Float($0) / 4, count: 17) }
        let table = ProbabilityTable(names: ["a", "b", "c"], rows: rows)
        let picked = try table.subset(names: ["c", "a"])
        XCTAssertEqual(picked.names, ["c", "a"])
        XCTAssertEqual(picked.rows, [rows[2], rows[0]])
        XCTAssertThrowsError(try table.subset(names: ["a", "z"], context: "test.csv")) { error in
            XCTAssertEqual("\(error)", "test.csv: no row for chip \"z\"")
        }
        // Rows 0, 1/4, 2/4 and their reverse 2/4, 1/4, 0: the mean is 1/4 everywhere.
        let reversed = ProbabilityTable(names: ["a", "b", "c"], rows: rows.reversed())
        XCTAssertEqual(try ProbabilityTable.mean(of: [table, reversed]).rows, [[Float]](repeating: [Float](repeating: 0.25, count: 17), count: 3))
        XCTAssertThrowsError(try ProbabilityTable.mean(of: [table, picked]))
        XCTAssertEqual(table.column(0), [0, 0.25, 0.5])
    }
}

import Foundation
import Support
import XCTest

/// Crash-safe writes: a file is replaced whole or not at all, and a failed or abandoned write leaves
/// no temporary file behind.
final class AtomicFileTests: XCTestCase {
    var folder = ""

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "canopy-atomic-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: folder) }

    func contents() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: folder).sorted() }

    func testAWriteReplacesTheFileWholeAndLeavesNoTemporaryFile() throws {
        let path = folder + "/table.csv"
        try AtomicFile.write(Array("old\n".utf8), to: path)
        try AtomicFile.write(Array("new\n".utf8), to: path)
        XCTAssertEqual(try AtomicFile.read(path), Array("new\n".utf8))
        XCTAssertEqual(try contents(), ["table.csv"])
    }

    func testAWriterAppendsPiecesAndShowsNothingBeforeCommit() throws {
        let path = folder + "/rows.csv"
        try AtomicFile.write(Array("before\n".utf8), to: path)
        let writer = try AtomicFileWriter(path: path)
        for row in 0..<1000 { try writer.write(Array("row \(row)\n".utf8)) }
        // Until commit, readers see the old file; the pieces are in NAME.tmp-PID.
        XCTAssertEqual(try AtomicFile.read(path), Array("before\n".utf8))
        XCTAssertEqual(try contents(), ["rows.csv", "rows.csv.tmp-\(getpid())"])
        try writer.commit()
        let text = String(decoding: try AtomicFile.read(path), as: UTF8.self)
        XCTAssertEqual(text.split(separator: "\n").count, 1000)
        XCTAssertTrue(text.hasPrefix("row 0\nrow 1\n") && text.hasSuffix("row 999\n"))
        XCTAssertEqual(try contents(), ["rows.csv"])
    }

    func testAnAbandonedWriterRemovesItsTemporaryFileAndKeepsTheOldOne() throws {
        let path = folder + "/rows.csv"
        try AtomicFile.write(Array("before\n".utf8), to: path)
        do {
            let writer = try AtomicFileWriter(path: path)
            try writer.write(Array("half a table".utf8))
        }  // dropped without commit: an error on the way, say
        XCTAssertEqual(try AtomicFile.read(path), Array("before\n".utf8))
        XCTAssertEqual(try contents(), ["rows.csv"])
    }

    func testAFolderThatCannotBeWrittenGivesAnErrorNamingTheFile() throws {
        let path = folder + "/no-such-folder/rows.csv"
        XCTAssertThrowsError(try AtomicFile.write([1, 2, 3], to: path)) { error in
            let error = error as! FileError
            XCTAssertEqual(error.path, path)
            XCTAssertEqual(error.description, "\(path): cannot write: No such file or directory")
        }
        XCTAssertThrowsError(try AtomicFileWriter(path: path))
    }

    func testReadsRefuseFilesOverTheLimitAndFoldersWithTheirNames() throws {
        let path = folder + "/big.bin"
        try AtomicFile.write([UInt8](repeating: 7, count: 4096), to: path)
        XCTAssertThrowsError(try AtomicFile.read(path, limit: 4095)) { error in
            XCTAssertEqual("\(error)", "\(path): cannot read: 4096 bytes, over the 4095-byte limit")
        }
        XCTAssertThrowsError(try AtomicFile.read(folder)) { error in
            XCTAssertEqual("\(error)", "\(folder): cannot read: not a regular file")
        }
    }
}

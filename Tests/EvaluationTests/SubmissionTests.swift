import Evaluation
import Foundation
import PlanetData
import XCTest

final class SubmissionTests: XCTestCase {
    var folder = ""

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("canopy-submission-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: folder)
    }

    let sample = ["test_0", "test_1", "test_2", "file_0"]

    func testWritesTheSampleOrderAndReadsBack() throws {
        let path = folder + "/submission.csv"
        let tags: [LabelSet] = [["primary", "clear"], [], ["cloudy"], ["water", "agriculture", "haze", "primary"]]
        try Submission.write(names: sample, tags: tags, sampleNames: sample, to: path)
        // Tags in label order (agriculture before haze before primary before water); an empty field allowed.
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), """
            image_name,tags
            test_0,clear primary
            test_1,
            test_2,cloudy
            file_0,agriculture haze primary water

            """)
        let back = try Submission.read(path)
        XCTAssertEqual(back.map(\.name), sample)
        XCTAssertEqual(back.map(\.labels), tags)
        // Atomic: nothing but the submission is left in the folder.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), ["submission.csv"])
    }

    func testChecksAgainstTheSample() throws {
        let path = folder + "/submission.csv"
        let tags = [LabelSet](repeating: ["clear"], count: 4)
        func message(_ names: [String], _ tags: [LabelSet]) -> String {
            do {
                try Submission.write(names: names, tags: tags, sampleNames: sample, to: path)
                return "no error"
            } catch { return error.description }
        }
        XCTAssertEqual(message(["test_0", "test_1", "test_2"], Array(tags.prefix(3))),
                       "\(path): 3 rows, the sample submission has 4, first missing \"file_0\"")
        XCTAssertEqual(message(["test_0", "test_2", "test_1", "file_0"], tags),
                       "\(path):3: row 2 is \"test_2\", the sample submission has \"test_1\" there (rows must follow its order)")
        XCTAssertEqual(message(["test_0", "test_1", "test_9", "file_0"], tags),
                       "\(path):4: image name \"test_9\" is not in the sample submission")
        XCTAssertEqual(message(["test_0", "test_1", "test_1", "file_0"], tags),
                       "\(path):4: duplicate image name \"test_1\" (first on line 3)")
        XCTAssertEqual(message(sample, Array(tags.prefix(2))), "\(path): 4 image names but 2 tag sets")
        // Nothing was written by the failed attempts.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), [])
    }

    func testAFailedWriteKeepsThePreviousFile() throws {
        let path = folder + "/submission.csv"
        let tags = [LabelSet](repeating: ["haze"], count: 4)
        try Submission.write(names: sample, tags: tags, sampleNames: sample, to: path)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try Submission.write(names: sample.reversed(), tags: tags, sampleNames: sample, to: path))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before)
        // An unwritable place is a DataError naming the path.
        XCTAssertThrowsError(try Submission.write(names: sample, tags: tags, sampleNames: sample, to: folder + "/missing/submission.csv")) { error in
            XCTAssertTrue("\(error)".hasPrefix(folder + "/missing/submission.csv: "), "\(error)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), ["submission.csv"])
    }

    func testReadingRejectsUnknownTags() {
        let bytes = Array("image_name,tags\ntest_0,clear forest\n".utf8)
        XCTAssertThrowsError(try Submission.parse(bytes, file: "s.csv")) { error in
            XCTAssertTrue("\(error)".hasPrefix("s.csv:2: unknown tag \"forest\""), "\(error)")
        }
    }
}

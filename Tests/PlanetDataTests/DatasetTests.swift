import Foundation
import PlanetData
import XCTest

final class DatasetTests: XCTestCase {
    func testTheRealSampleOpensWithEveryChipPaired() throws {
        let dataset = try PlanetDataset.open(root: TestData.sample, bands: .rgb)
        XCTAssertEqual(dataset.train.count, 20)
        XCTAssertEqual(dataset.train.first?.name, "train_0")
        XCTAssertEqual(dataset.train.first?.labels, ["haze", "primary"])
        XCTAssertTrue(dataset.problems.isEmpty, "\(dataset.problems.summary)")
        // Test chips in the sample submission's order: test_* then file_*.
        XCTAssertEqual(dataset.test.count, 60)
        XCTAssertEqual(dataset.test.map(\.name), dataset.submissionNames)
        XCTAssertEqual(dataset.test.first?.name, "test_0")
        XCTAssertTrue(dataset.test.last!.jpegPath!.hasSuffix("test-jpg-additional/\(dataset.test.last!.name).jpg"))
        XCTAssertNil(dataset.test.first?.labels)
    }

    /// The sample's test TIFFs carry the competition's renamed names, so for 4 bands the test rows
    /// named test_* have no image: counted and reported, fatal under `fail`.
    func testMissingImagesAreCountedAndFatalOnlyWhenAsked() throws {
        let dataset = try PlanetDataset.open(root: TestData.sample, bands: .rgbn, missingFiles: .report)
        XCTAssertEqual(dataset.train.count, 20)
        XCTAssertNotNil(dataset.train[0].tiffPath)
        XCTAssertEqual(dataset.problems.testRowsWithoutImage.count, 30)
        XCTAssertThrowsError(try PlanetDataset.open(root: TestData.sample, bands: .rgbn)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("30 sample-submission rows with no image: test_0, test_1"), text)
            XCTAssertTrue(text.contains("missing_files: report"), text)
        }

        let root = TestData.copyOfSample("unpaired")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.removeItem(atPath: root + "/train-jpg/train_3.jpg")
        try FileManager.default.copyItem(atPath: root + "/train-jpg/train_4.jpg", toPath: root + "/train-jpg/train_99.jpg")
        let reported = try PlanetDataset.open(root: root, bands: .rgb, missingFiles: .report)
        XCTAssertEqual(reported.train.count, 19)
        XCTAssertEqual(reported.problems.labelRowsWithoutImage, ["train_3"])
        XCTAssertEqual(reported.problems.imagesWithoutLabelRow, ["train_99"])
        XCTAssertThrowsError(try PlanetDataset.open(root: root, bands: .rgb)) { error in
            XCTAssertEqual("\(error)", "\(root): 1 label rows with no image: train_3; 1 images with no label row: train_99 (set missing_files: report to leave them out)")
        }
    }

    func testLabelFileProblemsNameTheFileAndLine() throws {
        func error(_ text: String) -> String {
            do { _ = try LabelFile.parse(Array(text.utf8), file: "train_v2.csv"); return "no error" } catch { return error.description }
        }
        XCTAssertEqual(error("image_name,tags\ntrain_0,clear primary\ntrain_1,clear forest\n"),
                       "train_v2.csv:3: unknown tag \"forest\" for train_1 (the 17 labels: \(PlanetLabels.names.joined(separator: " ")))")
        XCTAssertEqual(error("image_name,tags\ntrain_0,clear\ntrain_0,haze\n"), "train_v2.csv:3: duplicate image name \"train_0\" (first on line 2)")
        XCTAssertEqual(error("image_name,tags\ntrain_0 clear\n"), "train_v2.csv:2: malformed row \"train_0 clear\": 1 field, expected 2")
        XCTAssertEqual(error("image_name,tags\n,clear\n"), "train_v2.csv:2: malformed row: empty image_name")
        XCTAssertEqual(error("image_name,tags\n../x,clear\n"), "train_v2.csv:2: malformed row: image_name \"../x\" is not a plain file name")
        XCTAssertEqual(error("name,tags\n"), "train_v2.csv:1: header is \"name,tags\", expected \"image_name,tags\"")
        XCTAssertEqual(error(""), "train_v2.csv: empty file, expected the header image_name,tags")
        XCTAssertEqual(error("image_name,tags\n\"a,b\",clear\n\"c,haze\n"), "train_v2.csv:3: unterminated quote")
        // Windows line ends, a byte-order mark, a quoted field, a blank line and a row with no tags are fine.
        let chips = try LabelFile.parse(Array("\u{FEFF}image_name,tags\r\ntrain_0,\"clear primary\"\r\n\r\ntrain_1,\r\n".utf8), file: "x.csv")
        XCTAssertEqual(chips, [LabeledChip(name: "train_0", labels: ["clear", "primary"]), LabeledChip(name: "train_1", labels: [])])
        XCTAssertThrowsError(try PlanetDataset.open(root: "/nonexistent/planet")) { error in
            XCTAssertEqual("\(error)", "/nonexistent/planet: no such dataset folder")
        }
    }

    func testTheRealLabelFileReadsWhole() throws {
        let chips = try LabelFile.read(FoldTests.realLabels)
        XCTAssertEqual(chips.count, 40_479)
        XCTAssertEqual(chips.filter { $0.labels.contains("primary") }.count, 37_513)
        XCTAssertEqual(chips.filter { $0.labels.contains("conventional_mine") }.count, 100)
        XCTAssertEqual(chips.filter { $0.labels.intersection(PlanetLabels.weather).count == 1 }.count, 40_478)
        let names = try LabelFile.readSampleSubmission(FoldTests.realLabels.replacingOccurrences(of: "train_v2.csv", with: "sample_submission_v2.csv"))
        XCTAssertEqual(names.count, 61_191)
        XCTAssertEqual(names[40_668], "test_40668")
        XCTAssertEqual(names[40_669], "file_0")
    }
}

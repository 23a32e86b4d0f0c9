import Foundation
import XCTest

/// The pipeline commands as a user runs them: a SIGKILL in the middle of a write (at a crash point,
/// see Sources/Support/CrashPoints.swift) loses nothing and the next run finishes; `predict --images`
/// tags a loose folder of chips.
final class PipelineCommandTests: XCTestCase {
    var folder = ""
    var pipeline = ""

    override func setUpWithError() throws {
        (folder, pipeline) = try CLI.tinyPipeline(in: "canopy-cli-pipeline")
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: folder) }

    func testAKillInTheMiddleOfWritingTheSubmissionLosesNothingAndTheRunResumes() throws {
        let results = folder + "/results"
        // The submit stage's points: stages.json (4 steps), then submission.csv opened, written, ...
        let listed = try CLI.run(["run", pipeline, "--results", results, "--quiet", "--force"], environment: ["CANOPY_CRASH_AT": "list"])
        XCTAssertEqual(listed.status, 0, listed.output)
        XCTAssertTrue(listed.output.contains("crash point submit:6 \(results)/submission.csv.tmp-"), listed.output)
        try FileManager.default.removeItem(atPath: results + "/submission.csv")
        let thresholds = try Data(contentsOf: URL(fileURLWithPath: results + "/thresholds.json"))

        let killed = try CLI.runReportingSignal(["run", pipeline, "--results", results, "--quiet"],
                                                environment: ["CANOPY_CRASH_AT": "submit:6"])
        XCTAssertTrue(killed.signalled, killed.output)
        XCTAssertEqual(killed.status, SIGKILL)
        // Killed with the submission written to its temporary name, not yet renamed.
        let files = try FileManager.default.contentsOfDirectory(atPath: results)
        XCTAssertFalse(files.contains("submission.csv"))
        XCTAssertTrue(files.contains { $0.hasPrefix("submission.csv.tmp-") }, "\(files)")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: results + "/thresholds.json")), thresholds)

        let resumed = try CLI.run(["run", pipeline, "--results", results])
        XCTAssertEqual(resumed.status, 0, resumed.output)
        XCTAssertTrue(resumed.output.contains("train: up to date"), resumed.output)
        let after = try FileManager.default.contentsOfDirectory(atPath: results)
        XCTAssertFalse(after.contains { $0.contains(".tmp-") }, "the leftover is removed: \(after)")
        let rows = try String(contentsOfFile: results + "/submission.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(rows.count, 61)
    }

    func testTheResultsConfigJSONRunsAgainAndReusesEveryStage() throws {
        let results = folder + "/results"
        let first = try CLI.run(["run", pipeline, "--results", results, "--quiet", "--set", "models.0.epochs=1"])
        XCTAssertEqual(first.status, 0, first.output)
        let again = try CLI.run(["run", results + "/config.json", "--results", results])
        XCTAssertEqual(again.status, 0, again.output)
        for stage in ["train", "predict", "ensemble", "tune", "submit", "report"] {
            XCTAssertTrue(again.output.contains("\(stage): up to date"), again.output)
        }
        XCTAssertFalse(again.output.contains("redone"), again.output)
    }

    func testPredictImagesTagsALooseFolderAndOutGoesOnlyWithIt() throws {
        let results = folder + "/results", output = folder + "/new-chips.csv"
        let predicted = try CLI.run(["predict", pipeline, "--results", results, "--quiet",
                                     "--images", "datasets/planet-sample/test-jpg", "--out", output])
        XCTAssertEqual(predicted.status, 0, predicted.output)
        let rows = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(rows.count, 31)
        XCTAssertTrue(rows[0].hasPrefix("image_name,tags,agriculture,"), String(rows[0]))
        XCTAssertTrue(rows[1].hasPrefix("test_0,"), String(rows[1]))
        // The same chips went through the run's own training stage (`predict` runs it, through tune):
        // the probabilities equal its ensemble's test table.
        func table(_ path: String) throws -> [String: [Substring]] {
            let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").dropFirst()
            return Dictionary(uniqueKeysWithValues: lines.map { line in
                let fields = line.split(separator: ",", omittingEmptySubsequences: false)
                return (String(fields[0]), Array(fields.dropFirst()))
            })
        }
        let ensemble = try table(results + "/predictions/ensemble-test.csv")
        for row in rows.dropFirst() {
            let fields = row.split(separator: ",", omittingEmptySubsequences: false)
            let name = String(fields[0])
            let expected = try XCTUnwrap(ensemble[name], name)
            XCTAssertEqual(fields.count, 2 + 17, name)
            XCTAssertEqual(expected.count, 17, name)
            for (value, reference) in zip(fields.dropFirst(2), expected) {
                XCTAssertEqual(try XCTUnwrap(Double(value)), try XCTUnwrap(Double(reference)), accuracy: 1e-6, name)
            }
        }

        let missing = try CLI.run(["predict", pipeline, "--results", results, "--quiet", "--images", folder + "/nowhere"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.output.contains("\(folder)/nowhere: no such image folder"), missing.output)
        let stray = try CLI.run(["predict", pipeline, "--results", results, "--out", output])
        XCTAssertNotEqual(stray.status, 0)
        XCTAssertTrue(stray.output.contains("--out goes with --images"), stray.output)
    }
}

import Foundation
import XCTest

/// canopy stats, folds, bench loader and the pipeline commands' error handling, run as a user runs them.
final class DataCommandTests: XCTestCase {
    func copyOfSample() throws -> String {
        let folder = NSTemporaryDirectory() + "canopy-cli-data-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for item in ["train_v2.csv", "sample_submission_v2.csv", "train-jpg", "test-jpg", "test-jpg-additional"] {
            try FileManager.default.copyItem(atPath: CLI.repository.path + "/datasets/planet-sample/" + item, toPath: folder + "/" + item)
        }
        return folder
    }

    func testStatsWritesTheStatisticsBesideTheData() throws {
        let root = try copyOfSample()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let (status, output) = try CLI.run(["stats", root])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("20 chips in"), output)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: root + "/canopy-stats-rgb.json"))) as? [String: Any]
        XCTAssertEqual(json?["chips"] as? Int, 20)
        // Mean and population standard deviation of the 20 chips' pixels, from Pillow's decode and numpy
        // (scripts/test-values/normalization_statistics.py), in the file and in the printed table.
        let mean = [0.3253058070785443, 0.35755560781648665, 0.3163708496123636]
        let std = [0.17721122502965495, 0.16051758831824262, 0.16315363687195605]
        let written = try XCTUnwrap(json?["mean"] as? [Double]), writtenStd = try XCTUnwrap(json?["std"] as? [Double])
        XCTAssertEqual(written.count, 3)
        XCTAssertEqual(writtenStd.count, 3)
        for band in 0..<3 {
            XCTAssertEqual(written[band], mean[band], accuracy: 4.5e-8, "mean, band \(band)")
            XCTAssertEqual(writtenStd[band], std[band], accuracy: 4.5e-8, "std, band \(band)")  // n − 1 would add 6e-8
        }
        for (band, letter) in ["R", "G", "B"].enumerated() {
            let line = String(format: "%-4@  %.6f  %.6f", letter, mean[band], std[band])
            XCTAssertTrue(output.contains(line), "\(line) in \(output)")
        }
    }

    func testFoldsPrintsEachLabelPerFold() throws {
        let root = try copyOfSample()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let (status, output) = try CLI.run(["folds", root, "--k", "4", "--seed", "2", "--out", root + "/folds.csv"])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("primary"), output)
        XCTAssertTrue(output.contains("fold 3"), output)
        let rows = try String(contentsOfFile: root + "/folds.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(rows.first, "image_name,fold")
        XCTAssertEqual(rows.count, 21)
    }

    func testBenchLoaderPrintsEveryVariantAndStreams() throws {
        let (status, output) = try CLI.run(["bench", "loader", "datasets/planet-sample", "--sizes", "64", "--workers", "1,2",
                                            "--rounds", "1", "--batch", "8", "--json"])
        XCTAssertEqual(status, 0, output)
        let rows = try CLI.jsonLines(output)
        XCTAssertEqual(rows.map { $0["variant"] as? String }, ["decode", "loader", "loader"])
        XCTAssertEqual(rows.map { $0["workers"] as? Int }, [1, 1, 2])
        XCTAssertTrue(rows.allSatisfy { ($0["chips_per_second"] as? Double ?? 0) > 0 })
        let (streamStatus, streamed) = try CLI.run(["bench", "loader", "datasets/planet-sample", "--sizes", "64", "--stream", "50", "--json"])
        XCTAssertEqual(streamStatus, 0, streamed)
        XCTAssertGreaterThan(try CLI.jsonLines(streamed).last?["peak_rss_mb"] as? Double ?? 0, 1)
    }

    func testABadPipelineFileIsOneLineNamingTheKey() throws {
        let file = NSTemporaryDirectory() + "canopy-bad-\(getpid()).yaml"
        defer { try? FileManager.default.removeItem(atPath: file) }
        try "data: {root: datasets/planet-sample}\nmodels:\n  - backbone: lenet5\n    epochs: lots\n".write(toFile: file, atomically: true, encoding: .utf8)
        let (status, output) = try CLI.run(["run", file])
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(output.contains("\(file):4: models.0.epochs: expected a whole number, got \"lots\""), output)
        XCTAssertFalse(output.contains("Fatal error"), output)
        let (missing, missingOutput) = try CLI.run(["run", "/nonexistent.yaml"])
        XCTAssertNotEqual(missing, 0)
        XCTAssertTrue(missingOutput.contains("/nonexistent.yaml: cannot read"), missingOutput)
        let (override, overrideOutput) = try CLI.run(["run", "pipelines/quickstart.yaml", "--set", "models.5.epochs=1"])
        XCTAssertNotEqual(override, 0)
        XCTAssertTrue(overrideOutput.contains("--set: models.5: no list item 5 (the list has 2)"), overrideOutput)
    }
}

import Foundation
import XCTest

/// Issue 17, problems 7–8 and the new flags, as a user meets them: errors are one line naming the
/// path and the reason, checked before any work; `--threads`, the pipeline's `threads:`, `--version`.
final class RunChecksTests: XCTestCase {
    var folder = ""
    var pipeline = ""

    override func setUpWithError() throws {
        (folder, pipeline) = try CLI.tinyPipeline(in: "canopy-cli-checks")
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: folder) }

    func testVersion() throws {
        let result = try CLI.run(["--version"])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertEqual(result.output, "canopy 0.1.0\n")
    }

    /// It used to print `Error: Error Domain=NSCocoaErrorDomain Code=512 "(null)"UserInfo={...}`.
    func testAResultsFolderThatCannotBeCreatedIsOneLineNamingThePathAndTheReason() throws {
        let blocker = folder + "/a-file"
        try "x".write(toFile: blocker, atomically: true, encoding: .utf8)
        let result = try CLI.run(["run", pipeline, "--results", blocker + "/results", "--quiet"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertEqual(result.output, "Error: \(blocker)/results: cannot create folder: \(blocker) is a file, not a folder\n")
        XCTAssertFalse(result.output.contains("NSCocoaErrorDomain"))
    }

    /// Foundation's file errors met later in a run (here: a file where the models folder goes) are one
    /// line too, not `Error Domain=NSCocoaErrorDomain Code=512 ... UserInfo={...}`.
    func testAFileErrorDuringTheRunIsOneLine() throws {
        let results = folder + "/results"
        try FileManager.default.createDirectory(atPath: results, withIntermediateDirectories: true)
        try "x".write(toFile: results + "/models", atomically: true, encoding: .utf8)
        let result = try CLI.run(["train", pipeline, "--results", results, "--quiet"])
        XCTAssertNotEqual(result.status, 0)
        let last = result.output.split(separator: "\n").last.map(String.init) ?? ""
        XCTAssertTrue(last.hasPrefix("Error: \(results)/models") && last.hasSuffix(": Not a directory"), result.output)
        XCTAssertFalse(result.output.contains("NSCocoaErrorDomain"), result.output)
    }

    /// It used to train every model, then say "no submission written" and exit 0.
    func testAMissingSampleSubmissionStopsTheRunBeforeTraining() throws {
        let data = folder + "/data"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        let sample = CLI.repository.appendingPathComponent("datasets/planet-sample").path
        for name in ["train_v2.csv", "train-jpg"] {
            try FileManager.default.createSymbolicLink(atPath: data + "/" + name, withDestinationPath: sample + "/" + name)
        }
        let results = folder + "/results"
        let result = try CLI.run(["run", pipeline, "--results", results, "--set", "data.root=\(data)"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertEqual(result.output, "Error: \(data)/sample_submission_v2.csv: no such file: a submission needs the sample submission "
                       + "(set outputs.submission: false to run without one)\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: results))
    }

    /// Two runs on one results folder used to both train, unaware of each other.
    func testASecondRunOnAResultsFolderInUseStopsNamingTheFirst() throws {
        let results = folder + "/results"
        try FileManager.default.createDirectory(atPath: results, withIntermediateDirectories: true)
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, 255)
        let lockHost = String(cString: name)
        // Process 1 never ends: the folder is in use.
        try "pid 1\nhost \(lockHost)\ncommand canopy run other.yaml\n".write(toFile: results + "/.canopy.lock", atomically: true, encoding: .utf8)
        let result = try CLI.run(["run", pipeline, "--results", results, "--quiet"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertEqual(result.output, "Error: \(results)/.canopy.lock: another run is using this results folder: process 1 on \(lockHost) "
                       + "(canopy run other.yaml); wait for it to finish, or remove the lock file if that process is gone\n")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: results), [".canopy.lock"], "nothing written")
    }

    func testThreadsFromTheCommandLineOrThePipeline() throws {
        let bad = try CLI.run(["run", pipeline, "--threads", "0"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.output.contains("--threads must be between 1 and 1024"), bad.output)
        // A refused run (its data folder is missing) still shows the setting was read: from the flag, then from the file.
        let flag = try CLI.run(["run", pipeline, "--threads", "1", "--set", "data.root=\(folder)/none", "--results", folder + "/r"])
        XCTAssertTrue(flag.output.hasPrefix("compute threads: 1\n"), flag.output)
        let key = try CLI.run(["run", pipeline, "--set", "threads=2", "--set", "data.root=\(folder)/none", "--results", folder + "/r"])
        XCTAssertTrue(key.output.hasPrefix("compute threads: 2\n"), key.output)
        XCTAssertTrue(key.output.contains("Error: data.root: \(folder)/none: no such dataset folder"), key.output)
    }
}

import Foundation
import XCTest

/// `mpirun -np 2 canopy ...` on this machine (loopback): a pipeline's folds spread over two ranks give
/// the bytes one process gives, `predict --images` sharded over two ranks writes the same file, and a
/// rank that dies or fails ends the job with its rank named (docs/DISTRIBUTED.md).
final class DistributedCommandTests: XCTestCase {
    var folder = ""

    override func setUpWithError() throws {
        guard MPI.launcher != nil else { throw XCTSkip("mpirun not found (scripts/install-deps.sh installs openmpi-bin)") }
        folder = try CLI.pipeline(in: "canopy-mpi", """
            name: tiny
            data: {root: datasets/planet-sample, input_size: 32}
            folds: {k: 3, seed: 3}
            models:
              - {backbone: lenet5, epochs: 2, batch_size: 5}
              - {name: lenet-b, backbone: lenet5, epochs: 1, batch_size: 4, seed: 9}
            threads: 1
            distributed: {mode: folds, timeout_seconds: 60}
            outputs: {report: false}
            """).folder
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: folder) }

    func file(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    func testFoldsOverTwoRanksGiveTheBytesOfOneProcess() throws {
        let one = try CLI.run(["run", folder + "/tiny.yaml", "--results", folder + "/one", "--quiet"])
        XCTAssertEqual(one.status, 0, one.output)
        let two = try MPI.run(ranks: 2, ["run", folder + "/tiny.yaml", "--results", folder + "/two"])
        XCTAssertEqual(two.status, 0, two.output)
        // Each rank trained its own share of the six (model, fold) jobs.
        XCTAssertTrue(two.output.contains("[rank 1]   lenet5 fold"), two.output)
        XCTAssertTrue(two.output.contains("[rank 0]   lenet5 fold"), two.output)
        for name in ["submission.csv", "predictions/ensemble-oof.csv", "predictions/ensemble-test.csv", "predictions/lenet-b-oof.csv",
                     "thresholds.json", "models/lenet5/fold-2/best.safetensors"] {
            XCTAssertEqual(try file(folder + "/one/" + name), try file(folder + "/two/" + name), name)
        }
        // Rank 1's epochs are in train_log.csv (its own log merged and removed).
        func rows(_ results: String) throws -> [String] {
            try String(contentsOfFile: results + "/train_log.csv", encoding: .utf8).split(separator: "\n")
                .map { $0.split(separator: ",").prefix(8).joined(separator: ",") }.sorted()
        }
        XCTAssertEqual(try rows(folder + "/one"), try rows(folder + "/two"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/two/train_log-rank-1.csv"))

        // Run again: every stage up to date, on both ranks.
        let again = try MPI.run(ranks: 2, ["run", folder + "/tiny.yaml", "--results", folder + "/two"])
        XCTAssertEqual(again.status, 0, again.output)
        XCTAssertTrue(again.output.contains("train: up to date"), again.output)
    }

    func testPredictImagesShardedOverTwoRanksWritesTheSameFile() throws {
        // 300 chips: three inference batches of 128, two on rank 0 and one on rank 1.
        let chips = folder + "/chips"
        try FileManager.default.createDirectory(atPath: chips, withIntermediateDirectories: true)
        let sample = CLI.repository.appendingPathComponent("datasets/planet-sample/test-jpg").path
        let names = try FileManager.default.contentsOfDirectory(atPath: sample).filter { $0.hasSuffix(".jpg") }.sorted()
        for copy in 0..<10 {
            for name in names { try FileManager.default.copyItem(atPath: sample + "/" + name, toPath: chips + "/c\(copy)-" + name) }
        }
        let one = try CLI.run(["predict", folder + "/tiny.yaml", "--results", folder + "/r", "--quiet", "--images", chips, "--out", folder + "/one.csv"])
        XCTAssertEqual(one.status, 0, one.output)
        let two = try MPI.run(ranks: 2, ["predict", folder + "/tiny.yaml", "--results", folder + "/r", "--images", chips, "--out", folder + "/two.csv"])
        XCTAssertEqual(two.status, 0, two.output)
        XCTAssertTrue(two.output.contains("[rank 1] predict \(chips)"), two.output)
        XCTAssertEqual(try String(contentsOfFile: folder + "/one.csv", encoding: .utf8).split(separator: "\n").count, 10 * names.count + 1)
        XCTAssertEqual(try file(folder + "/one.csv"), try file(folder + "/two.csv"))
    }

    func testARankKilledMidTrainingEndsTheJobAndTheRerunFinishesWithTheSameSubmission() throws {
        let one = try CLI.run(["run", folder + "/tiny.yaml", "--results", folder + "/one", "--quiet"])
        XCTAssertEqual(one.status, 0, one.output)
        // Rank 1 kills itself (SIGKILL) at its third durable write of the train stage: a checkpoint.
        let started = Date()
        let killed = try MPI.run(ranks: 2, ["run", folder + "/tiny.yaml", "--results", folder + "/two"], rank1Environment: ["CANOPY_CRASH_AT": "train:3"])
        XCTAssertNotEqual(killed.status, 0, killed.output)
        XCTAssertLessThan(Date().timeIntervalSince(started), 60)
        XCTAssertTrue(killed.output.contains("SIGKILL"), killed.output)
        XCTAssertTrue(killed.output.contains("rank 1"), killed.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/two/submission.csv"))

        let rerun = try MPI.run(ranks: 2, ["run", folder + "/tiny.yaml", "--results", folder + "/two"])
        XCTAssertEqual(rerun.status, 0, rerun.output)
        XCTAssertEqual(try file(folder + "/one/submission.csv"), try file(folder + "/two/submission.csv"))
    }

    func testDataParallelTwoRanksOf16AgreeWithOneProcessOf32AfterTwentySteps() throws {
        // 340 chips, 2 folds, fold 0 alone: 170 training chips, 5 steps of 32 an epoch, 4 epochs.
        let synth = try CLI.run(["synth", "--out", folder + "/data", "--train", "340", "--test", "20", "--seed", "5", "--size", "64"])
        XCTAssertEqual(synth.status, 0, synth.output)
        try """
            name: dp
            data: {root: \(folder)/data, input_size: 32}
            folds: {k: 2, seed: 1, train: [0]}
            models:
              - {backbone: lenet5, epochs: 4, batch_size: 32, optimizer: {kind: adam, learning_rate: 0.001}}
            threads: 1
            distributed: {mode: data, timeout_seconds: 60}
            outputs: {report: false}
            """.write(toFile: folder + "/dp.yaml", atomically: true, encoding: .utf8)
        let one = try CLI.run(["run", folder + "/dp.yaml", "--results", folder + "/one", "--quiet"])
        XCTAssertEqual(one.status, 0, one.output)
        let two = try MPI.run(ranks: 2, ["run", folder + "/dp.yaml", "--results", folder + "/two"])
        XCTAssertEqual(two.status, 0, two.output)
        let log = try String(contentsOfFile: folder + "/two/train_log.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(log.count, 5, "4 epochs, logged once (by rank 0)")
        let weights = "/models/lenet5/fold-0/last.safetensors"
        let compared = try CLI.run(["weights", "compare", folder + "/one" + weights, folder + "/two" + weights, "--json"])
        XCTAssertEqual(compared.status, 0, compared.output)
        let line = try XCTUnwrap(try CLI.jsonLines(compared.output).first)
        XCTAssertEqual(line["tensors"] as? Int, 10)
        // Float rounding: the sums over the batch are taken in another order (measured: 4.0e-7).
        XCTAssertLessThan(try XCTUnwrap(line["largest_relative_difference"] as? Double), 1e-5, compared.output)
        XCTAssertEqual(try file(folder + "/one/submission.csv").count, try file(folder + "/two/submission.csv").count)
    }

    func testARankThatFailsEndsTheJobWithItsRankNamed() throws {
        // Rank 1 sees fewer chips than rank 0 (as a machine with another copy of the data would).
        let failed = try MPI.run(ranks: 2, ["run", folder + "/tiny.yaml", "--results", folder + "/two"],
                                 rank1Arguments: ["--set", "data.limit_train=10"])
        XCTAssertNotEqual(failed.status, 0, failed.output)
        XCTAssertTrue(failed.output.contains("canopy: rank 1 of 2:"), failed.output)
        XCTAssertTrue(failed.output.contains("this rank sees other chips"), failed.output)
    }
}

/// Runs `canopy` under Open MPI's launcher, as a user does on one machine.
enum MPI {
    static var launcher: String? {
        ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// `mpirun -np RANKS canopy ARGUMENTS`; rank 1 may get its own extra environment or arguments
    /// (Open MPI's colon-separated form: one program for rank 0, one for the others).
    static func run(ranks: Int, _ arguments: [String], rank1Environment: [String: String] = [:], rank1Arguments: [String] = []) throws -> (status: Int32, output: String) {
        let common = ["--allow-run-as-root", "--oversubscribe", "--bind-to", "none"]
        var command = common + ["-np", "1", CLI.executable.path] + arguments
        command += [":"] + ["-np", String(ranks - 1)] + rank1Environment.sorted { $0.key < $1.key }.flatMap { ["-x", "\($0.key)=\($0.value)"] }
            + [CLI.executable.path] + arguments + rank1Arguments
        let process = Process()
        process.executableURL = URL(fileURLWithPath: launcher!)
        process.arguments = command
        process.currentDirectoryURL = CLI.repository
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

import Backbones
import Foundation
import NN
import Pipeline
import PlanetData
import Support
import Tensor
import Training
import XCTest

/// Issue 17, problems 3–7: what a run checks before it writes anything, the results folder's lock,
/// model names, `init` weights that do not fit, statistics tied to their chip set, and a validation
/// loss that is not finite.
final class ValidationTests: XCTestCase {
    static let sample = PipelineConfigTests.repository.appendingPathComponent("datasets/planet-sample").path
    var folder = ""

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "canopy-validation-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: folder) }

    func config(root: String = sample, _ extra: String = "", model: String = "{backbone: lenet5, epochs: 1, batch_size: 5}") throws -> PipelineConfig {
        try PipelineConfig.parse("""
            name: check
            data: {root: \(root), input_size: 32}
            folds: {k: 2, seed: 3}
            models:
              - \(model)
            outputs: {report: false}
            \(extra)
            """, file: "check.yaml", defaultName: "check")
    }

    func runner(_ config: PipelineConfig, results: String) -> PipelineRunner {
        let progress = ProgressPrinter(logPath: results + "/train_log.csv", isTerminal: false)
        progress.quiet = true
        return PipelineRunner(config: config, source: "check.yaml", results: results, progress: progress)
    }

    /// A dataset folder of links to the sample's files, without its statistics (and, when asked,
    /// without the sample submission).
    func linkedSample(sampleSubmission: Bool = true) throws -> String {
        let root = folder + "/data"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: Self.sample)
        where !name.hasPrefix("canopy-stats") && (sampleSubmission || name != PlanetDataset.sampleSubmissionFile) {
            try FileManager.default.createSymbolicLink(atPath: root + "/" + name, withDestinationPath: Self.sample + "/" + name)
        }
        return root
    }

    // MARK: - 5. names

    func testModelNamesAreCheckedWhenThePipelineIsRead() throws {
        for (name, words) in [("a/b", "has \"/\""), ("\"\"", "cannot be empty"), ("..", "not a usable folder name"),
                              ("ensemble", "taken by the ensemble"), ("x y", "has \" \"")] {
            XCTAssertThrowsError(try config(model: "{name: \(name), backbone: lenet5}"), name) { error in
                XCTAssertTrue("\(error)".hasPrefix("check.yaml:5: models.0.name: "), "\(error)")
                XCTAssertTrue("\(error)".contains(words), "\(error)")
            }
        }
        XCTAssertThrowsError(try PipelineConfig.parse("""
            data: {root: x}
            models: [{name: Net, backbone: lenet5}, {name: net, backbone: lenet5}]
            """, file: "two.yaml", defaultName: "two")) { error in
            XCTAssertTrue("\(error)".contains("differ only in case"), "\(error)")
        }
    }

    func testAGoodNameAndTheNewKeysAreAccepted() throws {
        let parsed = try config("threads: 3", model: "{name: res-net_18.v2, backbone: lenet5, init_strict: false}")
        XCTAssertEqual(parsed.models[0].name, "res-net_18.v2")
        XCTAssertEqual(parsed.lenientInit, ["res-net_18.v2"])
        XCTAssertEqual(parsed.threads, 3)
        XCTAssertThrowsError(try config("threads: 0"))
        XCTAssertNil(try config().threads)
    }

    // MARK: - 7. nothing written before the checks pass

    func testARunRefusedForABadDataRootLeavesTheResultsFolderUntouched() throws {
        let results = folder + "/results"
        try FileManager.default.createDirectory(atPath: results, withIntermediateDirectories: true)
        try "old config\n".write(toFile: results + "/config.json", atomically: true, encoding: .utf8)
        let bad = try config(root: folder + "/no-such-data")
        XCTAssertThrowsError(try runner(bad, results: results).run()) { error in
            XCTAssertTrue(error is PreflightError, "\(error)")
            XCTAssertTrue("\(error)".contains("no-such-data: no such dataset folder"), "\(error)")
        }
        XCTAssertEqual(try String(contentsOfFile: results + "/config.json", encoding: .utf8), "old config\n")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: results), ["config.json"])
        // A results folder that does not exist yet is not even created.
        XCTAssertThrowsError(try runner(bad, results: folder + "/new").run())
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/new"))
    }

    // MARK: - 8. the sample submission, up front

    func testAMissingSampleSubmissionIsAnErrorBeforeAnyWorkUnlessNoSubmissionIsWanted() throws {
        let root = try linkedSample(sampleSubmission: false)
        let results = folder + "/results"
        XCTAssertThrowsError(try runner(try config(root: root), results: results).run(through: .prepare)) { error in
            XCTAssertEqual("\(error)", "\(root)/sample_submission_v2.csv: no such file: a submission needs the sample submission "
                           + "(set outputs.submission: false to run without one)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: results))
        // outputs.submission: false (the outputs section of the pipeline) runs without one.
        let noSubmission = try config(root: root).with { $0.outputs.submission = false }
        try runner(noSubmission, results: results).run(through: .prepare)
        XCTAssertTrue(FileManager.default.fileExists(atPath: results + "/folds.csv"))
    }

    // MARK: - 7. one run per results folder

    func testALiveLockNamesTheOtherProcessAndAStaleOneIsTakenOver() throws {
        let results = folder + "/results"
        try FileManager.default.createDirectory(atPath: results, withIntermediateDirectories: true)
        let lock = results + "/" + FolderLock.fileName
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, 255)
        let hostName = String(cString: host)
        // Process 1 is always alive: another run holds the folder.
        try "pid 1\nhost \(hostName)\ncommand canopy run other.yaml\n".write(toFile: lock, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try runner(try config(), results: results).run(through: .prepare)) { error in
            XCTAssertTrue("\(error)".contains("another run is using this results folder: process 1 on \(hostName) (canopy run other.yaml)"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: results + "/config.json"), "nothing written while locked")

        // A process that has ended: its lock is stale and taken over; the run releases it at the end.
        let ended = Process()
        ended.executableURL = URL(fileURLWithPath: "/bin/true")
        try ended.run()
        ended.waitUntilExit()
        try "pid \(ended.processIdentifier)\nhost \(hostName)\ncommand canopy run old.yaml\n".write(toFile: lock, atomically: true, encoding: .utf8)
        try runner(try config(), results: results).run(through: .prepare)
        XCTAssertTrue(FileManager.default.fileExists(atPath: results + "/config.json"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: lock), "released")

        // Two locks at once in one process: the second is refused, naming this process.
        let first = try FolderLock.acquire(folder: results, command: "first")
        XCTAssertThrowsError(try FolderLock.acquire(folder: results, command: "second")) { error in
            XCTAssertTrue("\(error)".contains("process \(getpid())"), "\(error)")
        }
        first.release()
        XCTAssertNoThrow(try FolderLock.acquire(folder: results, command: "third").release())
    }

    // MARK: - 3. statistics tied to their chip set

    func testStatisticsOfALimitTrainTrialNeverReachTheFullRun() throws {
        let root = try linkedSample()
        let stored = root + "/canopy-stats-rgb.json"
        let trial = try config(root: root, model: "{backbone: lenet5}").with { $0.data.limitTrain = 6 }
        try runner(trial, results: folder + "/trial").run(through: .prepare)
        XCTAssertFalse(FileManager.default.fileExists(atPath: stored), "a limit_train trial writes nothing into the data folder")
        XCTAssertEqual(try NormalizationStatistics.read(folder + "/trial/stats-rgb.json").chips, 6)

        try runner(try config(root: root), results: folder + "/full").run(through: .prepare)
        let full = try NormalizationStatistics.read(stored)
        XCTAssertEqual(full.chips, 20, "the full run computes its own")
        XCTAssertEqual(try NormalizationStatistics.read(folder + "/full/stats-rgb.json"), full)

        // Another trial leaves the data folder's statistics (of all 20 chips) as they are and uses its own.
        let before = try Data(contentsOf: URL(fileURLWithPath: stored))
        try runner(trial.with { $0.data.limitTrain = 7 }, results: folder + "/trial2").run(through: .prepare)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: stored)), before)
        XCTAssertEqual(try NormalizationStatistics.read(folder + "/trial2/stats-rgb.json").chips, 7)

        // A file of 6 chips in the data folder (as the old code left it) is not taken for the full set.
        var six = try NormalizationStatistics.read(folder + "/trial/stats-rgb.json")
        six.chipSet = nil
        try six.write(to: stored)
        try runner(try config(root: root), results: folder + "/full2").run(through: .prepare)
        XCTAssertEqual(try NormalizationStatistics.read(folder + "/full2/stats-rgb.json").chips, 20)
    }

    /// A data folder the statistics cannot be written to. Tests run as root, for whom a chmod'ed
    /// folder is still writable, so the file's place is taken by a folder instead (rename then fails
    /// with EISDIR): the same path through the code as a read-only data folder.
    func testStatisticsThatCannotBeStoredWithTheDataAreKeptWithTheResultsAndNotRecomputed() throws {
        let root = try linkedSample()
        try FileManager.default.createDirectory(atPath: root + "/canopy-stats-rgb.json", withIntermediateDirectories: true)
        try assertStatisticsAreKeptWithTheResults(root: root)
    }

    /// The same with a chmod'ed data folder, where permissions apply (not as root).
    func testAReadOnlyDataFolderKeepsTheStatisticsWithTheResults() throws {
        guard geteuid() != 0 else {
            throw XCTSkip("running as root, for whom a read-only (chmod 555) folder is still writable; "
                          + "testStatisticsThatCannotBeStoredWithTheData... covers the same path with a folder in the file's place")
        }
        let root = try linkedSample()
        try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: root)
        defer { try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: root) }
        try assertStatisticsAreKeptWithTheResults(root: root)
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/canopy-stats-rgb.json"))
    }

    /// A run on `root` keeps the statistics of its 20 chips in the results folder, and a second run takes
    /// them from there (the copy is not rewritten).
    private func assertStatisticsAreKeptWithTheResults(root: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let results = folder + "/results"
        try runner(try config(root: root), results: results).run(through: .prepare)
        let copy = results + "/stats-rgb.json"
        XCTAssertEqual(try NormalizationStatistics.read(copy).chips, 20, file: file, line: line)
        let written = try FileManager.default.attributesOfItem(atPath: copy)[.modificationDate] as? Date
        Thread.sleep(forTimeInterval: 0.05)
        try runner(try config(root: root), results: results).run(through: .prepare)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: copy)[.modificationDate] as? Date, written, file: file, line: line)
    }

    // MARK: - 6. init weights

    func lenetFile(classes: Int = 17, bands: Int = 3, named path: String, edit: ((String, StateEntry) -> Void)? = nil) throws -> String {
        var random = SeededRandom(seed: 5)
        let model = try XCTUnwrap(BackboneRegistry.make("lenet5", bands: bands, classes: classes, random: &random))
        if let edit { for (name, entry) in model.state(prefix: "") { edit(name, entry) } }
        try Checkpoint.save(model, to: path)
        return path
    }

    func testInitWeightsOfAnotherNetworkAreRefusedBeforeTraining() throws {
        let file = folder + "/other.safetensors"
        try SafeTensorsFile(tensors: ["conv_stem.weight": StoredTensor(Tensor(shape: [8, 3, 3, 3])),
                                      "head.bias": StoredTensor(Tensor(shape: [10]))]).write(to: file)
        let results = folder + "/results"
        XCTAssertThrowsError(try runner(try config(model: "{backbone: lenet5, init: \(file)}"), results: results).run()) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix("models.0.init: \(file) does not fit lenet5 (lenet5, 3 bands): 8 of its 10 tensors would start fresh: "
                                         + "features.0.weight (not in \(file))"), text)
            XCTAssertTrue(text.contains("(loaded 0, adapted 0; the file's 2 other tensors fit no tensor of the model)"), text)
            XCTAssertTrue(text.contains("init_strict: false"), text)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: results), "refused before anything is written")
        // init_strict: false accepts it.
        try runner(try config(model: "{backbone: lenet5, init: \(file), init_strict: false}"), results: results).run(through: .prepare)
    }

    func testAThousandClassHeadIsExpectedAndSevenBandsAreAdapted() throws {
        let imageNet = try lenetFile(classes: 1000, named: folder + "/imagenet-style.safetensors")
        try runner(try config(model: "{backbone: lenet5, init: \(imageNet)}"), results: folder + "/r3").preflight()

        var random = SeededRandom(seed: 1)
        let seven = try XCTUnwrap(BackboneRegistry.make("lenet5", bands: 7, classes: 17, random: &random))
        let report = try WeightTransfer.load(imageNet, into: seven)
        XCTAssertEqual(report.adapted.map(\.name), ["features.0.weight"])
        XCTAssertEqual(report.fresh.map(\.name), ["classifier.4.weight", "classifier.4.bias"])
        // The adapted filter: each colour halved over its JPEG and TIFF copies, NIR from red.
        let file = try SafeTensorsFile.read(imageNet).tensors["features.0.weight"]!.tensor
        let adapted = seven.state(prefix: "").first { $0.name == "features.0.weight" }!.entry.value
        let plane = 25
        for k in [0, 7, 24] {
            XCTAssertEqual(adapted.scalars[1 * plane + k], file.scalars[1 * plane + k] / 2)      // G (JPEG)
            XCTAssertEqual(adapted.scalars[4 * plane + k], file.scalars[1 * plane + k] / 2)      // G (TIFF)
            XCTAssertEqual(adapted.scalars[6 * plane + k], file.scalars[0 * plane + k])          // N from R
        }
        let sevenBands = try config(model: "{backbone: lenet5, init: \(imageNet)}").with { $0.data.bands = .rgbAndRGBN }
        try runner(sevenBands, results: folder + "/r7").preflight()
    }

    /// A torch.save file as `init`: read without Python by the check before the run (here it does not fit
    /// lenet5, which says it was read); one whose pickle names os.system is refused there, naming it.
    func testATorchSaveInitFileIsReadBeforeTrainingAndAMaliciousOneRefused() throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("NNTests/Fixtures/torch").path
        let tiny = fixtures + "/tiny_state_dict.pth", results = folder + "/results"
        XCTAssertThrowsError(try runner(try config(model: "{backbone: lenet5, init: \(tiny)}"), results: results).preflight()) { error in
            XCTAssertTrue("\(error)".contains("models.0.init: \(tiny) does not fit lenet5 (lenet5, 3 bands): "), "\(error)")
            XCTAssertTrue("\(error)".contains("(loaded 0, adapted 0; the file's 8 other tensors fit no tensor of the model)"), "\(error)")
        }
        let evil = fixtures + "/malicious_os_system.pth"
        XCTAssertThrowsError(try runner(try config(model: "{backbone: lenet5, init: \(evil)}"), results: results).preflight()) { error in
            XCTAssertTrue("\(error)".contains("models.0.init: \(evil): data.pkl byte 200: refused global posix.system: "), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: results), "refused before anything is written")
    }

    // MARK: - 4. a validation loss that is not finite

    /// Weights that are finite but overflow the logits to +∞: every training batch has a NaN loss
    /// (skipped under skip_batch, so the weights stay as they are), and the validation loss is NaN
    /// while the probabilities (σ(∞) = 1) are finite. It used to reach `resume.safetensors`' JSON as
    /// `EncodingError.invalidValue: nan`.
    func testANonFiniteValidationLossStopsTheRunNamingModelFoldAndEpoch() throws {
        let file = try lenetFile(named: folder + "/overflowing.safetensors") { name, entry in
            guard case .parameter(let parameter) = entry else { return }
            if name == "classifier.4.bias" { parameter.value = Tensor(shape: parameter.value.shape, repeating: .greatestFiniteMagnitude) }
            if name == "classifier.4.weight" { parameter.value = Tensor(shape: parameter.value.shape, repeating: .greatestFiniteMagnitude) }
        }
        let model = "{backbone: lenet5, epochs: 2, batch_size: 5, init: \(file), on_non_finite: skip_batch}"
        XCTAssertThrowsError(try runner(try config(model: model), results: folder + "/results").run(through: .train)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix("lenet5 fold 0: the validation loss became nan at epoch 1 (2 batches skipped)"), text)
            XCTAssertFalse(text.contains("\n"), text)
            XCTAssertFalse(text.contains("EncodingError"), text)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/results/models/lenet5/fold-0/resume.safetensors"))
    }
}

extension PipelineConfig {
    func with(_ change: (inout PipelineConfig) -> Void) -> PipelineConfig {
        var copy = self
        change(&copy)
        return copy
    }
}

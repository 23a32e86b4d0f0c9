import Foundation
import NN
import Pipeline
import PlanetData
import Training
import XCTest

/// A run stopped in the middle of an epoch, then started again, ends with the same submission, byte
/// for byte, as a run that never stopped.
///
/// How it stops mid-epoch, in process and deterministically: the pipeline reads no image before
/// training (once the statistics file is with the data), and each epoch's training chips are a seeded
/// shuffle whose short last batch is dropped. One chip that epoch 1 drops but epoch 2 uses in a later
/// batch is truncated on disk, so fold 0 trains epoch 1 whole, then stops with that chip's decode error
/// after one or more optimiser steps of epoch 2 — what a kill at that moment leaves on disk, since
/// nothing is written during an epoch. The chip is restored and the run started again.
final class ResumeMidEpochTests: XCTestCase {
    static let batchSize = 3
    /// Every file a run writes is fsynced; in memory (tmpfs) when there is one, that costs nothing.
    static let scratch = FileManager.default.isWritableFile(atPath: "/dev/shm") ? "/dev/shm/" : NSTemporaryDirectory()

    func config(root: String, seed: UInt64, model extra: String = "") throws -> PipelineConfig {
        try PipelineConfig.parse("""
            name: resume
            data: {root: \(root), input_size: 32, limit_test: 6}
            folds: {k: 2, seed: 3}
            models:
              - {backbone: lenet5, epochs: 2, batch_size: \(Self.batchSize), seed: \(seed), optimizer: {kind: adam, learning_rate: 0.002}, augmentation: {symmetries: d4}\(extra)}
            tta: flips
            outputs: {report: false, sample_chips: 0}
            """, file: "resume.yaml", defaultName: "resume")
    }

    func run(_ config: PipelineConfig, results: String, through stage: PipelineRunner.Stage = .report) throws {
        let progress = ProgressPrinter(logPath: results + "/train_log.csv", isTerminal: false)
        progress.quiet = true
        try PipelineRunner(config: config, source: "resume.yaml", results: results, progress: progress).run(through: stage)
    }

    /// The epoch history stored in a fold's resume file, and its optimiser step count.
    func resumeState(_ path: String) throws -> (history: [EpochRecord], step: Int) {
        let metadata = try Checkpoint.loadTrainingState(from: path).metadata
        let history = try JSONDecoder().decode([EpochRecord].self, from: Data(try XCTUnwrap(metadata["canopy.history"]).utf8))
        return (history, try XCTUnwrap(Int(metadata["canopy.step"] ?? "")))
    }

    func testAKillInTheMiddleOfAnEpochResumesToTheSameSubmission() throws {
        try checkAKillInTheMiddleOfAnEpoch()
    }

    /// With `swa` averaging both epochs: the average of epoch 1 is in the resume file, and the
    /// averaged model (best.safetensors, what the fold predicts with) is the same bytes.
    func testAKillInTheMiddleOfAnEpochResumesToTheSameSWAAverage() throws {
        try checkAKillInTheMiddleOfAnEpoch(model: ", swa: {epochs: 2}")
    }

    func checkAKillInTheMiddleOfAnEpoch(model extra: String = "") throws {
        let swa = !extra.isEmpty
        let folder = Self.scratch + "canopy-resume-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let root = try StageCacheTests.copySample(into: folder)

        // Fold 0's training chips (dataset order), from the split the pipeline writes. This first
        // prepare also stores the statistics with the data: later runs read them, no image.
        let interrupted = folder + "/interrupted"
        try run(try config(root: root, seed: 1, model: extra), results: interrupted, through: .prepare)
        XCTAssertTrue(FileManager.default.fileExists(atPath: root + "/canopy-stats-rgb.json"))
        let split = try FoldAssignment.read(interrupted + "/folds.csv", expectedFolds: 2)
        let dataset = try PlanetDataset.open(root: root, bands: .rgb)
        let training = dataset.train.filter { split.foldOf[$0.name] != 0 }
        let batches = training.count / Self.batchSize
        XCTAssertGreaterThanOrEqual(batches, 3)
        XCTAssertNotEqual(training.count % Self.batchSize, 0, "epochs drop a short last batch")

        // The first model seed whose shuffles drop a chip in epoch 1 (index 0) and put it in batch 2
        // or later of epoch 2, as the trainer's loader orders them (seed mixed with the fold).
        var found: (seed: UInt64, chip: Int, batch: Int)?
        for seed in UInt64(1)...50 where found == nil {
            let loader = ChipLoader(chips: training, bands: .rgb, options: LoaderOptions(
                batchSize: Self.batchSize, inputSize: 32, shuffle: true, dropLast: true, seed: ChipLoader.mix(seed, 0)))
            let first = loader.order(epoch: 0), second = loader.order(epoch: 1)
            for chip in first[(batches * Self.batchSize)...] {
                let batch = second.firstIndex(of: chip)! / Self.batchSize
                if batch >= 1 && batch < batches { found = (seed, chip, batch); break }
            }
        }
        let (seed, chip, stopBatch) = try XCTUnwrap(found)
        let config = try config(root: root, seed: seed, model: extra)
        let victim = try XCTUnwrap(training[chip].jpegPath)
        let original = try Data(contentsOf: URL(fileURLWithPath: victim))

        // A: the uninterrupted run.
        let whole = folder + "/whole"
        try run(config, results: whole)

        // B: epoch 2 of fold 0 stops at its batch `stopBatch + 1`, after `stopBatch` optimiser steps.
        try original.prefix(300).write(to: URL(fileURLWithPath: victim))
        let resumePath = interrupted + "/models/lenet5/fold-0/resume.safetensors"
        XCTAssertThrowsError(try run(config, results: interrupted)) { error in
            XCTAssertTrue("\(error)".contains(victim) && "\(error)".contains("truncated JPEG"), "\(error)")
        }
        // What is on disk is epoch 1's state: 1 of 2 epochs, `batches` steps; nothing of the fold done.
        let stopped = try resumeState(resumePath)
        XCTAssertEqual(stopped.history.map(\.epoch), [1])
        XCTAssertEqual(stopped.step, batches)
        let stoppedState = try Checkpoint.loadTrainingState(from: resumePath)
        XCTAssertEqual(stoppedState.metadata["canopy.swa_count"], swa ? "1" : nil, "epoch 1's weights are in the average")
        XCTAssertEqual(stoppedState.tensors(prefix: "swa.").mapValues(\.tensor),
                       swa ? try SafeTensorsFile.read(interrupted + "/models/lenet5/fold-0/last.safetensors").tensors.mapValues(\.tensor) : [:])
        XCTAssertFalse(FileManager.default.fileExists(atPath: interrupted + "/models/lenet5/fold-0/fold.json"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: interrupted + "/submission.csv"))
        // The stop was inside epoch 2: its loader hands out `stopBatch` (>= 1) good batches, then fails.
        let epochTwo = ChipLoader(chips: training, bands: .rgb, options: LoaderOptions(
            batchSize: Self.batchSize, inputSize: 32, shuffle: true, dropLast: true, seed: ChipLoader.mix(seed, 0))).epoch(1)
        for _ in 0..<stopBatch { XCTAssertNotNil(try epochTwo.next()) }
        XCTAssertThrowsError(try epochTwo.next())

        // Started again with the chip restored, the run resumes after epoch 1 (the epoch record is
        // the stored one, timing included) and ends with the uninterrupted run's bytes.
        try original.write(to: URL(fileURLWithPath: victim))
        try run(config, results: interrupted)
        struct FoldFile: Decodable { var history: [EpochRecord]; var swa: AveragedRecord? }
        let fold = try JSONDecoder().decode(FoldFile.self, from: Data(contentsOf: URL(fileURLWithPath: interrupted + "/models/lenet5/fold-0/fold.json")))
        XCTAssertEqual(fold.history.count, 2)
        XCTAssertEqual(fold.history.first, stopped.history.first, "resumed from the stored epoch, not started over")
        let wholeFold = try JSONDecoder().decode(FoldFile.self, from: Data(contentsOf: URL(fileURLWithPath: whole + "/models/lenet5/fold-0/fold.json")))
        XCTAssertEqual(fold.swa.map { [$0.firstEpoch, $0.lastEpoch] }, swa ? [1, 2] : nil)
        XCTAssertEqual(fold.swa?.validationMeanF2, wholeFold.swa?.validationMeanF2)
        XCTAssertEqual(fold.swa?.validationLoss, wholeFold.swa?.validationLoss)
        let log = try String(contentsOfFile: whole + "/train_log.csv", encoding: .utf8)
        XCTAssertEqual(log.contains("\nlenet5,0,swa,,\(wholeFold.swa?.validationLoss ?? 0),"), swa, log)
        for file in ["submission.csv", "predictions/ensemble-test.csv", "predictions/lenet5-oof.csv", "thresholds.json",
                     "models/lenet5/fold-0/best.safetensors", "models/lenet5/fold-0/last.safetensors", "models/lenet5/fold-0/test.csv"] {
            let a = try Data(contentsOf: URL(fileURLWithPath: whole + "/" + file))
            let b = try Data(contentsOf: URL(fileURLWithPath: interrupted + "/" + file))
            XCTAssertTrue(a == b, "\(file) differs after the mid-epoch stop (\(a.count) and \(b.count) bytes)")
        }
        XCTAssertGreaterThan(try String(contentsOfFile: whole + "/submission.csv", encoding: .utf8).split(separator: "\n").count, 10)
    }
}

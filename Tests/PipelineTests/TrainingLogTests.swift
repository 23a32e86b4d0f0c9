@testable import Pipeline
@testable import Training
import XCTest

/// `train_log.csv` holds the epochs of the run that made the models, whatever ran in the folder before.
final class TrainingLogTests: XCTestCase {
    func record(_ epoch: Int) -> EpochRecord {
        EpochRecord(epoch: epoch, trainLoss: 0.5, validationLoss: 0.4, validationMeanF2: 0.8, validationThreshold: 0.2,
                    learningRate: 0.001, seconds: 1, loaderWaitSeconds: 0, imagesPerSecond: 100)
    }

    func rows(_ path: String) throws -> [String] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").dropFirst().map { $0.split(separator: ",").prefix(3).joined(separator: ",") }
    }

    func testARetrainedFoldDropsTheEarlierRunsRowsAndAResumedOneKeepsThem() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("canopy-log-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/train_log.csv"

        // The first run: resnet18 fold 0 for 3 epochs with averaged weights, fold 1 and lenet5 fold 0 for 2.
        let first = ProgressPrinter(logPath: path, isTerminal: false)
        first.quiet = true
        for epoch in 1...3 { first.epochEnded(model: "resnet18", fold: 0, record: record(epoch), epochs: 3) }
        first.averaged(model: "resnet18", fold: 0, record: AveragedRecord(firstEpoch: 2, lastEpoch: 3, validationLoss: 0.3,
                                                                           validationMeanF2: 0.9, validationThreshold: 0.2, batchNormBatches: 0, seconds: 1))
        for epoch in 1...2 { first.epochEnded(model: "resnet18", fold: 1, record: record(epoch), epochs: 2) }
        for epoch in 1...2 { first.epochEnded(model: "lenet5", fold: 0, record: record(epoch), epochs: 2) }

        // A second run retrains resnet18 fold 0 for 2 epochs and resumes fold 1 after its first epoch.
        let second = ProgressPrinter(logPath: path, isTerminal: false)
        second.quiet = true
        second.epochEnded(model: "resnet18", fold: 0, record: record(1), epochs: 2)
        XCTAssertEqual(try rows(path), ["resnet18,1,1", "resnet18,1,2", "lenet5,0,1", "lenet5,0,2", "resnet18,0,1"])
        second.epochEnded(model: "resnet18", fold: 0, record: record(2), epochs: 2)
        second.epochEnded(model: "resnet18", fold: 1, record: record(2), epochs: 2)
        XCTAssertEqual(try rows(path), ["resnet18,1,1", "lenet5,0,1", "lenet5,0,2", "resnet18,0,1", "resnet18,0,2", "resnet18,1,2"])
    }
}

import Foundation
import Support
import Training

/// Progress of a run on the terminal: a live bar per epoch (loss, images/s, ETA, peak RSS) and per
/// prediction pass (images/s, ETA, peak RSS) when standard output is a terminal, plain lines every few seconds otherwise; and every
/// epoch appended to `train_log.csv` in the results folder (and, with `swa`, the averaged weights' validation, epoch `swa`).
public final class ProgressPrinter: TrainingObserver {
    public let isTerminal: Bool
    let logPath: String?
    private var logRows: [String] = []
    private var lastLine = Date.distantPast
    private var barShown = false
    private var lastTenth = 0
    private let started = Date()
    private var epochStarted = Date()
    public var quiet = false
    /// Put before every line (`[rank 1] ` on the ranks other than 0 of an `mpirun` job).
    public var linePrefix = ""
    /// The train stage's plan, for the whole run's ETA after each epoch.
    var estimate: RunEstimate?
    /// The fold number a refit on every chip trains under (`folds.refit`): shown as "refit".
    var refitFold: Int?
    /// Gets each `train_log.csv` row as it is written (MLflow tracking), off the training thread.
    var tracker: MLflowTracker?
    /// Where warnings go, from any thread.
    public let warningLog: WarningLog
    /// The warnings this run printed (to standard error), in order.
    public var warnings: [String] { warningLog.lines }

    func unit(_ model: String, _ fold: Int) -> String { fold == refitFold ? "\(model) refit" : "\(model) fold \(fold)" }

    public static let logHeader = "model,fold,epoch,train_loss,validation_loss,validation_mean_f2,validation_threshold,learning_rate,seconds,images_per_second,loader_wait_seconds"

    public init(logPath: String?, isTerminal: Bool = isatty(STDOUT_FILENO) != 0) {
        self.logPath = logPath
        self.isTerminal = isTerminal
        warningLog = WarningLog(isTerminal: isTerminal)
        if let logPath, let existing = try? String(contentsOfFile: logPath, encoding: .utf8) {
            logRows = existing.split(separator: "\n").dropFirst().map(String.init)
        }
    }

    public func stage(_ text: String) {
        endBar()
        say("[\(elapsed())] \(text)")
    }

    public func note(_ message: String) {
        endBar()
        say("  \(message)")
    }

    /// `warning: MESSAGE` on standard error, even with `quiet` (it is not progress).
    public func warn(_ message: String) { warningLog.warn(message) }

    public func batchEnded(model: String, fold: Int, epoch: Int, batch: Int, batches: Int, loss: Float, imagesPerSecond: Double) {
        if batch == 1 { epochStarted = Date() }
        let perBatch = Date().timeIntervalSince(epochStarted) / Double(batch)
        let text = String(format: "%@ epoch %d: %@ %d/%d  loss %.4f  %.1f img/s  ETA %@  peak RSS %.0f MB", unit(model, fold), epoch + 1,
                          bar(batch, batches), batch, batches, loss, imagesPerSecond, clock(perBatch * Double(batches - batch)),
                          peakResidentMegabytes())
        update(text, final: false)
    }

    public func epochEnded(model: String, fold: Int, record: EpochRecord, epochs: Int) {
        let validation = record.validationLoss.isNaN ? "no chips held out"
            : String(format: "val loss %.4f  val F2 %.4f (t=%.2f)", record.validationLoss, record.validationMeanF2, record.validationThreshold)
        update(String(format: "%@ epoch %d/%d: train loss %.4f  %@  %.1f img/s  %.0f s", unit(model, fold), record.epoch, epochs,
                      record.trainLoss, validation, record.imagesPerSecond, record.seconds), final: true)
        if var estimate {
            estimate.epochEnded(model: model, fold: fold, epoch: record.epoch, seconds: record.seconds)
            self.estimate = estimate
            if let left = estimate.remainingSeconds {
                say("  run: train, \(unit(model, fold)) epoch \(record.epoch)/\(epochs); \(estimate.epochsDone) of \(estimate.epochsPlanned) "
                    + "epochs to train this run; ETA \(clock(left)) for the run's training and fold predictions")
            }
        }
        // A fold's first epoch starts its training afresh: an earlier run's rows of it (epochs past
        // this run's count, its averaged weights) would otherwise stay beside this run's.
        logRows.removeAll { $0.hasPrefix(record.epoch == 1 ? "\(model),\(fold)," : "\(model),\(fold),\(record.epoch),") }
        logRows.append([model, String(fold), String(record.epoch), String(record.trainLoss), String(record.validationLoss),
                        String(record.validationMeanF2), String(record.validationThreshold), String(record.learningRate),
                        String(format: "%.3f", record.seconds), String(format: "%.2f", record.imagesPerSecond),
                        String(format: "%.3f", record.loaderWaitSeconds)].joined(separator: ","))
        writeLog()
        tracker?.logRows([logRows[logRows.count - 1]])
    }

    /// Rows another process logged (the other ranks of an `mpirun` job), replacing this log's rows of
    /// the same model, fold and epoch.
    func mergeLogRows(_ rows: [String]) {
        guard !rows.isEmpty else { return }
        let keys = Set(rows.map(Self.rowKey))
        logRows.removeAll { keys.contains(Self.rowKey($0)) }
        logRows += rows
        writeLog()
        tracker?.logRows(rows)
    }

    /// `model,fold,epoch,` of a log row.
    static func rowKey(_ row: String) -> String { row.split(separator: ",", maxSplits: 3, omittingEmptySubsequences: false).prefix(3).joined(separator: ",") + "," }

    private func writeLog() {
        if let logPath {
            try? AtomicFile.write(Array((([Self.logHeader] + logRows).joined(separator: "\n") + "\n").utf8), to: logPath)
        }
    }

    /// The line, and a `train_log.csv` row with `swa` for its epoch (no training loss, rate or speed).
    public func averaged(model: String, fold: Int, record: AveragedRecord) {
        update(String(format: "%@ fold %d: weights averaged over epochs %d-%d: val loss %.4f  val F2 %.4f (t=%.2f)  %.0f s", model, fold,
                      record.firstEpoch, record.lastEpoch, record.validationLoss, record.validationMeanF2, record.validationThreshold,
                      record.seconds), final: true)
        logRows.removeAll { $0.hasPrefix("\(model),\(fold),swa,") }
        logRows.append([model, String(fold), "swa", "", String(record.validationLoss), String(record.validationMeanF2),
                        String(record.validationThreshold), "", String(format: "%.3f", record.seconds), "", ""].joined(separator: ","))
        writeLog()
        tracker?.logRows([logRows[logRows.count - 1]])
    }

    /// A prediction pass's bar, with the process's peak resident memory. Without a terminal a line is
    /// printed every 10 s and at each tenth of the pass (so a long pass's memory can be followed).
    public func predictionProgress(what: String, done: Int, total: Int, imagesPerSecond: Double) {
        let tenth = max(1, total / 10)
        let milestone = done / tenth > lastTenth
        lastTenth = done >= total ? 0 : done / tenth
        let eta = imagesPerSecond > 0 ? clock(Double(total - done) / imagesPerSecond) : "-"
        update(String(format: "%@: %@ %d/%d chips  %.1f img/s  ETA %@  peak RSS %.0f MB", what, bar(done, total), done, total, imagesPerSecond,
                      eta, peakResidentMegabytes()), final: done >= total, milestone: milestone)
    }

    /// A fold's predictions are written (its share of the run's ETA is done).
    func foldPredicted(model: String, fold: Int) {
        estimate?.predicted(model: model, fold: fold)
    }

    // MARK: - Output

    /// `final` ends a bar; a `milestone` is printed even without a terminal and within 10 s of the last line.
    private func update(_ text: String, final: Bool, milestone: Bool = false) {
        guard !quiet else { return }
        if isTerminal {
            print("\r\u{1B}[2K" + linePrefix + text, terminator: final ? "\n" : "")
            fflush(nil)
            barShown = !final
        } else if final || milestone || Date().timeIntervalSince(lastLine) >= 10 {
            print(linePrefix + text)
            fflush(nil)
            lastLine = Date()
        }
    }

    private func endBar() {
        if barShown { print(""); barShown = false }
    }

    private func say(_ text: String) {
        guard !quiet else { return }
        print(linePrefix + text)
        fflush(nil)
    }

    private func bar(_ done: Int, _ total: Int) -> String {
        let width = 20, filled = total > 0 ? min(width, done * width / total) : width
        return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "]"
    }

    private func elapsed() -> String { clock(Date().timeIntervalSince(started)) }

    private func clock(_ interval: Double) -> String {
        let seconds = Int(interval.rounded())
        return seconds >= 3600 ? String(format: "%d:%02d:%02d", seconds / 3600, seconds / 60 % 60, seconds % 60)
                               : String(format: "%d:%02d", seconds / 60, seconds % 60)
    }
}

/// A run's warnings: each printed as `warning: MESSAGE` on standard error (even with `quiet`: a
/// warning is not progress) and kept; safe from any thread (MLflow tracking warns from its queue).
public final class WarningLog: @unchecked Sendable {
    private let lock = NSLock()
    private var kept: [String] = []
    let isTerminal: Bool

    init(isTerminal: Bool) { self.isTerminal = isTerminal }

    public var lines: [String] { lock.withLock { kept } }

    public func warn(_ message: String) {
        lock.withLock { kept.append(message) }
        FileHandle.standardError.write(Data(((isTerminal ? "\n" : "") + "warning: \(message)\n").utf8))
    }
}

import Evaluation
import Foundation
import Support
import Yams

/// Records one run in an MLflow tracking server, from the files a run writes: `config.json` as the
/// run's parameters, `train_log.csv` rows as metric histories (step = epoch), `metrics.json` as final
/// metrics, and the report, submission and records as artifacts. A live run feeds it as it goes (the
/// parameters when the run starts, each `train_log.csv` row as its epoch ends, the rest at the end);
/// `canopy track RESULTS` feeds it a finished results folder at once. Both send the same calls.
///
/// Network work never runs on the caller's thread: every call is queued on one serial queue and sent
/// from there, each request bounded by the timeout. The first request that fails (no connection, no
/// answer in time, an error answer) ends tracking for this run: one warning, and every later call is
/// dropped. The local results are never touched. `finish` waits for the queue; with a server down that
/// wait is at most one timeout for the whole run.
public final class MLflowTracker: @unchecked Sendable {
    /// Where and how: the server, the experiment and the per-request timeout.
    public struct Settings: Sendable, Equatable {
        public var uri: String
        public var experiment: String
        public var timeoutSeconds: Double

        public init(uri: String, experiment: String, timeoutSeconds: Double = TrackingConfig.defaultTimeoutSeconds) {
            self.uri = uri
            self.experiment = experiment
            self.timeoutSeconds = timeoutSeconds
        }
    }

    public let settings: Settings
    /// The fold number a refit trains under in `train_log.csv` (`folds.k`, with `folds.refit`): its metrics are `MODEL/refit/...`.
    let refitFold: Int?
    let replaying: Bool
    private let client: MLflowClient
    private let warn: @Sendable (String) -> Void
    private let queue = DispatchQueue(label: "canopy.mlflow")
    private let lock = NSLock()
    // Owned by `queue`.
    private var runID: String?
    private var artifactURI: String?
    private var sentRows = Set<String>()
    // Under `lock`.
    private var stoppedBecause: String?
    private var finishedRunID: String?
    private var pendingRows: [String] = []

    /// Throws when `settings.uri` is not an http:// address.
    /// `replaying`: `canopy track`, which reports a failure as its error rather than as a warning.
    public init(_ settings: Settings, refitFold: Int?, replaying: Bool = false, warn: @escaping @Sendable (String) -> Void) throws {
        if let problem = TrackingConfig.uriProblem(settings.uri) { throw TrackingError("MLflow tracking URI: \(problem)") }
        self.settings = settings
        self.refitFold = refitFold
        self.replaying = replaying
        self.warn = warn
        client = MLflowClient(endpoint: HTTPEndpoint(settings.uri)!, timeout: settings.timeoutSeconds)
    }

    /// Why tracking stopped (the warning's text), nil while it works.
    public var failure: String? { lock.withLock { stoppedBecause } }
    /// The MLflow run's id once `finish` has marked it finished.
    public var finishedRun: String? { lock.withLock { finishedRunID } }

    private var stopped: Bool { lock.withLock { stoppedBecause != nil } }

    /// Runs `work` on the queue unless tracking has stopped; its first error stops it, with the warning.
    private func send(_ work: @escaping @Sendable () throws -> Void) {
        queue.async { self.attempt(work) }
    }

    private func attempt(_ work: () throws -> Void) {
        guard !stopped else { return }
        do { try work() } catch { stop("\(error)") }
    }

    private func stop(_ reason: String) {
        let first: Bool = lock.withLock {
            guard stoppedBecause == nil else { return false }
            stoppedBecause = reason
            return true
        }
        if first && !replaying {
            warn("MLflow tracking at \(settings.uri) is off for the rest of this run: \(reason). The local results are complete; "
                 + "`canopy track RESULTS` sends them later")
        }
    }

    private static func now() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }

    // MARK: - What is sent

    /// Creates the run (in the experiment, made if missing) and logs `config.json`'s settings as its
    /// parameters (`models.0.backbone`), at most 100 a request.
    public func start(runName: String, configJSON: String, tags: [(String, String)]) {
        let params = Self.parameters(fromConfigJSON: configJSON)
        let tags = tags
        send { [self] in
            let experimentID = try client.experimentID(named: settings.experiment)
            let run = try client.createRun(experimentID: experimentID, name: runName, startTime: Self.now(),
                                           tags: [("mlflow.runName", runName)] + tags)
            runID = run.id
            artifactURI = run.artifactURI
            var index = 0
            while index < params.count {
                let batch = Array(params[index..<min(params.count, index + MLflowClient.paramsPerBatch)])
                try client.logBatch(runID: run.id, params: batch, timestamp: Self.now())
                index += batch.count
            }
        }
    }

    /// `train_log.csv` rows as they are written: handed over at once; the queue sends every row
    /// waiting when it gets to them in one request (at most 1000 metrics each), so a slow server gets
    /// fewer, larger batches rather than a growing backlog.
    public func logRows(_ rows: [String]) {
        lock.withLock { pendingRows += rows }
        send { [self] in
            let rows: [String] = lock.withLock {
                defer { pendingRows = [] }
                return pendingRows
            }
            guard let runID, !rows.isEmpty else { return }
            try sendRows(runID, rows, header: ProgressPrinter.logHeader)
        }
    }

    /// The rows not sent before, as metrics.
    private func sendRows(_ runID: String, _ rows: [String], header: String) throws {
        var fresh: [(key: String, metrics: [TrackedMetric])] = []
        for row in rows {
            guard let parsed = Self.metrics(fromRow: row, header: header, refitFold: refitFold), !sentRows.contains(parsed.key),
                  !fresh.contains(where: { $0.key == parsed.key }) else { continue }
            fresh.append(parsed)
        }
        try sendMetrics(runID, fresh.flatMap(\.metrics))
        for row in fresh { sentRows.insert(row.key) }
    }

    private func sendMetrics(_ runID: String, _ metrics: [TrackedMetric]) throws {
        var index = 0
        while index < metrics.count {
            let batch = Array(metrics[index..<min(metrics.count, index + MLflowClient.metricsPerBatch)])
            try client.logBatch(runID: runID, metrics: batch, timestamp: Self.now())
            index += batch.count
        }
    }

    /// The files uploaded at the end, those of them that exist.
    public static let artifactNames = ["report.html", "submission.csv", "metrics.json", "thresholds.json", "config.json", "train_log.csv"]

    /// Ends the run: what `train_log.csv` holds that was not sent yet (a run whose folds were all
    /// reused sends them all here), and when the run `succeeded` the final metrics of `metrics.json`
    /// and the artifacts; then the run's status, FINISHED or FAILED. Waits for everything queued (each
    /// request bounded by the timeout; nothing at all once tracking has stopped), but at most
    /// `waitAtMost` seconds when given: past that, tracking stops with its one warning and the run
    /// ends without waiting for a slow server.
    public func finish(results: String, succeeded: Bool, waitAtMost: Double? = nil) {
        let folder = results
        send { [self] in
            guard let runID else { return }
            if let log = try? String(contentsOfFile: folder + "/train_log.csv", encoding: .utf8) {
                let lines = log.split(separator: "\n").map(String.init)
                if let header = lines.first { try sendRows(runID, Array(lines.dropFirst()), header: header) }
            }
            if succeeded {
                if let bytes = try? AtomicFile.read(folder + "/" + ReportWriter.jsonName), let report = try? ReportWriter.decode(bytes) {
                    try sendMetrics(runID, Self.finalMetrics(report))
                }
                let present = Self.artifactNames.filter { FileManager.default.fileExists(atPath: folder + "/" + $0) }
                if !present.isEmpty {
                    if let proxyPath = MLflowClient.proxyPath(artifactURI: artifactURI ?? "") {
                        for name in present where !stopped {
                            try client.uploadArtifact(proxyPath: proxyPath, name: name, bytes: try AtomicFile.read(folder + "/" + name))
                        }
                    } else {
                        warn("MLflow: the run's artifact location \"\(artifactURI ?? "")\" is not served by the tracking server "
                             + "(start it with artifact serving, mlflow server's default): \(present.joined(separator: ", ")) not uploaded")
                    }
                }
            }
            guard !stopped else { return }
            try client.updateRun(runID: runID, status: succeeded ? "FINISHED" : "FAILED", endTime: Self.now())
            lock.withLock { finishedRunID = runID }
        }
        let done = DispatchSemaphore(value: 0)
        queue.async { done.signal() }
        if let waitAtMost {
            if done.wait(timeout: .now() + waitAtMost) == .timedOut {
                stop("the server did not take the run's end (metrics, artifacts, status) within \(String(format: "%g", waitAtMost)) s")
            }
        } else {
            done.wait()
        }
    }

    // MARK: - Files to metrics and parameters

    /// `config.json` flattened: `models.0.optimizer.learning_rate` -> `0.02`, each value as the file
    /// spells it (a string without its quotes); a list's items by index; an empty list or mapping as `[]`, `{}`.
    public static func parameters(fromConfigJSON text: String) -> [(String, String)] {
        guard let root = try? Yams.compose(yaml: text) else { return [] }
        var out: [(String, String)] = []
        func walk(_ node: Node, _ path: String) {
            switch node {
            case .scalar(let scalar): out.append((path, scalar.string))
            case .mapping(let mapping):
                if mapping.isEmpty { out.append((path, "{}")) }
                for (key, value) in mapping { walk(value, path.isEmpty ? key.string ?? "?" : path + "." + (key.string ?? "?")) }
            case .sequence(let sequence):
                if sequence.isEmpty { out.append((path, "[]")) }
                for (index, value) in sequence.enumerated() { walk(value, path + "." + String(index)) }
            }
        }
        walk(root, "")
        return out
    }

    /// A `train_log.csv` row as metrics: each numeric column as `MODEL/fold-K/COLUMN` (`MODEL/refit/...`
    /// for a refit) at step = epoch; an `swa` row's as `MODEL/fold-K/swa_COLUMN` at step 0. Empty and
    /// non-finite cells are left out (MLflow's JSON has no NaN). The key names the row (`model,fold,epoch`).
    public static func metrics(fromRow row: String, header: String, refitFold: Int?) -> (key: String, metrics: [TrackedMetric])? {
        let names = header.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let cells = row.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard names.count == cells.count, names.count > 3, names[0] == "model", names[1] == "fold", names[2] == "epoch",
              let fold = Int(cells[1]) else { return nil }
        let model = metricName(cells[0])
        let unit = fold == refitFold ? "\(model)/refit" : "\(model)/fold-\(fold)"
        let swa = cells[2] == "swa"
        guard swa || Int(cells[2]) != nil else { return nil }
        let step = Int(cells[2]) ?? 0
        var metrics: [TrackedMetric] = []
        for (name, cell) in zip(names, cells).dropFirst(3) {
            guard let value = Double(cell), value.isFinite else { continue }
            metrics.append(TrackedMetric(key: unit + "/" + (swa ? "swa_" : "") + metricName(name), value: value, step: step))
        }
        return ("\(cells[0]),\(cells[1]),\(cells[2])", metrics)
    }

    /// A name as a metric key part: letters, digits, `_`, `-` and `.` kept; each run of anything else (spaces,
    /// brackets, `≥`) one `_`, none at the ends: "lenet5 (p ≥ 0.5, no TTA)" → `lenet5_p_0.5_no_TTA`.
    public static func metricName(_ name: String) -> String {
        var result = ""
        var gap = false
        for scalar in name.unicodeScalars {
            let c = Character(scalar)
            if scalar.isASCII && (c.isLetter || c.isNumber || "_-.".contains(c)) {
                if gap && !result.isEmpty { result.append("_") }
                result.append(c)
                gap = false
            } else {
                gap = true
            }
        }
        return result.isEmpty ? "_" : result
    }

    /// `metrics.json`'s summary numbers, step 0: each section's `final/SECTION/mean_f2`, `micro_f2`,
    /// `macro_f2`, and each method's `final/method/METHOD/oof_mean_f2` (and `test_mean_f2` when the
    /// test labels are known), names through `metricName` (a clash gets `_2`, `_3`, ...).
    public static func finalMetrics(_ report: RunReport) -> [TrackedMetric] {
        var used = Set<String>()
        func unique(_ base: String) -> String {
            var name = base, n = 2
            while used.contains(name) { name = base + "_\(n)"; n += 1 }
            used.insert(name)
            return name
        }
        var out: [TrackedMetric] = []
        for section in report.sections {
            let base = unique("final/" + metricName(section.name))
            for (name, value) in [("mean_f2", section.meanF2), ("micro_f2", section.microF2), ("macro_f2", section.macroF2)] where value.isFinite {
                out.append(TrackedMetric(key: base + "/" + name, value: value, step: 0))
            }
        }
        for method in report.methods {
            let base = unique("final/method/" + metricName(method.method))
            if method.outOfFoldMeanF2.isFinite { out.append(TrackedMetric(key: base + "/oof_mean_f2", value: method.outOfFoldMeanF2, step: 0)) }
            if let test = method.testMeanF2, test.isFinite { out.append(TrackedMetric(key: base + "/test_mean_f2", value: test, step: 0)) }
        }
        return out
    }
}

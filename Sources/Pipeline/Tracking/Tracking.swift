import Foundation

extension MLflowTracker.Settings {
    /// A pipeline's tracking: its `tracking.mlflow`, else `fallbackURI` (`MLFLOW_TRACKING_URI`); nil
    /// when neither is set. The experiment is `tracking.experiment`, else the pipeline's name.
    public static func resolve(_ config: PipelineConfig, fallbackURI: String?) -> MLflowTracker.Settings? {
        guard let uri = config.tracking?.mlflow ?? fallbackURI.flatMap({ $0.isEmpty ? nil : $0 }) else { return nil }
        return MLflowTracker.Settings(uri: uri, experiment: config.tracking?.experiment ?? config.name,
                                      timeoutSeconds: config.tracking?.timeoutSeconds ?? TrackingConfig.defaultTimeoutSeconds)
    }
}

extension PipelineRunner {
    /// The end of a tracked run waits for the server at most this many `timeout_seconds` in all (the
    /// rows still queued, the final metrics, six artifacts and the status are about 9 requests).
    static let endWaitTimeouts = 4.0

    /// Starts tracking this run when the pipeline (or `trackingFallbackURI`) names a server: the
    /// MLflow run is made and `config.json` sent as parameters, off this thread. A bad URI from the
    /// environment is a warning (the pipeline's own is refused when the file is read).
    func startTracking() {
        guard let settings = MLflowTracker.Settings.resolve(config, fallbackURI: trackingFallbackURI) else { return }
        let warnings = progress.warningLog
        let tracker: MLflowTracker
        do {
            tracker = try MLflowTracker(settings, refitFold: config.folds.refit ? config.folds.k : nil) { warnings.warn($0) }
        } catch {
            progress.warn("\(error); this run is not tracked")
            return
        }
        let configJSON = (try? String(contentsOfFile: path("config.json"), encoding: .utf8)) ?? "{}"
        tracker.start(runName: config.name, configJSON: configJSON, tags: [
            ("mlflow.source.name", source), ("mlflow.source.type", "LOCAL"),
            ("canopy.results", URL(fileURLWithPath: results).standardizedFileURL.path), ("canopy.sent", "live"),
        ])
        self.tracker = tracker
        progress.tracker = tracker
    }

    /// Ends the tracked run (FINISHED or FAILED), waiting for what is queued (each request bounded by
    /// the timeout) but no longer than `endWaitTimeouts` timeouts in all, and says where it went.
    func finishTracking(succeeded: Bool) {
        guard let tracker else { return }
        progress.tracker = nil
        tracker.finish(results: results, succeeded: succeeded, waitAtMost: Self.endWaitTimeouts * tracker.settings.timeoutSeconds)
        if let run = tracker.finishedRun {
            progress.note("tracked in MLflow at \(tracker.settings.uri): experiment \"\(tracker.settings.experiment)\", run \(run)")
        }
    }
}

extension MLflowTracker {
    /// `canopy track RESULTS`: a results folder's run sent as a new MLflow run, exactly as a live run
    /// sends it (config.json, train_log.csv, metrics.json, the artifacts), status FINISHED. The
    /// server is `uri`, else the run's `tracking.mlflow`, else `fallbackURI`. Returns the tracker
    /// (its `finishedRun`); throws when there is no server to send to or when sending failed.
    public static func replay(results: String, uri: String?, experiment: String?, timeoutSeconds: Double?, fallbackURI: String?,
                              warn: @escaping @Sendable (String) -> Void) throws -> MLflowTracker {
        let configPath = results + "/config.json"
        let config = try PipelineConfig.load(configPath)
        var settings = Settings.resolve(config, fallbackURI: uri ?? fallbackURI)
        if let uri { settings?.uri = uri }
        guard var settings else {
            throw TrackingError("no MLflow server to send \(results) to: give --mlflow http://HOST:PORT, or set MLFLOW_TRACKING_URI")
        }
        if let experiment { settings.experiment = experiment }
        if let timeoutSeconds { settings.timeoutSeconds = timeoutSeconds }
        let tracker = try MLflowTracker(settings, refitFold: config.folds.refit ? config.folds.k : nil, replaying: true, warn: warn)
        tracker.start(runName: config.name, configJSON: try String(contentsOfFile: configPath, encoding: .utf8), tags: [
            ("mlflow.source.name", "canopy track \(results)"), ("mlflow.source.type", "LOCAL"),
            ("canopy.results", URL(fileURLWithPath: results).standardizedFileURL.path), ("canopy.sent", "replay"),
        ])
        tracker.finish(results: results, succeeded: true)
        if let failure = tracker.failure { throw TrackingError("MLflow at \(settings.uri): \(failure)") }
        return tracker
    }
}

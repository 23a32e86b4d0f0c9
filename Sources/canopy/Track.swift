import ArgumentParser
import Foundation
import Pipeline

/// `canopy track RESULTS`: a results folder's run sent to an MLflow server as a new run.
struct Track: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send a results folder's run to an MLflow tracking server as a new run.",
        discussion: """
            What a tracked `canopy run` sends, from the folder's files: config.json as parameters, train_log.csv as \
            per-epoch metrics (MODEL/fold-K/COLUMN, step = epoch), metrics.json's summary as final metrics, and \
            report.html, submission.csv, metrics.json, thresholds.json, config.json and train_log.csv as artifacts \
            (through the server's artifact proxy). For a run whose server was down or slow. The server: --mlflow, \
            else the run's tracking.mlflow, else MLFLOW_TRACKING_URI. Nothing in the folder is changed.
            """)
    @Argument(help: "A results folder (it has config.json).") var results: String
    @Option(help: "The MLflow server, http://HOST:PORT.") var mlflow: String?
    @Option(help: "The experiment (default: the run's tracking.experiment, else the pipeline's name).") var experiment: String?
    @Option(help: "The longest one request may take, in seconds (default: the run's tracking.timeout_seconds, else 5).") var timeout: Double?

    func validate() throws {
        if let timeout, !(0.1...600).contains(timeout) { throw ValidationError("--timeout must be between 0.1 and 600 seconds") }
    }

    func run() throws {
        let tracker = try MLflowTracker.replay(results: results, uri: mlflow, experiment: experiment, timeoutSeconds: timeout,
                                               fallbackURI: ProcessInfo.processInfo.environment["MLFLOW_TRACKING_URI"]) { message in
            FileHandle.standardError.write(Data("warning: \(message)\n".utf8))
        }
        print("tracked in MLflow at \(tracker.settings.uri): experiment \"\(tracker.settings.experiment)\", run \(tracker.finishedRun ?? "?")")
    }
}

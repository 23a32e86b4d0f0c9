import Training

/// `tracking:` in a pipeline file: where the run is also recorded for comparison with other runs.
/// Nothing here changes a result, so no stage's key reads it (StageKeys.swift): turning tracking on,
/// off or to another server reuses every stage.
public struct TrackingConfig: Codable, Sendable, Equatable, ValidatedSettings {
    /// An MLflow tracking server, `http://HOST:PORT` (optionally with a path prefix). When absent, the
    /// `MLFLOW_TRACKING_URI` environment variable, if set, is used instead (`canopy run` reads it).
    public var mlflow: String?
    /// The MLflow experiment the run goes into; default: the pipeline's name.
    public var experiment: String?
    /// The longest any one request to the server may take (connect, send, answer). The first request
    /// that fails or takes longer turns tracking off for the rest of the run, with one warning.
    public var timeoutSeconds: Double = TrackingConfig.defaultTimeoutSeconds

    public static let defaultTimeoutSeconds = 5.0

    public init(mlflow: String? = nil, experiment: String? = nil, timeoutSeconds: Double = TrackingConfig.defaultTimeoutSeconds) {
        self.mlflow = mlflow
        self.experiment = experiment
        self.timeoutSeconds = timeoutSeconds
    }

    enum CodingKeys: String, SettingKeys {
        case mlflow, experiment
        case timeoutSeconds = "timeout_seconds"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        mlflow = try c.setting(.mlflow)
        experiment = try c.setting(.experiment)
        timeoutSeconds = try c.setting(.timeoutSeconds) ?? timeoutSeconds
    }

    public func validate() throws(SettingError) {
        if let mlflow, let problem = Self.uriProblem(mlflow) { throw SettingError(["mlflow"], problem) }
        if let experiment, experiment.isEmpty { throw SettingError(["experiment"], "an experiment name cannot be empty") }
        guard (0.1...600).contains(timeoutSeconds) else { throw SettingError(["timeout_seconds"], "\(timeoutSeconds) is out of range 0.1...600") }
    }

    /// Why `uri` cannot name a tracking server (nil when it can): only plain `http://` is spoken.
    public static func uriProblem(_ uri: String) -> String? {
        let lower = uri.lowercased()
        if lower.hasPrefix("https://") {
            return "https is not supported (Canopy's MLflow client speaks plain http://): use http://HOST:PORT, e.g. a server on loopback or an http proxy in front of the https one"
        }
        guard lower.hasPrefix("http://"), HTTPEndpoint(uri) != nil else {
            return "\"\(uri)\" is not an http://HOST[:PORT][/PATH] address of an MLflow tracking server"
        }
        return nil
    }
}

import Foundation

/// A JSON value written exactly: numbers in Swift's shortest round-trip spelling (a train_log.csv
/// value `0.6931472` is sent as `0.6931472`, read back by any client as that same double).
indirect enum JSONValue {
    case string(String)
    case number(Double)
    case integer(Int64)
    case array([JSONValue])
    case object([(String, JSONValue)])

    var text: String {
        switch self {
        case .string(let value): return Self.quoted(value)
        case .number(let value): return "\(value)"
        case .integer(let value): return String(value)
        case .array(let items): return "[" + items.map(\.text).joined(separator: ",") + "]"
        case .object(let fields): return "{" + fields.map { Self.quoted($0.0) + ":" + $0.1.text }.joined(separator: ",") + "}"
        }
    }

    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// One metric value at one step, as MLflow keeps it.
public struct TrackedMetric: Equatable, Sendable {
    public var key: String
    public var value: Double
    public var step: Int
}

/// What went wrong talking to the tracking server: no answer in time, no connection, or an error answer.
public struct TrackingError: Error, CustomStringConvertible, Sendable {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// The calls of MLflow's REST API 2.0 that a run needs, each one request bounded by `timeout`
/// (HTTPClient.swift): experiments/get-by-name and create, runs/create, runs/log-batch, runs/update,
/// and artifact uploads through the server's artifact proxy (`mlflow-artifacts`).
struct MLflowClient: Sendable {
    let endpoint: HTTPEndpoint
    let timeout: Double

    /// MLflow's limits on one runs/log-batch request.
    static let metricsPerBatch = 1000
    static let paramsPerBatch = 100
    static let paramValueLength = 6000

    init(endpoint: HTTPEndpoint, timeout: Double) {
        self.endpoint = endpoint
        self.timeout = timeout
    }

    private func call(_ method: String, _ path: String, body: JSONValue? = nil) throws -> [String: Any] {
        let response: HTTPResponse
        do {
            response = try HTTPClient.request(endpoint, method: method, path: path, contentType: body == nil ? nil : "application/json",
                                              body: body.map { Array($0.text.utf8) } ?? [], timeout: timeout)
        } catch {
            throw TrackingError("\(method) \(path): \(error)")
        }
        let object = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any]
        guard (200..<300).contains(response.status) else {
            let code = object?["error_code"] as? String
            let message = object?["message"] as? String ?? String(response.text.prefix(200))
            throw TrackingError("\(method) \(path): HTTP \(response.status)\(code.map { " " + $0 } ?? ""): \(message)")
        }
        return object ?? [:]
    }

    private static func queryEscaped(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    /// The experiment's id, the experiment created when there is none of that name.
    func experimentID(named name: String) throws -> String {
        do {
            let found = try call("GET", "/api/2.0/mlflow/experiments/get-by-name?experiment_name=" + Self.queryEscaped(name))
            if let id = (found["experiment"] as? [String: Any])?["experiment_id"] as? String { return id }
        } catch let error as TrackingError where error.description.contains("RESOURCE_DOES_NOT_EXIST") || error.description.contains("HTTP 404") {
            // made below
        }
        do {
            let made = try call("POST", "/api/2.0/mlflow/experiments/create", body: .object([("name", .string(name))]))
            guard let id = made["experiment_id"] as? String else { throw TrackingError("experiments/create gave no experiment_id") }
            return id
        } catch let error as TrackingError where error.description.contains("RESOURCE_ALREADY_EXISTS") {
            // Made by another client between the two calls.
            let found = try call("GET", "/api/2.0/mlflow/experiments/get-by-name?experiment_name=" + Self.queryEscaped(name))
            guard let id = (found["experiment"] as? [String: Any])?["experiment_id"] as? String else {
                throw TrackingError("experiments/get-by-name gave no experiment_id")
            }
            return id
        }
    }

    /// A new run: its id and its artifact location (`info.artifact_uri`).
    func createRun(experimentID: String, name: String, startTime: Int64, tags: [(String, String)]) throws -> (id: String, artifactURI: String) {
        let tagValues = tags.map { JSONValue.object([("key", .string($0.0)), ("value", .string($0.1))]) }
        let answer = try call("POST", "/api/2.0/mlflow/runs/create", body: .object([
            ("experiment_id", .string(experimentID)), ("run_name", .string(name)), ("start_time", .integer(startTime)), ("tags", .array(tagValues)),
        ]))
        guard let info = (answer["run"] as? [String: Any])?["info"] as? [String: Any],
              let id = info["run_id"] as? String ?? info["run_uuid"] as? String else {
            throw TrackingError("runs/create gave no run id")
        }
        return (id, info["artifact_uri"] as? String ?? "")
    }

    /// One runs/log-batch request: at most 1000 metrics or 100 params (the caller splits).
    func logBatch(runID: String, metrics: [TrackedMetric] = [], params: [(String, String)] = [], timestamp: Int64) throws {
        precondition(metrics.count <= Self.metricsPerBatch && params.count <= Self.paramsPerBatch && metrics.count + params.count <= 1000)
        let metricValues = metrics.map {
            JSONValue.object([("key", .string($0.key)), ("value", .number($0.value)), ("timestamp", .integer(timestamp)), ("step", .integer(Int64($0.step)))])
        }
        let paramValues = params.map { JSONValue.object([("key", .string($0.0)), ("value", .string(String($0.1.prefix(Self.paramValueLength))))]) }
        _ = try call("POST", "/api/2.0/mlflow/runs/log-batch", body: .object([
            ("run_id", .string(runID)), ("metrics", .array(metricValues)), ("params", .array(paramValues)), ("tags", .array([])),
        ]))
    }

    func updateRun(runID: String, status: String, endTime: Int64) throws {
        _ = try call("POST", "/api/2.0/mlflow/runs/update", body: .object([
            ("run_id", .string(runID)), ("status", .string(status)), ("end_time", .integer(endTime)),
        ]))
    }

    /// The artifact proxy's path for a run's `artifact_uri` (`mlflow-artifacts:/1/RUN/artifacts` or
    /// `mlflow-artifacts://HOST:PORT/1/RUN/artifacts` -> `1/RUN/artifacts`); nil when the run's
    /// artifacts are stored somewhere the server does not serve (then they are not uploaded).
    static func proxyPath(artifactURI: String) -> String? {
        let scheme = "mlflow-artifacts:"
        guard artifactURI.hasPrefix(scheme) else { return nil }
        var rest = Substring(artifactURI.dropFirst(scheme.count))
        if rest.hasPrefix("//") {
            rest = rest.dropFirst(2)
            guard let slash = rest.firstIndex(of: "/") else { return nil }
            rest = rest[slash...]
        }
        let path = rest.split(separator: "/").joined(separator: "/")
        return path.isEmpty ? nil : path
    }

    /// `PUT /api/2.0/mlflow-artifacts/artifacts/{path}/{name}`: one file into the run's artifacts.
    func uploadArtifact(proxyPath: String, name: String, bytes: [UInt8]) throws {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let escaped = (proxyPath.split(separator: "/").map(String.init) + [name])
            .map { $0.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0 }.joined(separator: "/")
        do {
            let response = try HTTPClient.request(endpoint, method: "PUT", path: "/api/2.0/mlflow-artifacts/artifacts/" + escaped,
                                                  contentType: "application/octet-stream", body: bytes, timeout: timeout)
            guard (200..<300).contains(response.status) else {
                throw HTTPError("HTTP \(response.status): \(response.text.prefix(200))")
            }
        } catch {
            throw TrackingError("PUT artifact \(name): \(error)")
        }
    }
}

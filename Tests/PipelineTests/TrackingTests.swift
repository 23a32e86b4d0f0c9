#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Evaluation
import Foundation
@testable import Pipeline
import XCTest

/// MLflow tracking against a stand-in server in this process (a socket on 127.0.0.1 that records each
/// request): the exact REST calls and payloads of a tiny run, and a server that refuses or never
/// answers costing at most one timeout, with exactly one warning and the same results.
final class TrackingTests: XCTestCase {
    // MARK: - The stand-in server

    struct Request {
        var method: String
        var path: String
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:] }
    }

    /// Answers as MLflow does (`answering`), or accepts connections and never answers (`silent`).
    final class StandInServer: @unchecked Sendable {
        /// `slow`: answers as `answering`, each after `delay` seconds.
        enum Mode { case answering, silent, slow(Double) }
        let mode: Mode
        let port: Int
        private let listener: Int32
        private let lock = NSLock()
        private var recorded: [Request] = []
        private var held: [Int32] = []
        private var experimentMade = false
        private let done = DispatchSemaphore(value: 0)

        init(_ mode: Mode) throws {
            self.mode = mode
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
            }
            guard bound, listen(fd, 16) == 0 else { throw TrackingError("stand-in server: \(String(cString: strerror(errno)))") }
            listener = fd
            port = Int(UInt16(bigEndian: address.sin_port))
            Thread.detachNewThread { [self] in serve() }
        }

        var uri: String { "http://127.0.0.1:\(port)" }
        var requests: [Request] { lock.withLock { recorded } }

        func stop() {
            shutdown(listener, Int32(SHUT_RDWR))
            close(listener)
            done.wait()
            for fd in lock.withLock({ held }) { close(fd) }
        }

        private func serve() {
            while true {
                let connection = accept(listener, nil, nil)
                if connection < 0 { break }
                guard let request = read(connection) else { close(connection); continue }
                lock.withLock { recorded.append(request) }
                if case .silent = mode {
                    lock.withLock { held.append(connection) }
                    continue
                }
                if case .slow(let delay) = mode { Thread.sleep(forTimeInterval: delay) }
                let (status, body) = answer(request)
                let text = "HTTP/1.1 \(status) X\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
                #if canImport(Glibc)
                let flags = Int32(MSG_NOSIGNAL)
                #else
                let flags: Int32 = 0
                #endif
                _ = text.withCString { send(connection, $0, strlen($0), flags) }
                close(connection)
            }
            done.signal()
        }

        private func read(_ connection: Int32) -> Request? {
            var data: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                if let end = HTTPClient.find([13, 10, 13, 10], in: data) {
                    let head = String(decoding: data[..<end], as: UTF8.self).components(separatedBy: "\r\n")
                    let length = head.compactMap { line -> Int? in
                        line.lowercased().hasPrefix("content-length:") ? Int(line.dropFirst(15).trimmingCharacters(in: .whitespaces)) : nil
                    }.first ?? 0
                    if data.count >= end + 4 + length {
                        let parts = head[0].split(separator: " ")
                        return Request(method: String(parts[0]), path: String(parts[1]), body: Array(data[(end + 4)..<(end + 4 + length)]))
                    }
                }
                let count = recv(connection, &buffer, buffer.count, 0)
                if count <= 0 { return nil }
                data += buffer[..<count]
            }
        }

        private func answer(_ request: Request) -> (Int, String) {
            switch (request.method, request.path.split(separator: "?").first.map(String.init) ?? "") {
            case ("GET", "/api/2.0/mlflow/experiments/get-by-name"):
                return lock.withLock { experimentMade }
                    ? (200, #"{"experiment": {"experiment_id": "7", "name": "tiny"}}"#)
                    : (404, #"{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Could not find experiment"}"#)
            case ("POST", "/api/2.0/mlflow/experiments/create"):
                lock.withLock { experimentMade = true }
                return (200, #"{"experiment_id": "7"}"#)
            case ("POST", "/api/2.0/mlflow/runs/create"):
                return (200, #"{"run": {"info": {"run_id": "r1", "run_uuid": "r1", "experiment_id": "7", "status": "RUNNING", "artifact_uri": "mlflow-artifacts:/7/r1/artifacts"}, "data": {}}}"#)
            case ("POST", "/api/2.0/mlflow/runs/log-batch"), ("POST", "/api/2.0/mlflow/runs/update"):
                return (200, "{}")
            case ("PUT", let path) where path.hasPrefix("/api/2.0/mlflow-artifacts/artifacts/7/r1/artifacts/"):
                return (200, "{}")
            default:
                return (404, #"{"error_code": "ENDPOINT_NOT_FOUND", "message": "no such endpoint"}"#)
            }
        }
    }

    /// A port nothing listens on (bound, then closed): a connection there is refused.
    static func closedPort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        close(fd)
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// A runs/log-batch body's metrics, decoded exactly.
    struct Batch: Decodable {
        struct Metric: Decodable { var key: String; var value: Double; var timestamp: Int64; var step: Int }
        var metrics: [Metric]
    }

    // MARK: - A tiny run

    func config(tracking: String = "") throws -> PipelineConfig {
        try PipelineConfig.parse("""
            name: tiny
            data: {root: \(PipelineRunTests.sample), input_size: 32}
            folds: {k: 2, seed: 3}
            models:
              - {backbone: lenet5, epochs: 1, batch_size: 5, optimizer: {kind: adam, learning_rate: 0.002}, schedule: {kind: constant}, augmentation: none}
            outputs: {sample_chips: 2}
            \(tracking)
            """, file: "tiny.yaml", defaultName: "tiny")
    }

    func bytes(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

    func folder(_ name: String) -> String {
        let path = NSTemporaryDirectory() + "canopy-tracking-\(getpid())-\(name)"
        try? FileManager.default.removeItem(atPath: path)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    /// Runs the pipeline into `results`; returns the runner and the seconds it took.
    func run(_ config: PipelineConfig, into results: String) throws -> (PipelineRunner, Double) {
        let progress = ProgressPrinter(logPath: results + "/train_log.csv", isTerminal: false)
        progress.quiet = true
        let runner = PipelineRunner(config: config, source: "tiny.yaml", results: results, progress: progress)
        let started = Date()
        try runner.run()
        return (runner, Date().timeIntervalSince(started))
    }

    /// What a run computes (not its timings): the submission, decisions, predictions and report numbers.
    func outcome(_ results: String) throws -> [String: String] {
        var out: [String: String] = [:]
        for file in ["submission.csv", "thresholds.json", "ensemble.json", "predictions/ensemble-test.csv", "predictions/lenet5-oof.csv"] {
            out[file] = try String(contentsOfFile: results + "/" + file, encoding: .utf8)
        }
        out["metrics.json"] = try String(contentsOfFile: results + "/metrics.json", encoding: .utf8)
            .split(separator: "\n").filter { !$0.contains("\"seconds\"") }.joined(separator: "\n")
        return out
    }

    func differences(_ a: [String: String], _ b: [String: String]) -> [String] {
        Set(a.keys).union(b.keys).filter { a[$0] != b[$0] }.sorted()
    }

    func testTrackingKeysAreReadCheckedAndChangeNoStageKey() throws {
        let config = try self.config(tracking: "tracking: {mlflow: \"http://127.0.0.1:5000\", experiment: trials, timeout_seconds: 2}")
        XCTAssertEqual(config.tracking, TrackingConfig(mlflow: "http://127.0.0.1:5000", experiment: "trials", timeoutSeconds: 2))
        let overridden = try PipelineConfig.parse("data: {root: x}\nmodels: [{backbone: lenet5}]\n", file: "p.yaml", defaultName: "p",
                                                  overrides: ["tracking.mlflow=http://localhost:5001"])
        XCTAssertEqual(overridden.tracking?.mlflow, "http://localhost:5001")
        XCTAssertEqual(overridden.tracking?.timeoutSeconds, 5)
        XCTAssertEqual(MLflowTracker.Settings.resolve(overridden, fallbackURI: "http://elsewhere:1"),
                       MLflowTracker.Settings(uri: "http://localhost:5001", experiment: "p", timeoutSeconds: 5))
        let plain = try PipelineConfig.parse("data: {root: x}\nmodels: [{backbone: lenet5}]\n", file: "p.yaml", defaultName: "p")
        XCTAssertNil(MLflowTracker.Settings.resolve(plain, fallbackURI: nil))
        XCTAssertEqual(MLflowTracker.Settings.resolve(plain, fallbackURI: "http://127.0.0.1:9")?.uri, "http://127.0.0.1:9")

        func error(_ tracking: String) -> String {
            do { _ = try self.config(tracking: tracking); return "no error" } catch { return "\(error)" }
        }
        XCTAssertTrue(error("tracking: {mlflow: \"https://mlflow.example\"}").hasPrefix("tiny.yaml:7: tracking.mlflow: https is not supported"),
                      error("tracking: {mlflow: \"https://mlflow.example\"}"))
        XCTAssertTrue(error("tracking: {mlflow: \"ftp://x\"}").contains("tracking.mlflow: \"ftp://x\" is not an http://"))
        XCTAssertTrue(error("tracking: {mlfow: \"http://x\"}").hasPrefix("tiny.yaml:7: tracking.mlfow: unknown key (did you mean \"mlflow\"?); known here: mlflow, experiment, timeout_seconds"))
        XCTAssertTrue(error("tracking: {timeout_seconds: 0}").hasPrefix("tiny.yaml:7: tracking.timeout_seconds: 0.0 is out of range 0.1...600"),
                      error("tracking: {timeout_seconds: 0}"))

        // config.json has tracking only when the file sets it; every stage's inputs are those of the run without it.
        let encoder = JSONEncoder()
        XCTAssertFalse(String(decoding: try encoder.encode(plain), as: UTF8.self).contains("tracking"))
        XCTAssertTrue(String(decoding: try encoder.encode(config), as: UTF8.self).contains("\"timeout_seconds\":2"))
    }

    func testTheClientsTimeoutBoundsARefusedAndASilentServer() throws {
        let refused = HTTPEndpoint("http://127.0.0.1:\(Self.closedPort())")!
        var started = HTTPClient.monotonicSeconds()
        XCTAssertThrowsError(try HTTPClient.request(refused, method: "GET", path: "/", timeout: 2)) {
            XCTAssertTrue("\($0)".contains("cannot connect to 127.0.0.1:"), "\($0)")
        }
        XCTAssertLessThan(HTTPClient.monotonicSeconds() - started, 1)

        let silent = try StandInServer(.silent)
        defer { silent.stop() }
        started = HTTPClient.monotonicSeconds()
        XCTAssertThrowsError(try HTTPClient.request(HTTPEndpoint(silent.uri)!, method: "POST", path: "/x", body: Array("{}".utf8), timeout: 0.5)) {
            XCTAssertEqual("\($0)", "no answer within 0.5 s (waiting for the answer)")
        }
        let waited = HTTPClient.monotonicSeconds() - started
        XCTAssertGreaterThanOrEqual(waited, 0.45)
        XCTAssertLessThan(waited, 2)

        XCTAssertEqual(HTTPClient.decodeChunked(Array("4\r\nWiki\r\n5;x=y\r\npedia\r\n0\r\n\r\n".utf8)), Array("Wikipedia".utf8))
        XCTAssertNil(HTTPClient.decodeChunked(Array("4\r\nWik".utf8)))
        XCTAssertEqual(MLflowClient.proxyPath(artifactURI: "mlflow-artifacts:/7/r1/artifacts"), "7/r1/artifacts")
        XCTAssertEqual(MLflowClient.proxyPath(artifactURI: "mlflow-artifacts://127.0.0.1:5000/7/r1/artifacts"), "7/r1/artifacts")
        XCTAssertNil(MLflowClient.proxyPath(artifactURI: "file:///tmp/mlruns/7/r1/artifacts"))
    }

    /// The exact calls of a tracked tiny run, their payloads against the files the run wrote, then a
    /// refused and a silent server: one warning each, within the timeout, and the same results as the
    /// untracked run. A tracked rerun reuses every stage (tracking is in no key) and still sends the
    /// whole log; `canopy track`'s replay sends the same metrics.
    func testATrackedRunSendsItsFilesAndADeadServerCostsOneWarning() throws {
        let plain = folder("plain")
        let (untracked, _) = try run(try config(), into: plain)
        XCTAssertEqual(untracked.progress.warnings, [])
        XCTAssertNil(untracked.tracker)
        let expected = try outcome(plain)

        // Answering: the exact calls, in order.
        let server = try StandInServer(.answering)
        defer { server.stop() }
        let tracked = folder("tracked")
        let (runner, _) = try run(try config(tracking: "tracking: {mlflow: \"\(server.uri)\"}"), into: tracked)
        XCTAssertEqual(runner.progress.warnings, [])
        XCTAssertEqual(runner.tracker?.finishedRun, "r1")
        XCTAssertEqual(try differences(outcome(tracked), expected), [])
        let requests = server.requests
        let artifacts = MLflowTracker.artifactNames.map { "PUT /api/2.0/mlflow-artifacts/artifacts/7/r1/artifacts/\($0)" }
        // The two epoch rows go out as each epoch ends: two requests, or one when the second row
        // arrived before the queue sent the first (rows waiting are sent together).
        let rowBatches = requests.count - 4 - 1 - artifacts.count - 1
        XCTAssertTrue((1...2).contains(rowBatches), "\(requests.map(\.path))")
        XCTAssertEqual(requests.map { "\($0.method) \($0.path)" }, [
            "GET /api/2.0/mlflow/experiments/get-by-name?experiment_name=tiny",
            "POST /api/2.0/mlflow/experiments/create",
            "POST /api/2.0/mlflow/runs/create",
            "POST /api/2.0/mlflow/runs/log-batch",  // parameters
        ] + Array(repeating: "POST /api/2.0/mlflow/runs/log-batch", count: rowBatches)  // fold 0 and fold 1, epoch 1
          + ["POST /api/2.0/mlflow/runs/log-batch"]  // metrics.json
          + artifacts + ["POST /api/2.0/mlflow/runs/update"])
        XCTAssertEqual(requests[1].text, #"{"name":"tiny"}"#)
        let create = requests[2].json
        XCTAssertEqual(create["experiment_id"] as? String, "7")
        XCTAssertEqual(create["run_name"] as? String, "tiny")
        let tags = (create["tags"] as? [[String: String]] ?? []).reduce(into: [String: String]()) { $0[$1["key"]!] = $1["value"] }
        XCTAssertEqual(tags["mlflow.runName"], "tiny")
        XCTAssertEqual(tags["mlflow.source.name"], "tiny.yaml")
        XCTAssertEqual(tags["canopy.sent"], "live")

        // Parameters: config.json flattened, each value as the file spells it.
        let params = (requests[3].json["params"] as? [[String: String]] ?? []).map { ($0["key"]!, $0["value"]!) }
        XCTAssertEqual(requests[3].json["run_id"] as? String, "r1")
        XCTAssertEqual((requests[3].json["metrics"] as? [Any])?.count, 0)
        let configJSON = try String(contentsOfFile: tracked + "/config.json", encoding: .utf8)
        XCTAssertEqual(params.map(\.0), MLflowTracker.parameters(fromConfigJSON: configJSON).map(\.0))
        let byKey = Dictionary(params, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(byKey.count, params.count, "no key twice")
        XCTAssertEqual(byKey["models.0.backbone"], "lenet5")
        XCTAssertEqual(byKey["models.0.optimizer.learning_rate"], "0.002")
        XCTAssertEqual(byKey["folds.k"], "2")
        XCTAssertEqual(byKey["data.input_size"], "32")
        XCTAssertEqual(byKey["tracking.mlflow"], server.uri)
        XCTAssertLessThanOrEqual(params.count, 100)

        // Per-epoch metrics: each train_log.csv row's numeric cells, step = epoch, the exact values.
        let log = try String(contentsOfFile: tracked + "/train_log.csv", encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(log.count, 3)
        let columns = log[0].split(separator: ",").map(String.init)
        var sent: [Batch.Metric] = []
        for batch in requests[4..<(4 + rowBatches)] { sent += try JSONDecoder().decode(Batch.self, from: Data(batch.body)).metrics }
        var expectedRows: [(key: String, value: Double)] = []
        for row in log.dropFirst() {
            let cells = row.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            expectedRows += zip(columns.dropFirst(3), cells.dropFirst(3)).map { ("lenet5/fold-\(cells[1])/\($0)", Double($1)!) }
        }
        XCTAssertEqual(sent.map(\.key), expectedRows.map(\.key))
        XCTAssertEqual(sent.map(\.value), expectedRows.map(\.value))
        XCTAssertTrue(sent.allSatisfy { $0.step == 1 && $0.timestamp > 1_700_000_000_000 })
        // The exact spelling: a cell "0.6931472" is sent as 0.6931472.
        let firstValue = try XCTUnwrap(log[1].split(separator: ",").dropFirst(3).first)
        XCTAssertTrue(requests[4].text.contains(#""key":"lenet5/fold-0/train_loss","value":\#(firstValue),"#), requests[4].text)

        // Final metrics from metrics.json, step 0.
        let report = try ReportWriter.decode(bytes(tracked + "/metrics.json"))
        let final = requests[4 + rowBatches].json["metrics"] as? [[String: Any]] ?? []
        XCTAssertEqual(final.map { $0["key"] as? String }, MLflowTracker.finalMetrics(report).map(\.key))
        let finalValues = try JSONDecoder().decode(Batch.self, from: Data(requests[4 + rowBatches].body)).metrics
        XCTAssertEqual(finalValues.first { $0.key == "final/lenet5_fold_0/mean_f2" }?.value, report.sections[0].meanF2)
        XCTAssertEqual(MLflowTracker.metricName("lenet5 (p ≥ 0.5, no TTA)"), "lenet5_p_0.5_no_TTA")
        XCTAssertEqual(MLflowTracker.metricName("(≥)"), "_")
        XCTAssertEqual(finalValues.map(\.value), MLflowTracker.finalMetrics(report).map(\.value))
        XCTAssertTrue(final.allSatisfy { ($0["step"] as? Int) == 0 })
        // Artifacts: the files' bytes; then FINISHED.
        for (offset, name) in MLflowTracker.artifactNames.enumerated() {
            XCTAssertTrue(try requests[5 + rowBatches + offset].body == bytes(tracked + "/" + name), name)
        }
        let update = try XCTUnwrap(requests.last).json
        XCTAssertEqual(update["run_id"] as? String, "r1")
        XCTAssertEqual(update["status"] as? String, "FINISHED")

        // A rerun with tracking reuses every stage and sends the whole log at the end.
        let before = server.requests.count
        let (again, _) = try run(try config(tracking: "tracking: {mlflow: \"\(server.uri)\"}"), into: plain)
        XCTAssertTrue(again.cache.decisions.allSatisfy { $0.contains("up to date") }, "\(again.cache.decisions)")
        let rerun = Array(server.requests[before...])
        XCTAssertEqual(rerun.map { "\($0.method) \($0.path)" }.prefix(5), [
            "GET /api/2.0/mlflow/experiments/get-by-name?experiment_name=tiny", "POST /api/2.0/mlflow/runs/create",
            "POST /api/2.0/mlflow/runs/log-batch", "POST /api/2.0/mlflow/runs/log-batch", "POST /api/2.0/mlflow/runs/log-batch",
        ])
        XCTAssertEqual((rerun[3].json["metrics"] as? [Any])?.count, 2 * (columns.count - 3), "both rows in one request")

        // canopy track: the same metrics from the files, marked as a replay.
        let beforeReplay = server.requests.count
        let replay = try MLflowTracker.replay(results: tracked, uri: server.uri, experiment: nil, timeoutSeconds: 2, fallbackURI: nil) { _ in }
        XCTAssertEqual(replay.finishedRun, "r1")
        let replayed = Array(server.requests[beforeReplay...])
        XCTAssertEqual(replayed.count, requests.count - 1 - (rowBatches - 1), "no experiment to make; both rows in one request")
        XCTAssertEqual(replayed[2].json["params"] as? [[String: String]], requests[3].json["params"] as? [[String: String]])
        let liveRows = requests[4..<(4 + rowBatches)].flatMap { $0.json["metrics"] as? [[String: Any]] ?? [] }
        XCTAssertEqual((replayed[3].json["metrics"] as? [[String: Any]] ?? []).map { "\($0["key"]!)=\($0["value"]!)@\($0["step"]!)" },
                       liveRows.map { "\($0["key"]!)=\($0["value"]!)@\($0["step"]!)" })

        // A refused connection and a server that never answers: one warning each, no longer than the
        // timeout, and the untracked run's results.
        let silent = try StandInServer(.silent)
        defer { silent.stop() }
        for (name, uri) in [("refused", "http://127.0.0.1:\(Self.closedPort())"), ("silent", silent.uri)] {
            let results = folder(name)
            let (runner, _) = try run(try config(tracking: "tracking: {mlflow: \"\(uri)\", timeout_seconds: 1}"), into: results)
            XCTAssertEqual(runner.progress.warnings.count, 1, "\(name): \(runner.progress.warnings)")
            let warning = runner.progress.warnings.first ?? ""
            XCTAssertTrue(warning.hasPrefix("MLflow tracking at \(uri) is off for the rest of this run: GET /api/2.0/mlflow/experiments/get-by-name"), warning)
            XCTAssertTrue(warning.contains(name == "refused" ? "cannot connect to 127.0.0.1:" : "no answer within 1 s"), warning)
            XCTAssertNil(runner.tracker?.finishedRun)
            XCTAssertEqual(try differences(outcome(results), expected), [], name)
        }
        XCTAssertEqual(silent.requests.count, 1, "one request, then tracking stops")

        // A server that answers each request within the timeout, but slowly (0.6 s of 1): training
        // never waits for it, and the end of the run (8 requests) waits at most 4 timeouts, then
        // stops tracking with its one warning. (On a starved machine a request may pass the timeout
        // itself first: one warning either way.)
        let slow = try StandInServer(.slow(0.6))
        defer { slow.stop() }
        let results = folder("slow")
        let (slowRunner, _) = try run(try config(tracking: "tracking: {mlflow: \"\(slow.uri)\", timeout_seconds: 1}"), into: results)
        XCTAssertEqual(slowRunner.progress.warnings.count, 1, "\(slowRunner.progress.warnings)")
        let slowWarning = slowRunner.progress.warnings.first ?? ""
        XCTAssertTrue(slowWarning.contains("is off for the rest of this run: the server did not take the run's end (metrics, artifacts, status) within 4 s.")
                      || slowWarning.contains("no answer within 1 s"), slowWarning)
        XCTAssertEqual(try differences(outcome(results), expected), [], "slow")
        XCTAssertNil(slowRunner.tracker?.finishedRun)
    }
}

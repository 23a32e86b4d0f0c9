#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import XCTest

/// `MLFLOW_TRACKING_URI` and `canopy track` from the command line (the REST calls themselves are
/// checked against a stand-in server in PipelineTests.TrackingTests).
final class TrackCommandTests: XCTestCase {
    /// A port nothing listens on (bound, then closed).
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

    func testTheEnvironmentsServerDownIsOneWarningAndTrackSaysWhyItCannotSend() throws {
        let (folder, pipeline) = try CLI.tinyPipeline(in: "canopy-track")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let results = folder + "/results"
        let uri = "http://127.0.0.1:\(Self.closedPort())"

        let run = try CLI.run(["run", pipeline, "--results", results, "--quiet"], environment: ["MLFLOW_TRACKING_URI": uri])
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertEqual(run.output.components(separatedBy: "warning: ").count - 1, 1, run.output)
        XCTAssertTrue(run.output.contains("warning: MLflow tracking at \(uri) is off for the rest of this run: "), run.output)
        XCTAssertTrue(FileManager.default.fileExists(atPath: results + "/submission.csv"))

        let nowhere = try CLI.run(["track", results], environment: ["MLFLOW_TRACKING_URI": ""])
        XCTAssertEqual(nowhere.status, 1)
        XCTAssertTrue(nowhere.output.contains("no MLflow server to send \(results) to: give --mlflow http://HOST:PORT, or set MLFLOW_TRACKING_URI"),
                      nowhere.output)
        let refused = try CLI.run(["track", results, "--mlflow", uri, "--timeout", "2"])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.output.contains("MLflow at \(uri): GET /api/2.0/mlflow/experiments/get-by-name?experiment_name=tiny: cannot connect"),
                      refused.output)
        XCTAssertFalse(refused.output.contains("warning:"), refused.output)

        let https = try CLI.run(["run", pipeline, "--results", results, "--set", "tracking.mlflow=https://mlflow.example"])
        XCTAssertNotEqual(https.status, 0)
        XCTAssertTrue(https.output.contains("tracking.mlflow: https is not supported"), https.output)
    }
}

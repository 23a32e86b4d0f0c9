import Foundation
import XCTest

/// Runs the `canopy` executable SwiftPM built beside the test bundle, the way a user does, from the
/// repository root; returns its exit status and everything it printed (stdout and stderr).
enum CLI {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static var executable: URL {
        var folder = Bundle(for: Marker.self).bundleURL
        while !FileManager.default.fileExists(atPath: folder.appendingPathComponent("canopy").path) && folder.path != "/" {
            folder.deleteLastPathComponent()
        }
        return folder.appendingPathComponent("canopy")
    }

    /// A new temporary folder named from `prefix`, holding `tiny.yaml`: LeNet-5 for one epoch on 2 folds
    /// of datasets/planet-sample at 32 px, no report.
    static func tinyPipeline(in prefix: String) throws -> (folder: String, pipeline: String) {
        try pipeline(in: prefix, """
            name: tiny
            data: {root: datasets/planet-sample, input_size: 32}
            folds: {k: 2, seed: 3}
            models:
              - {backbone: lenet5, epochs: 1, batch_size: 5}
            outputs: {report: false}
            """)
    }

    /// A new temporary folder named from `prefix`, holding `tiny.yaml` with `text`.
    static func pipeline(in prefix: String, _ text: String) throws -> (folder: String, pipeline: String) {
        let folder = NSTemporaryDirectory() + "\(prefix)-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let pipeline = folder + "/tiny.yaml"
        try text.write(toFile: pipeline, atomically: true, encoding: .utf8)
        return (folder, pipeline)
    }

    /// `environment` adds variables to this process's own.
    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        let result = try runReportingSignal(arguments, environment: environment)
        return (result.status, result.output)
    }

    /// As `run`; `signalled` is true when the process ended by a signal (`status` is then its number).
    static func runReportingSignal(_ arguments: [String], environment: [String: String] = [:]) throws
        -> (status: Int32, signalled: Bool, output: String) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        process.currentDirectoryURL = repository
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, process.terminationReason == .uncaughtSignal, String(decoding: data, as: UTF8.self))
    }

    /// JSON objects printed one per line.
    static func jsonLines(_ output: String) throws -> [[String: Any]] {
        try output.split(separator: "\n").filter { $0.hasPrefix("{") }.map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    private final class Marker {}
}

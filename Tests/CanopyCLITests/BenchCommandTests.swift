import Foundation
import XCTest

/// The benchmark commands run and print what their documentation promises (their figures are
/// measured in release builds; here only the shape of the output is checked).
final class BenchCommandTests: XCTestCase {
    private let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    private func canopy(_ arguments: [String]) throws -> (status: Int32, output: String) {
        var folder = Bundle(for: Self.self).bundleURL
        while !FileManager.default.fileExists(atPath: folder.appendingPathComponent("canopy").path) && folder.path != "/" {
            folder.deleteLastPathComponent()
        }
        let process = Process()
        process.executableURL = folder.appendingPathComponent("canopy")
        process.arguments = arguments
        process.currentDirectoryURL = root
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    func testBenchDecodePrintsBothScalesAndJSON() throws {
        let (status, output) = try canopy(["bench", "decode", "--rounds", "1", "--repeats", "1", "--json",
                                           "datasets/planet-sample/train-jpg"])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("20 JPEG files x 1"), output)
        let objects = try output.split(separator: "\n").filter { $0.hasPrefix("{") }.map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        XCTAssertEqual(objects.compactMap { $0["scale"] as? Int }, [1, 2])
        for object in objects {
            XCTAssertGreaterThan(object["canopy_chips_per_second"] as? Double ?? 0, 0)
            XCTAssertGreaterThan(object["libjpeg_turbo_chips_per_second"] as? Double ?? 0, 0)
        }
    }

    func testBenchKernelsPrintsEveryColumn() throws {
        let (status, output) = try canopy(["bench", "kernels", "--only", "layer4", "--batch", "2", "--rounds", "1", "--json"])
        XCTAssertEqual(status, 0, output)
        let objects = try output.split(separator: "\n").filter { $0.hasPrefix("{") }.map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        XCTAssertEqual(objects.count, 3)  // layer4.0.conv1, layer4.0.downsample, layer4 3x3/1
        for key in ["forward_gflops", "forward_sgemm_gflops", "backward_gflops", "backward_sgemm_gflops",
                    "per_image_forward_gflops", "fold_backward_gflops"] {
            XCTAssertTrue(objects.allSatisfy { ($0[key] as? Double ?? 0) > 0 }, key)
        }
        let refused = try canopy(["bench", "kernels", "--size", "8"])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.output.contains("size >= 32"), refused.output)
    }
}

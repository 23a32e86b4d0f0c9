import Foundation
import XCTest

/// Runs the built `canopy synth` the way a user does.
final class SynthCommandTests: XCTestCase {
    func testWritesTheLayoutAndAPreview() throws {
        let folder = NSTemporaryDirectory() + "canopy-synth-cli-\(getpid())"
        try? FileManager.default.removeItem(atPath: folder)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (status, output) = try CLI.run(["synth", "--out", folder, "--train", "4", "--test", "3", "--seed", "2",
                                        "--size", "48", "--tif", "--preview"])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("chips/s"), output)
        XCTAssertTrue(output.contains("preview.png"), output)
        for path in ["train-jpg/train_3.jpg", "train-tif-v2/train_0.tif", "test-jpg/test_1.jpg", "test-jpg-additional/file_0.jpg",
                     "test-tif-v2/file_0.tif", "train_v2.csv", "sample_submission_v2.csv", "test_labels.csv", "preview.png"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: folder + "/" + path), path)
        }
    }

    func testBadArgumentsGetAOneLineMessage() throws {
        for (arguments, message) in [(["--train=-1"], "--train must be 0 or more"), (["--train", "1", "--test=-3"], "--test must be 0 or more"),
                                     (["--train", "1", "--size", "16"], "--size must be between 32 and 1024"),
                                     (["--train", "1", "--size", "2048"], "--size must be between 32 and 1024")] {
            let (status, output) = try CLI.run(["synth", "--out", NSTemporaryDirectory() + "never-written"] + arguments)
            XCTAssertNotEqual(status, 0, output)
            XCTAssertTrue(output.contains(message), output)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: NSTemporaryDirectory() + "never-written"))
    }

    func testUnwritableFolderIsAnErrorNamingIt() throws {
        let (status, output) = try CLI.run(["synth", "--out", "/proc/canopy-synth", "--train", "1", "--size", "32"])
        XCTAssertNotEqual(status, 0, output)
        XCTAssertTrue(output.contains("/proc/canopy-synth"), output)
        XCTAssertFalse(output.contains("Fatal"), output)
    }
}

import Foundation
import XCTest

/// `canopy weights convert` and `inspect` on the torch.save fixtures of NNTests.
final class WeightsCommandTests: XCTestCase {
    private let fixtures = "Tests/NNTests/Fixtures/torch"

    private func temporaryFolder() throws -> String {
        let folder = NSTemporaryDirectory() + "canopy-weights-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: folder) }
        return folder
    }

    func testConvertWritesSafetensorsAndSaysWhatItDid() throws {
        let out = try temporaryFolder() + "/tiny.safetensors"
        let (status, output) = try CLI.run(["weights", "convert", "\(fixtures)/nested_model.pth", "--out", out])
        XCTAssertEqual(status, 0, output)
        XCTAssertEqual(output.split(separator: "\n").map(String.init), [
            "read \(fixtures)/nested_model.pth (torch.save zip, pickle protocol 2): 8 tensors (F32 7, I64 1)",
            "  the state dict is under 'model'",
            "  stripped the prefix 'module.' from every name",
            "  left out 4 entries that are not the state dict's tensors: done, epoch, note, optimizer",
            "wrote \(out): 8 tensors (F32 7, I64 1), \(try FileManager.default.attributesOfItem(atPath: out)[.size] as! Int) bytes",
        ])
        let (inspectStatus, listing) = try CLI.run(["weights", "inspect", out])
        XCTAssertEqual(inspectStatus, 0, listing)
        XCTAssertEqual(listing.split(separator: "\n").map(String.init), [
            "\(out) (safetensors): 8 tensors (F32 7, I64 1)",
            "  bn1.bias                 F32   [4]",
            "  bn1.num_batches_tracked  I64   []",
            "  bn1.running_mean         F32   [4]",
            "  bn1.running_var          F32   [4]",
            "  bn1.weight               F32   [4]",
            "  conv1.weight             F32   [4, 3, 3, 3]",
            "  fc.bias                  F32   [5]",
            "  fc.weight                F32   [5, 64]",
        ])
    }

    func testHalfPrecisionIsWidenedExactly() throws {
        let out = try temporaryFolder() + "/dtypes.safetensors"
        let (status, output) = try CLI.run(["weights", "convert", "\(fixtures)/dtypes.pth", "--out", out])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("  2 F16/BF16 tensors written as F32 (exact)\n"), output)
        let (_, listing) = try CLI.run(["weights", "inspect", out])
        XCTAssertTrue(listing.contains("  half      F32   [3, 2]"), listing)
        XCTAssertTrue(listing.contains("  double    F64   [2, 2]"), listing)
    }

    func testAPickleNamingOsSystemIsRefusedAndNothingIsWritten() throws {
        let out = try temporaryFolder() + "/evil.safetensors"
        let (status, output) = try CLI.run(["weights", "convert", "\(fixtures)/malicious_os_system.pth", "--out", out])
        XCTAssertEqual(status, 1, output)
        XCTAssertTrue(output.hasPrefix("Error: \(fixtures)/malicious_os_system.pth: data.pkl byte 200: refused global posix.system: "), output)
        XCTAssertEqual(output.split(separator: "\n").count, 1, output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }
}

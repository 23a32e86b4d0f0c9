import Foundation
import XCTest

/// The benchmark commands run and print what their documentation promises (their figures are
/// measured in release builds; here only the shape of the output is checked).
final class BenchCommandTests: XCTestCase {
    private let root = CLI.repository

    func testBenchDecodePrintsBothScalesAndJSON() throws {
        let (status, output) = try CLI.run(["bench", "decode", "--rounds", "1", "--repeats", "1", "--json",
                                           "datasets/planet-sample/train-jpg"])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("20 JPEG files x 1"), output)
        let objects = try CLI.jsonLines(output)
        XCTAssertEqual(objects.compactMap { $0["scale"] as? Int }, [1, 2])
        for object in objects {
            XCTAssertGreaterThan(object["canopy_chips_per_second"] as? Double ?? 0, 0)
            XCTAssertGreaterThan(object["libjpeg_turbo_chips_per_second"] as? Double ?? 0, 0)
        }
    }

    func testBenchKernelsPrintsEveryColumn() throws {
        let (status, output) = try CLI.run(["bench", "kernels", "--only", "layer4", "--batch", "2", "--rounds", "1", "--json"])
        XCTAssertEqual(status, 0, output)
        let objects = try CLI.jsonLines(output)
        XCTAssertEqual(objects.count, 3)  // layer4.0.conv1, layer4.0.downsample, layer4 3x3/1
        for key in ["forward_gflops", "forward_sgemm_gflops", "backward_gflops", "backward_sgemm_gflops",
                    "per_image_forward_gflops", "fold_backward_gflops"] {
            XCTAssertTrue(objects.allSatisfy { ($0[key] as? Double ?? 0) > 0 }, key)
        }
        let refused = try CLI.run(["bench", "kernels", "--size", "8"])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.output.contains("size >= 32"), refused.output)
    }

    func testBenchGEMMPrintsOneRowPerShapeAndRefusesABadShape() throws {
        let (status, output) = try CLI.run(["bench", "gemm", "--rounds", "1", "--shape", "64x64x32", "--shape", "96x64x16t"])
        XCTAssertEqual(status, 0, output)
        let rows = output.split(separator: "\n").filter { $0.hasPrefix("64x64x32\t") || $0.hasPrefix("96x64x16t\t") }
        XCTAssertEqual(rows.count, 2, output)
        for row in rows {
            let fields = row.split(separator: "\t")
            XCTAssertEqual(fields.count, 5, String(row))
            XCTAssertTrue(fields[2...3].allSatisfy { (Double($0) ?? 0) > 0 }, String(row))
        }
        let refused = try CLI.run(["bench", "gemm", "--shape", "64x64"])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.output.contains("shape '64x64'"), refused.output)
    }
}

extension BenchCommandTests {
    /// LeNet-5 at 32 px on 3 bands, counted by hand in multiply-adds (2 FLOPs each): conv1 28·28·6·(3·25)
    /// = 352 800, conv2 10·10·16·(6·25) = 240 000, the dense layers 400·120 + 120·84 + 84·17 = 59 508;
    /// 652 308 in all.
    static let lenetForwardFlops: Double = {
        let conv1: Int = 28 * 28 * 6 * (3 * 25), conv2: Int = 10 * 10 * 16 * (6 * 25)
        let dense: Int = 400 * 120 + 120 * 84 + 84 * 17
        return 2 * Double(conv1 + conv2 + dense)
    }()

    func testBenchTrainAndInferEndInTheJSONLineThePeerComparisonReads() throws {
        for mode in ["train", "infer"] {
            let (status, output) = try CLI.run(["bench", mode, "--model", "lenet5", "--size", "32", "--batch", "4", "--steps", "2",
                                                "--warmup", "1", "--json"])
            XCTAssertEqual(status, 0, output)
            let last = try XCTUnwrap(try CLI.jsonLines(output).last)
            for key in ["images_per_second", "gflops", "peak_rss_mb"] { XCTAssertGreaterThan(last[key] as? Double ?? 0, 0, key) }
            XCTAssertEqual(last["model"] as? String, "lenet5")
            // The FLOP rate is the images/s times the FLOPs of one image: a forward pass, and three
            // for a training step (forward, and backward to inputs and to weights).
            let perImage = (last["gflops"] as? Double ?? 0) * 1e9 / (last["images_per_second"] as? Double ?? 1)
            XCTAssertEqual(perImage, (mode == "train" ? 3 : 1) * Self.lenetForwardFlops, accuracy: 1e-6 * Self.lenetForwardFlops, mode)
        }
        for mode in ["train", "infer"] {
            let (status, output) = try CLI.run(["bench", mode, "--model", "lenet5", "--size", "32", "--batch", "4", "--steps", "2",
                                                "--warmup", "1", "--profile"])
            XCTAssertEqual(status, 0, output)
            XCTAssertTrue(output.contains("profile: 2 steps"), output)
            XCTAssertTrue(output.contains("conv 5x5/1"), output)
            XCTAssertTrue(output.contains(mode == "train" ? "loss, zeroing the gradients" : "concatenation, sigmoid"), output)
            if mode == "train" { XCTAssertTrue(output.contains("optimiser step"), output) }
        }
        let (status, output) = try CLI.run(["bench", "train", "--model", "resnet19"])
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(output.contains("unknown model resnet19"), output)
    }
}

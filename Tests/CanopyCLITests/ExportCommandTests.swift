import Foundation
import XCTest

/// `canopy export` as a user runs it: what it writes for a trained pipeline, and its errors.
final class ExportCommandTests: XCTestCase {
    var folder = ""
    var pipeline = ""

    override func setUpWithError() throws {
        (folder, pipeline) = try CLI.tinyPipeline(in: "canopy-cli-export")
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: folder) }

    func testExportBeforeTrainingNamesTheMissingFileAndWritesNothing() throws {
        let results = folder + "/results", out = folder + "/onnx"
        let refused = try CLI.run(["export", pipeline, "--results", results, "--out", out])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.output.contains("\(results)/thresholds.json: missing: train the pipeline first"), refused.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }

    func testExportWritesEveryFoldWithServingAndCheckFilesAndRefusesWhatIsNotThere() throws {
        let results = folder + "/results", out = folder + "/onnx"
        let run = try CLI.run(["run", pipeline, "--results", results, "--quiet"])
        XCTAssertEqual(run.status, 0, run.output)

        let exported = try CLI.run(["export", pipeline, "--results", results, "--out", out,
                                    "--check-images", "datasets/planet-sample/test-jpg", "--check-count", "3"])
        XCTAssertEqual(exported.status, 0, exported.output)
        let files = Set(try FileManager.default.contentsOfDirectory(atPath: out))
        XCTAssertEqual(files, ["lenet5-fold-0.onnx", "lenet5-fold-1.onnx", "lenet5-fold-0.check.safetensors",
                               "lenet5-fold-1.check.safetensors", "serving.json"])
        let serving = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/serving.json")))
            as? [String: Any])
        let input = try XCTUnwrap(serving["input"] as? [String: Any])
        XCTAssertEqual(input["bands"] as? [String], ["R", "G", "B"])
        XCTAssertEqual((input["mean"] as? [Double])?.count, 3)
        XCTAssertEqual((input["std"] as? [Double])?.count, 3)
        XCTAssertEqual(((serving["output"] as? [String: Any])?["labels"] as? [String])?.count, 17)
        let model = try XCTUnwrap((serving["models"] as? [[String: Any]])?.first)
        XCTAssertEqual(model["input_size"] as? Int, 32)
        XCTAssertEqual((model["networks"] as? [[String: Any]])?.compactMap { $0["file"] as? String },
                       ["lenet5-fold-0.onnx", "lenet5-fold-1.onnx"])
        let thresholds = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: results + "/thresholds.json")))
            as? [String: Any])
        let chosen = try XCTUnwrap(thresholds["chosen"] as? [String: Any])
        XCTAssertEqual((serving["decision"] as? [String: Any])?["name"] as? String, chosen["name"] as? String)
        // An ONNX file starts with ir_version (field 1, varint): 0x08 0x08.
        let onnx = try Data(contentsOf: URL(fileURLWithPath: out + "/lenet5-fold-0.onnx"))
        XCTAssertEqual(Array(onnx.prefix(2)), [0x08, 0x08])

        let one = try CLI.run(["export", pipeline, "--results", results, "--out", folder + "/one", "--fold", "1", "--quiet"])
        XCTAssertEqual(one.status, 0, one.output)
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: folder + "/one")), ["lenet5-fold-1.onnx", "serving.json"])

        let noModel = try CLI.run(["export", pipeline, "--results", results, "--out", out, "--model", "vgg"])
        XCTAssertNotEqual(noModel.status, 0)
        XCTAssertTrue(noModel.output.contains("--model vgg: no such model in \(pipeline) (its models: lenet5)"), noModel.output)
        let noFold = try CLI.run(["export", pipeline, "--results", results, "--out", out, "--fold", "refit"])
        XCTAssertNotEqual(noFold.status, 0)
        XCTAssertTrue(noFold.output.contains("--fold refit: not trained by \(pipeline) (its networks: fold-0, fold-1)"), noFold.output)

        let weights = results + "/models/lenet5/fold-1/best.safetensors"
        try FileManager.default.removeItem(atPath: weights)
        let missing = try CLI.run(["export", pipeline, "--results", results, "--out", folder + "/two"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.output.contains("\(weights): missing: train the pipeline first"), missing.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/two"), "nothing written when a file is missing")
    }

    func testARefitPipelineExportsItsRefitAndSaysCanopyPredictsWithItAlone() throws {
        let results = folder + "/results", out = folder + "/onnx"
        let run = try CLI.run(["run", pipeline, "--results", results, "--quiet", "--set", "folds.refit=true"])
        XCTAssertEqual(run.status, 0, run.output)
        let exported = try CLI.run(["export", pipeline, "--results", results, "--out", out, "--set", "folds.refit=true",
                                    "--fold", "refit", "--quiet"])
        XCTAssertEqual(exported.status, 0, exported.output)
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: out)), ["lenet5-refit.onnx", "serving.json"])
        let serving = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/serving.json")))
            as? [String: Any])
        let model = try XCTUnwrap((serving["models"] as? [[String: Any]])?.first)
        XCTAssertEqual(model["canopy_predicts_with"] as? String, "the refit alone (lenet5-refit.onnx)")
        XCTAssertEqual((model["networks"] as? [[String: Any]])?.first?["weights"] as? String,
                       results + "/models/lenet5/refit/best.safetensors")
    }
}

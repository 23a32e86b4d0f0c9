import Foundation
import Pipeline
import PlanetData
import Training
import XCTest

final class PipelineConfigTests: XCTestCase {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func testEveryShippedPipelineParses() throws {
        let folder = Self.repository.appendingPathComponent("pipelines")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".yaml") }
        XCTAssertTrue(files.contains("quickstart.yaml"))
        for file in files { _ = try PipelineConfig.load(folder.appendingPathComponent(file).path) }

        let quickstart = try PipelineConfig.load(folder.appendingPathComponent("quickstart.yaml").path)
        XCTAssertEqual(quickstart.name, "quickstart")
        XCTAssertEqual(quickstart.data.root, "datasets/planet-sample")
        XCTAssertEqual(quickstart.models.map(\.backbone), ["resnet18", "lenet5"])
        XCTAssertEqual(quickstart.models[0].inputSize, 64)
        XCTAssertEqual(quickstart.models[0].schedule, .cosine(warmupEpochs: 1))
        XCTAssertEqual(quickstart.models[0].augmentation.crop?.scale, 0.8...1.0)
        XCTAssertEqual(quickstart.tta, .d4)
    }

    func parse(_ text: String, overrides: [String] = []) throws -> PipelineConfig {
        try PipelineConfig.parse(text, file: "p.yaml", defaultName: "p", overrides: overrides)
    }

    func error(_ text: String, overrides: [String] = []) -> String {
        do { _ = try parse(text, overrides: overrides); return "no error" } catch { return "\(error)" }
    }

    let minimal = """
        data:
          root: /data/planet
        models:
          - backbone: resnet18
            epochs: 2
        """

    func testDefaultsFillWhatAFileLeavesOut() throws {
        let config = try parse(minimal)
        XCTAssertEqual(config.name, "p")
        XCTAssertEqual(config.folds.k, 5)
        XCTAssertEqual(config.models[0].name, "resnet18")
        XCTAssertEqual(config.models[0].epochs, 2)
        XCTAssertEqual(config.models[0].inputSize, 128)
        XCTAssertEqual(config.tta, TestTimeAugmentation.none)
        XCTAssertEqual(config.data.bands, .rgb)
        XCTAssertEqual(config.thresholds.weatherRule, .auto)
    }

    func testUnknownKeysAndBadValuesNameTheKeyAndLine() {
        XCTAssertEqual(error(minimal + "\n    epoch: 3"),
                       "p.yaml:6: models.0.epoch: unknown key (did you mean \"epochs\"?); known here: name, backbone, init, init_strict, input_size, epochs, batch_size, optimizer, schedule, augmentation, loss, early_stopping, oversample_rare, progressive_resizing, mixup, swa, clip_gradient_norm, on_non_finite, seed")
        XCTAssertEqual(error(minimal.replacingOccurrences(of: "epochs: 2", with: "epochs: ten")),
                       "p.yaml:5: models.0.epochs: expected a whole number, got \"ten\"")
        XCTAssertTrue(error(minimal.replacingOccurrences(of: "resnet18", with: "resnet19"))
            .hasPrefix("p.yaml:4: models.0.backbone: unknown backbone \"resnet19\"; known: lenet5, alexnet"))
        XCTAssertEqual(error(minimal + "\ntta: d8"), "p.yaml:6: tta: \"d8\" is not one of none, flips, d4")
        XCTAssertEqual(error(minimal + "\nfolds: {k: 1}"), "p.yaml:6: folds.k: 1 is out of range 2...100")
        XCTAssertEqual(error(minimal + "\n    schedule: {kind: cosine, gamma: 0.5}"),
                       "p.yaml:6: models.0.schedule.gamma: not a setting of the cosine schedule (it takes: warmup_epochs)")
        XCTAssertEqual(error("models: []\n"), "p.yaml:1: missing the data section (data: root: ...)")
        XCTAssertEqual(error("data: {root: x}\nmodels:\n  - backbone: lenet5\n  - backbone: lenet5\n"),
                       "p.yaml:4: models.1: two models named \"lenet5\": give one a name: key")
        XCTAssertTrue(error("data: [unclosed").hasPrefix("p.yaml:2: not valid YAML"), error("data: [unclosed"))
    }

    func testCommandLineOverridesAnyValue() throws {
        let config = try parse(minimal, overrides: ["models.0.epochs=7", "data.root=/other", "folds.k=3", "models.0.optimizer.kind=adamw",
                                                    "ensemble.method=ridge"])
        XCTAssertEqual(config.models[0].epochs, 7)
        XCTAssertEqual(config.data.root, "/other")
        XCTAssertEqual(config.folds.k, 3)
        XCTAssertEqual(config.models[0].optimizer.kind, .adamw)
        XCTAssertEqual(config.ensemble.method, .ridge)
        XCTAssertEqual(error(minimal, overrides: ["models.3.epochs=1"]), "--set: models.3: no list item 3 (the list has 1)")
        XCTAssertEqual(error(minimal, overrides: ["models.0.epochs=x"]), "p.yaml: models.0.epochs: expected a whole number, got \"x\"")
        XCTAssertTrue(error(minimal, overrides: ["data.rooot=x"]).hasPrefix("p.yaml: data.rooot: unknown key (did you mean \"root\"?); known here: root, bands"))
        XCTAssertEqual(error(minimal, overrides: ["nothing"]), "--set: nothing: expected KEY.PATH=VALUE")
    }

    func testEveryNestedSettingNamesItsKeyAndLine() {
        func model(_ settings: String) -> String { minimal + ", " + settings }
        let minimal = "data: {root: x}\nmodels:\n  - {backbone: lenet5"
        func check(_ text: String, _ expected: String, line: UInt = #line) {
            XCTAssertEqual(error(text + (text.hasPrefix(minimal) ? "}" : "")), expected, line: line)
        }
        check(model("loss: {positive_weight: balanced}"),
              "p.yaml:3: models.0.loss.positive_weight: unknown key (did you mean \"positive_weights\"?); known here: kind, positive_weights, label_smoothing")
        check(model("loss: {positive_weights: always}"), "p.yaml:3: models.0.loss.positive_weights: \"always\" is not one of balanced")
        check(model("early_stopping: {metric: f3}"), "p.yaml:3: models.0.early_stopping.metric: \"f3\" is not one of f2, loss")
        check(model("augmentation: {crop: {scale: [0.9, 0.5]}}"), "p.yaml:3: models.0.augmentation.crop.scale: low 0.9 is above high 0.5")
        check(model("augmentation: {crop: {ratio: [0.9]}}"), "p.yaml:3: models.0.augmentation.crop.ratio: expected [low, high]")
        check(model("augmentation: {crop: {scale: [0, 1]}}"), "p.yaml:3: models.0.augmentation.crop.scale.0: 0.0 is out of range 0.01...1.0")
        check(model("augmentation: sometimes"),
              "p.yaml:3: models.0.augmentation: expected none, default, or a mapping of symmetries, crop, translate, brightness, contrast, gamma")
        check(model("optimizer: {learning_rate: 20}"), "p.yaml:3: models.0.optimizer.learning_rate: 20.0 is out of range 1e-09...10.0")
        check(model("schedule: {warmup_epochs: 2}"), "p.yaml:3: models.0.schedule: missing kind (constant, step, cosine, one_cycle, plateau)")
        check(model("schedule: {kind: step, every_epochs: 0}"), "p.yaml:3: models.0.schedule.every_epochs: 0 is out of range 1...10000")
        check(model("epochs: ~"), "p.yaml:3: models.0.epochs: expected a whole number, got \"~\"")
        check(model("seed: -1"), "p.yaml:3: models.0.seed: -1 is out of range >= 0")
        check("data: {root: x}\nmodels: []\n", "p.yaml:2: models: at least one model")
        check("data: {root: x, workers: 0}\nmodels: [{backbone: lenet5}]\n", "p.yaml:1: data.workers: 0 is out of range 1...64")
        check("data: {root: x, cache_mb: -1}\nmodels: [{backbone: lenet5}]\n", "p.yaml:1: data.cache_mb: -1 is out of range 0...1048576")
        check("data: {}\nmodels: [{backbone: lenet5}]\n", "p.yaml:1: data: missing root (the dataset folder)")
        check("data: {root: x}\nmodels: [{backbone: lenet5}]\noutputs: {report: maybe}\n", "p.yaml:3: outputs.report: expected true or false, got \"maybe\"")
        check("data: {root: x}\nmodels: [{backbone: lenet5}]\nthreads: 0\n", "p.yaml:3: threads: 0 is out of range 1...1024")
        check("data: {root: x}\nmodels: [{backbone: lenet5}]\nname: a/b\n", "p.yaml:3: name: name \"a/b\" must be a plain folder name")
        // JSON is YAML: a config.json names its line too.
        check("{\"data\": {\"root\": \"x\"},\n \"models\": [{\"backbone\": \"lenet5\", \"epochs\": \"ten\"}]}",
              "p.yaml:2: models.0.epochs: expected a whole number, got \"ten\"")
    }
}

/// `models[].progressive_resizing` as the pipeline file gives it.
final class ProgressiveResizingConfigTests: XCTestCase {
    func parse(_ resizing: String, epochs: Int = 10) throws -> PipelineConfig {
        try PipelineConfig.parse("data: {root: x, input_size: 96}\nmodels:\n  - backbone: resnet18\n    epochs: \(epochs)\n    progressive_resizing: \(resizing)\n",
                                 file: "p.yaml", defaultName: "p")
    }

    func error(_ resizing: String, epochs: Int = 10) -> String {
        do { _ = try parse(resizing, epochs: epochs); return "no error" } catch { return "\(error)" }
    }

    func testStagesAreReadAndChecked() throws {
        let config = try parse("[{epochs: 4, input_size: 64}, {epochs: 3, input_size: 80}]")
        XCTAssertEqual(config.models[0].progressiveResizing?.stages, [.init(epochs: 4, inputSize: 64), .init(epochs: 3, inputSize: 80)])
        XCTAssertEqual((0..<10).map { config.models[0].trainingInputSize(epoch: $0) }, [64, 64, 64, 64, 80, 80, 80, 96, 96, 96])
        XCTAssertEqual(error("[{epochs: 10, input_size: 64}]"),
                       "p.yaml:5: models.0.progressive_resizing: the stages take 10 epochs of the model's 10: leave some for input_size 96")
        XCTAssertEqual(error("[{epochs: 2, input_size: 64}, {epochs: 2, input_size: 16}]"),
                       "p.yaml:5: models.0.progressive_resizing.1.input_size: 16 is out of range 32...1024")
        XCTAssertEqual(error("[{epochs: 2}]"), "p.yaml:5: models.0.progressive_resizing.0: missing input_size (the stage's size in pixels)")
        XCTAssertEqual(error("[]"), "p.yaml:5: models.0.progressive_resizing: at least one stage ({epochs: N, input_size: PX}), or leave it out")
    }
}

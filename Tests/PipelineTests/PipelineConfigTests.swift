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
                       "p.yaml:6: models.0.epoch: unknown key (did you mean \"epochs\"?); known here: name, backbone, init, init_strict, input_size, epochs, batch_size, optimizer, schedule, augmentation, loss, early_stopping, clip_gradient_norm, on_non_finite, seed")
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
}

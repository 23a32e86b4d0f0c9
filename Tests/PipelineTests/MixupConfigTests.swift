import Foundation
import NN
@testable import Pipeline
import Training
import XCTest

/// `models[].mixup` and `models[].loss.label_smoothing` in a pipeline file: decoded, checked (errors
/// name the key and line), written back to config.json, and in the training stage's key only when set.
final class MixupConfigTests: XCTestCase {
    let minimal = "data: {root: x}\nmodels:\n  - {backbone: lenet5"

    func parse(_ settings: String) throws -> PipelineConfig {
        try PipelineConfig.parse(minimal + (settings.isEmpty ? "" : ", " + settings) + "}", file: "p.yaml", defaultName: "p")
    }

    func error(_ settings: String) -> String {
        do { _ = try parse(settings); return "no error" } catch { return "\(error)" }
    }

    func testDefaultsAreOff() throws {
        let model = try parse("").models[0]
        XCTAssertNil(model.mixup)
        XCTAssertEqual(model.loss.labelSmoothing, 0)
        XCTAssertEqual(model.loss.makeLoss(positiveWeights: nil) is BinaryCrossEntropy, true, "no smoothing wrapper at 0")
    }

    func testDecodesBothSettings() throws {
        let model = try parse("mixup: {alpha: 0.4, probability: 0.5}, loss: {kind: bce+soft_f2, label_smoothing: 0.1}").models[0]
        XCTAssertEqual(model.mixup, Mixup(alpha: 0.4, probability: 0.5))
        XCTAssertEqual(model.loss, LossSpec(kind: .bceAndSoftF2, labelSmoothing: 0.1))
        XCTAssertEqual(try parse("mixup: {}").models[0].mixup, Mixup(alpha: 0.2, probability: 1), "the defaults")
        XCTAssertEqual(try parse("mixup: {alpha: 1}").models[0].mixup, Mixup(alpha: 1, probability: 1))
    }

    func testBadValuesNameTheKeyAndLine() {
        XCTAssertEqual(error("loss: {label_smoothing: 0.5}"), "p.yaml:3: models.0.loss.label_smoothing: 0.5 is out of range 0..<0.5")
        XCTAssertEqual(error("loss: {label_smoothing: -0.1}"), "p.yaml:3: models.0.loss.label_smoothing: -0.1 is out of range 0..<0.5")
        XCTAssertEqual(error("loss: {kind: soft_f2, label_smoothing: 0.1}"),
                       "p.yaml:3: models.0.loss.label_smoothing: smooths BCE's targets, and soft_f2 has no BCE term (use bce or bce+soft_f2)")
        XCTAssertEqual(error("loss: {label_smoothing: lots}"), "p.yaml:3: models.0.loss.label_smoothing: expected a number, got \"lots\"")
        XCTAssertEqual(error("mixup: {alpha: 0}"), "p.yaml:3: models.0.mixup.alpha: 0.0 is out of range 0.01...100.0")
        XCTAssertEqual(error("mixup: {probability: 1.5}"), "p.yaml:3: models.0.mixup.probability: 1.5 is out of range 0.0...1.0")
        XCTAssertEqual(error("mixup: {alpa: 0.2}"),
                       "p.yaml:3: models.0.mixup.alpa: unknown key (did you mean \"alpha\"?); known here: alpha, probability")
    }

    /// config.json names the settings when they are on and leaves them out when off, and reads back
    /// as the same configuration.
    func testConfigJSONWritesThemOnlyWhenSet() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let on = try parse("mixup: {alpha: 0.4}, loss: {label_smoothing: 0.05}")
        let text = String(decoding: try encoder.encode(on), as: UTF8.self)
        XCTAssertTrue(text.contains("\"label_smoothing\":0.05"), text)
        XCTAssertTrue(text.contains("\"mixup\":{\"alpha\":0.4,\"probability\":1}"), text)
        XCTAssertEqual(try PipelineConfig.parse(text, file: "config.json", defaultName: "p"), on)

        let off = String(decoding: try encoder.encode(try parse("loss: {label_smoothing: 0}")), as: UTF8.self)
        XCTAssertFalse(off.contains("label_smoothing"), off)
        XCTAssertFalse(off.contains("mixup"), off)
    }

    /// The training stage's inputs: at their defaults (left out, or written as 0) the settings add no
    /// input and change none, so results made before stay up to date; set, each is an input that
    /// names itself when it changes.
    func testStageKeyChangesOnlyWhenSet() throws {
        func inputs(_ settings: String) throws -> StageInputs {
            var inputs = StageInputs()
            inputs.addModelSettings(try parse(settings).models[0])
            return inputs
        }
        let plain = try inputs("loss: {kind: bce}")
        XCTAssertEqual(try inputs("loss: {kind: bce, label_smoothing: 0}").key, plain.key)
        XCTAssertEqual(plain.dictionary["models.loss"], "{\"kind\":\"bce\"}")
        XCTAssertNil(plain.dictionary["models.mixup"])

        let smoothed = try inputs("loss: {kind: bce, label_smoothing: 0.1}")
        XCTAssertEqual(smoothed.dictionary["models.loss"], "{\"kind\":\"bce\",\"labelSmoothing\":0.1}")
        XCTAssertEqual(smoothed.changes(from: plain.dictionary), "models.loss changed")
        let mixed = try inputs("loss: {kind: bce}, mixup: {alpha: 0.2}")
        XCTAssertEqual(mixed.dictionary["models.mixup"], "{\"alpha\":0.2,\"probability\":1}")
        XCTAssertNotEqual(mixed.key, plain.key)
    }
}

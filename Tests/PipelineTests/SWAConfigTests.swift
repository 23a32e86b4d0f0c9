import Foundation
@testable import Pipeline
import Training
import XCTest

/// `models[].swa` in a pipeline file: decoded, refused where it cannot work (naming the key and
/// line), written back to config.json, and in the training stage's key only when given.
final class SWAConfigTests: XCTestCase, PipelineTextParsing {
    func model(_ settings: String) -> String { "data: {root: x}\nmodels:\n  - {backbone: lenet5, epochs: 3, \(settings)}\n" }

    func testSWADecodesAndIsOffByDefault() throws {
        XCTAssertNil(try parse(model("seed: 1")).models[0].swa)
        let config = try parse(model("swa: {epochs: 2}"))
        XCTAssertEqual(config.models[0].swa, WeightAveraging(epochs: 2))
        XCTAssertEqual(try parse(model("swa: {epochs: 3}")).models[0].swa?.epochs, 3, "every epoch may be averaged")
        // Written as config.json is (the file's own keys) and read back, it is the same.
        let json = String(decoding: try JSONEncoder().encode(config), as: UTF8.self)
        XCTAssertTrue(json.contains("\"swa\":{\"epochs\":2}"), json)
        XCTAssertEqual(try parse(json), config)
        XCTAssertFalse(String(decoding: try JSONEncoder().encode(try parse(model("seed: 1"))), as: UTF8.self).contains("swa"))
    }

    func testSWASettingsThatCannotWorkAreRefused() {
        XCTAssertEqual(error(model("swa: {epochs: 0}")), "p.yaml:3: models.0.swa.epochs: 0 is out of range 1...10000")
        XCTAssertEqual(error(model("swa: {epochs: 4}")), "p.yaml:3: models.0.swa.epochs: 4 is more than the model's 3 epochs")
        XCTAssertEqual(error(model("swa: {}")), "p.yaml:3: models.0.swa: missing epochs (how many of the last epochs to average)")
        XCTAssertEqual(error(model("swa: {epoch: 2}")),
                       "p.yaml:3: models.0.swa.epoch: unknown key (did you mean \"epochs\"?); known here: epochs")
        XCTAssertEqual(error(model("swa: {epochs: 2}, early_stopping: {metric: loss}")),
                       "p.yaml:3: models.0.swa: swa and early_stopping cannot be used together (swa predicts with the average of the "
                       + "last epochs, early_stopping with the best epoch): remove one")
    }

    /// Without `swa` a model's training inputs have no `models.swa` part (so keys made before it
    /// existed stay: the digest test in ConfigRoundTripTests); with it, the part changes the key.
    func testSWAIsInTheTrainingKeyOnlyWhenGiven() throws {
        func inputs(_ text: String) throws -> StageInputs {
            var inputs = StageInputs()
            inputs.addModelSettings(try parse(text).models[0])
            return inputs
        }
        let plain = try inputs(model("seed: 1")), averaged = try inputs(model("seed: 1, swa: {epochs: 2}"))
        XCTAssertFalse(plain.parts.contains { $0.name.contains("swa") })
        XCTAssertEqual(averaged.dictionary["models.swa"], "{\"epochs\":2}")
        XCTAssertNotEqual(plain.key, averaged.key)
        XCTAssertEqual(averaged.key(excluding: ["models.swa"]), plain.key)
        XCTAssertEqual(averaged.changes(from: plain.dictionary), "models.swa changed")
    }
}

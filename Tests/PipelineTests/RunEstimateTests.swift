@testable import Pipeline
import XCTest

/// The whole run's ETA from measured rates (issue 17: one overall progress line with an ETA).
final class RunEstimateTests: XCTestCase {
    func testTheETAFollowsMeasuredRatesPerModel() throws {
        // resnet18 trains 2 folds x 3 epochs of 80 chips; lenet5 only predicts fold 0 (300 views).
        var estimate = RunEstimate(units: [
            .init(model: "resnet18", fold: 0, epochs: 3, trainingChips: 80, predictionViews: 600),
            .init(model: "resnet18", fold: 1, epochs: 3, trainingChips: 80, predictionViews: 600),
            .init(model: "lenet5", fold: 0, epochs: 0, trainingChips: 80, predictionViews: 300),
        ])
        XCTAssertNil(estimate.remainingSeconds)  // nothing measured yet
        XCTAssertEqual(estimate.epochsPlanned, 6)

        estimate.epochEnded(model: "resnet18", fold: 0, seconds: 40)  // 0.5 s per chip-epoch
        // left: fold 0 2 epochs x 80 + 600/3 views, fold 1 3 x 80 + 200, lenet5 (unmeasured: resnet18's rate) 100
        //     = (160 + 200 + 240 + 200 + 100) x 0.5 = 450 s
        XCTAssertEqual(try XCTUnwrap(estimate.remainingSeconds), 450, accuracy: 1e-9)
        XCTAssertEqual(estimate.epochsDone, 1)

        estimate.epochEnded(model: "resnet18", fold: 0, seconds: 48)  // now 0.6 s per chip-epoch
        estimate.epochEnded(model: "resnet18", fold: 0, seconds: 48)
        estimate.predicted(model: "resnet18", fold: 0)
        // left: fold 1 (240 + 200) x 0.6 + lenet5 100 x 0.6 = 324 s
        XCTAssertEqual(try XCTUnwrap(estimate.remainingSeconds), 324, accuracy: 1e-9)
        XCTAssertEqual(estimate.epochsDone, 3)
    }
}

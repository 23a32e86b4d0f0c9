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

        estimate.epochEnded(model: "resnet18", fold: 0, epoch: 1, seconds: 40)  // 0.5 s per chip-epoch
        // left: fold 0 2 epochs x 80 + 600/3 views, fold 1 3 x 80 + 200, lenet5 (unmeasured: resnet18's rate) 100
        //     = (160 + 200 + 240 + 200 + 100) x 0.5 = 450 s
        XCTAssertEqual(try XCTUnwrap(estimate.remainingSeconds), 450, accuracy: 1e-9)
        XCTAssertEqual(estimate.epochsDone, 1)

        estimate.epochEnded(model: "resnet18", fold: 0, epoch: 2, seconds: 48)  // now 0.6 s per chip-epoch
        estimate.epochEnded(model: "resnet18", fold: 0, epoch: 3, seconds: 48)
        estimate.predicted(model: "resnet18", fold: 0)
        // left: fold 1 (240 + 200) x 0.6 + lenet5 100 x 0.6 = 324 s
        XCTAssertEqual(try XCTUnwrap(estimate.remainingSeconds), 324, accuracy: 1e-9)
        XCTAssertEqual(estimate.epochsDone, 3)
    }

    /// Progressive resizing: an epoch at half the input size has a quarter of its pixels, so its
    /// seconds are scaled up to set the rate of the full-size epochs after it; a resumed fold counts
    /// from the epoch that ended.
    func testEpochsAtSmallerSizesAreScaledByTheirPixels() throws {
        // 2 epochs at 64 px, then 2 at 128 (the input size), 100 chips, no prediction.
        let sizes = [64, 64, 128, 128]
        var estimate = RunEstimate(units: [
            .init(model: "resnet18", fold: 0, epochs: 4, trainingChips: 100, predictionViews: 0,
                  relativeSize: { Double(sizes[$0]) / 128 }),
        ])
        estimate.epochEnded(model: "resnet18", fold: 0, epoch: 1, seconds: 25)  // 1 s per chip-epoch at 128 px
        // left: 64 px 0.25 + two at 128 px 2, x 100 chips x 1 s
        XCTAssertEqual(try XCTUnwrap(estimate.remainingSeconds), 225, accuracy: 1e-9)

        // The same fold resumed after its second epoch: the third takes 120 s.
        var resumed = RunEstimate(units: [
            .init(model: "resnet18", fold: 0, epochs: 4, trainingChips: 100, predictionViews: 0,
                  relativeSize: { Double(sizes[$0]) / 128 }),
        ])
        resumed.epochEnded(model: "resnet18", fold: 0, epoch: 3, seconds: 120)
        XCTAssertEqual(try XCTUnwrap(resumed.remainingSeconds), 120, accuracy: 1e-9)  // epoch 4 only
    }
}

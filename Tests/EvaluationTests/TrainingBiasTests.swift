import Evaluation
import Foundation
import PlanetData
import XCTest

/// `TrainingBias`: the probability a weighted, smoothed BCE is minimised at, and back.
final class TrainingBiasTests: XCTestCase {
    /// p minimising −w·y·log p − (1 − y)·log(1 − p) with y = (1 − ε)·q + ε/2, by ternary search on the
    /// loss itself (convex in p): the reference the closed form is checked against.
    func minimiser(q: Double, weight w: Double, smoothing ε: Double) -> Double {
        let y = (1 - ε) * q + ε / 2
        func loss(_ p: Double) -> Double { -w * y * log(p) - (1 - y) * log(1 - p) }
        var (low, high) = (1e-9, 1 - 1e-9)
        for _ in 0..<200 {
            let a = low + (high - low) / 3, b = high - (high - low) / 3
            if loss(a) < loss(b) { high = b } else { low = a }
        }
        return (low + high) / 2
    }

    func bias(weight: Float, at label: Int, smoothing: Float) -> TrainingBias {
        var weights = [Float](repeating: 1, count: PlanetLabels.count)
        weights[label] = weight
        return TrainingBias(positiveWeights: weights, smoothing: smoothing)
    }

    func testBiasedIsWhereTheWeightedSmoothedLossIsLeast() {
        for (w, ε) in [(10.0, 0.05), (3.5, 0.0), (1.0, 0.1), (6.69, 0.05)] {
            let b = bias(weight: Float(w), at: 4, smoothing: Float(ε))
            for q in [0.0, 0.01, 0.2, 0.5, 0.9, 1.0] {
                XCTAssertEqual(Double(b.biased(Float(q), label: 4)), minimiser(q: q, weight: w, smoothing: ε), accuracy: 1e-5, "w \(w) ε \(ε) q \(q)")
                // The other labels have weight 1: only the smoothing moves them.
                XCTAssertEqual(Double(b.biased(Float(q), label: 0)), minimiser(q: q, weight: 1, smoothing: ε), accuracy: 1e-5)
            }
        }
        // A rare label weighted 10 with ε = 0.05 sits near 0.2 on a chip without it, where weight 1 sits at 0.025.
        let rare = bias(weight: 10, at: 7, smoothing: 0.05)
        XCTAssertEqual(rare.biased(0, label: 7), 0.25 / 1.225, accuracy: 1e-6)
        XCTAssertEqual(rare.biased(0, label: 0), 0.025, accuracy: 1e-7)
    }

    func testUnbiasedUndoesBiased() {
        let b = bias(weight: 10, at: 2, smoothing: 0.05)
        for q in stride(from: Float(0.01), through: 0.99, by: 0.01) {
            for label in [0, 2] { XCTAssertEqual(b.unbiased(b.biased(q, label: label), label: label), q, accuracy: 2e-6, "q \(q) label \(label)") }
        }
        // Below the smoothed floor, 0; above the ceiling, 1; NaN stays NaN; the ends stay the ends.
        XCTAssertEqual(b.unbiased(0.01, label: 0), 0)
        XCTAssertEqual(b.unbiased(0.999, label: 0), 1)
        XCTAssertEqual(b.unbiased(0, label: 2), 0)
        XCTAssertEqual(b.unbiased(1, label: 2), 1)
        XCTAssertTrue(b.unbiased(.nan, label: 2).isNaN)
        // No weights and no smoothing: nothing to undo.
        XCTAssertTrue(TrainingBias(positiveWeights: nil, smoothing: 0).isNone)
        XCTAssertFalse(b.isNone)
        for p: Float in [0, 0.1, 0.37, 1] {
            XCTAssertEqual(TrainingBias.none.unbiased(p, label: 3), p, accuracy: 1e-7)
            XCTAssertEqual(TrainingBias.none.biased(p, label: 3), p, accuracy: 1e-7)
        }
    }

    /// The same decisions either way: p ≥ biased(t) exactly where unbiased(p) ≥ t, for every chip.
    func testAThresholdMappedBackDecidesAsOnTheUnbiasedScale() {
        let b = bias(weight: 7.3, at: 5, smoothing: 0.05)
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5000 {
            let p = Float.random(in: 0...1, using: &generator), t = Float(Int.random(in: 1...99, using: &generator)) / 100
            for label in [1, 5] {
                let onUnbiased = b.unbiased(p, label: label) >= t, onBiased = p >= b.biased(t, label: label)
                // Rounding can only part the two within a few ulps of the threshold.
                if abs(p - b.biased(t, label: label)) > 1e-6 { XCTAssertEqual(onUnbiased, onBiased, "p \(p) t \(t) label \(label)") }
            }
        }
    }

    func testAverageWeighsLogFactorsAndSmoothing() {
        let a = bias(weight: 4, at: 0, smoothing: 0.1), b = bias(weight: 1, at: 0, smoothing: 0)
        let mean = TrainingBias.average([a, b])
        XCTAssertEqual(mean.logOddsFactors[0], log(2), accuracy: 1e-12)
        XCTAssertEqual(mean.smoothing, 0.05, accuracy: 1e-8)  // ε = 0.1 as a Float
        let weighted = TrainingBias.average([a, b], weights: [3, 1])
        XCTAssertEqual(weighted.logOddsFactors[0], 0.75 * log(4), accuracy: 1e-12)
        XCTAssertEqual(weighted.smoothing, 0.075, accuracy: 1e-8)
        let same = TrainingBias.average([a, a, a])
        for l in 0..<PlanetLabels.count { XCTAssertEqual(same.logOddsFactors[l], a.logOddsFactors[l], accuracy: 1e-12) }
        XCTAssertEqual(same.smoothing, a.smoothing, accuracy: 1e-12)
    }
}

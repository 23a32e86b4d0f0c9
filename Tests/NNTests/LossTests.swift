import NN
import Tensor
import XCTest

/// The losses (`Sources/NN/Losses`) on a batch small enough to work by hand: 2 labels × 3 images,
/// label-major. Values computed in Double from the textbook forms (−p·log σ(x) for a positive,
/// −log(1 − σ(x)) for a negative; F2 by the quotient rule), not the engine's stable ones.
/// Central differences of every loss: `LayerGradientTests.testLosses`.
final class LossTests: XCTestCase {
    let logits = Tensor(shape: [2, 3], scalars: [0, 2, -1, 1.5, -0.5, 3])
    let targets = Tensor(shape: [2, 3], scalars: [1, 0, 1, 0, 1, 0])

    func assertClose(_ actual: [Float], _ expected: [Double], _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.count, expected.count, message, file: file, line: line)
        for (i, (a, e)) in zip(actual, expected).enumerated() {
            XCTAssertEqual(Double(a), e, accuracy: 1e-6 * max(abs(e), 1e-2), "\(message) [\(i)]", file: file, line: line)
        }
    }

    static let bce = (value: 1.6429024154762908, gradient: [-0.08333333333333333, 0.14679951299631372, -0.12184309643833414,
                                                            0.1362624126989406, -0.10374322186697577, 0.15876235447040557])
    static let softF2 = (value: 0.6377788314968034, gradient: [-0.0709888312089726, 0.0023893418233142494, -0.05952459493050726,
                                                               0.004395461717918368, -0.06913807146075833, 0.0007427238921295219])

    /// `loss` on the batch above against its hand values.
    func check(_ loss: any Loss, value: Double, gradient: [Double], _ name: String, line: UInt = #line) {
        let (actual, actualGradient) = loss.lossAndGradient(logits: logits, targets: targets)
        XCTAssertEqual(Double(actual), value, accuracy: 1e-6, name, line: line)
        assertClose(actualGradient.scalars, gradient, name + " gradient", line: line)
    }

    /// Mean of log 2, softplus(2), softplus(1), softplus(1.5), softplus(0.5), softplus(3); gradient (σ(x) − y) / 6.
    func testBinaryCrossEntropyByHand() {
        check(BinaryCrossEntropy(), value: Self.bce.value, gradient: Self.bce.gradient, "BCE")
    }

    /// Positive weights 2 (label 0) and 0.5 (label 1) scale the positives' terms only.
    func testWeightedBinaryCrossEntropyByHand() {
        check(BinaryCrossEntropy(positiveWeights: [2, 0.5]), value: 1.89613081147431,
              gradient: [-0.16666666666666666, 0.14679951299631372, -0.2436861928766683, 0.1362624126989406, -0.05187161093348788,
                         0.15876235447040557], "weighted BCE")
    }

    func testSoftF2ByHand() {
        check(SoftF2(), value: Self.softF2.value, gradient: Self.softF2.gradient, "soft F2")
    }

    /// 0.3·BCE + 0.7·soft F2, value and gradient, from the hand values above.
    func testWeightedSumByHand() {
        check(WeightedLossSum([(weight: 0.3, loss: BinaryCrossEntropy()), (weight: 0.7, loss: SoftF2())]),
              value: 0.3 * Self.bce.value + 0.7 * Self.softF2.value,
              gradient: zip(Self.bce.gradient, Self.softF2.gradient).map { 0.3 * $0 + 0.7 * $1 }, "weighted sum")
    }

    /// The mean of two losses is (a + b) / 2 in Float, value and every gradient element, to the bit:
    /// what the trainer computed for `bce+soft_f2` before the losses were types.
    func testMeanIsTheOldMixToTheBit() {
        let weights: [Float] = [2, 0.5]
        let a = BinaryCrossEntropy(positiveWeights: weights).lossAndGradient(logits: logits, targets: targets)
        let b = SoftF2().lossAndGradient(logits: logits, targets: targets)
        let mean = WeightedLossSum.mean([BinaryCrossEntropy(positiveWeights: weights), SoftF2()])
            .lossAndGradient(logits: logits, targets: targets)
        XCTAssertEqual(mean.loss.bitPattern, ((a.loss + b.loss) / 2).bitPattern)
        XCTAssertEqual(mean.gradient.scalars.map(\.bitPattern),
                       zip(a.gradient.scalars, b.gradient.scalars).map { (($0 + $1) / 2).bitPattern })
    }

    // MARK: - Label smoothing and soft targets

    /// ε = 0.2 turns the targets 1, 0 into 0.9, 0.1; BCE with positive weights 2 and 0.5 on those,
    /// from the textbook form −[p·y·log σ(x) + (1 − y)·log(1 − σ(x))], gradient −p·y·(1 − σ) + (1 − y)·σ.
    func testLabelSmoothingByHand() {
        check(LabelSmoothing(epsilon: 0.2, BinaryCrossEntropy(positiveWeights: [2, 0.5])), value: 1.7375067668122532,
              gradient: [-0.1416666666666667, 0.12814613096261177, -0.21483521656616822, 0.12111595873066026, -0.04039210536017001,
                         0.14249090341355194], "smoothed weighted BCE")
        let positive: Float = 1 * (1 - 0.2) + 0.2 / 2, negative: Float = 0.2 / 2  // 0.9 and 0.1, rounded as Float rounds them
        XCTAssertEqual(LabelSmoothing.smooth(targets, epsilon: 0.2).scalars, [positive, negative, positive, negative, positive, negative])
        XCTAssertEqual(Double(positive), 0.9, accuracy: 1e-7)
    }

    /// Smoothed, BCE's slope vanishes at the finite logit log((1 − ε/2) / (ε/2)) (2.1972 for ε = 0.2)
    /// for a positive, and at its negation for a negative; unsmoothed it is still −(1 − σ)/n there.
    func testLabelSmoothingPutsBCEsMinimumAtAFiniteLogit() {
        let optimum = Float(log(0.9 / 0.1))
        let logits = Tensor(shape: [1, 2], scalars: [optimum, -optimum]), targets = Tensor(shape: [1, 2], scalars: [1, 0])
        let smoothed = LabelSmoothing(epsilon: 0.2, BinaryCrossEntropy()).lossAndGradient(logits: logits, targets: targets)
        XCTAssertEqual(Double(smoothed.gradient.scalars[0]), 0, accuracy: 1e-7)
        XCTAssertEqual(Double(smoothed.gradient.scalars[1]), 0, accuracy: 1e-7)
        let plain = BinaryCrossEntropy().lossAndGradient(logits: logits, targets: targets)
        XCTAssertEqual(Double(plain.gradient.scalars[0]), -0.1 / 2, accuracy: 1e-7)
        XCTAssertEqual(Double(plain.gradient.scalars[1]), 0.1 / 2, accuracy: 1e-7)
    }

    /// ε = 0 gives the base loss's value and gradient to the bit.
    func testZeroSmoothingIsTheBaseLoss() {
        let base = BinaryCrossEntropy(positiveWeights: [2, 0.5]).lossAndGradient(logits: logits, targets: targets)
        let smoothed = LabelSmoothing(epsilon: 0, BinaryCrossEntropy(positiveWeights: [2, 0.5])).lossAndGradient(logits: logits, targets: targets)
        XCTAssertEqual(smoothed.loss.bitPattern, base.loss.bitPattern)
        XCTAssertEqual(smoothed.gradient.scalars.map(\.bitPattern), base.gradient.scalars.map(\.bitPattern))
    }

    /// A soft target t (mixup's) costs t·(the loss at 1) + (1 − t)·(the loss at 0), value and
    /// gradient, positive weights included: BCE is linear in its targets.
    func testBCEOnSoftTargetsIsTheMixOfItsHardOnes() {
        let t: [Float] = [0.3, 0.75, 0.5, 0.1, 1, 0]
        let loss = BinaryCrossEntropy(positiveWeights: [2, 0.5])
        let soft = loss.lossAndGradient(logits: logits, targets: Tensor(shape: [2, 3], scalars: t))
        let one = loss.lossAndGradient(logits: logits, targets: Tensor(shape: [2, 3], repeating: 1))
        let zero = loss.lossAndGradient(logits: logits, targets: Tensor(shape: [2, 3], repeating: 0))
        var value = 0.0
        for i in 0..<6 {
            let expected = Double(t[i]) * Double(one.gradient.scalars[i]) + Double(1 - t[i]) * Double(zero.gradient.scalars[i])
            XCTAssertEqual(Double(soft.gradient.scalars[i]), expected, accuracy: 1e-7, "gradient [\(i)]")
            // Each element's loss, from the hand form, at t.
            let x = Double(logits.scalars[i]), p = i < 3 ? 2.0 : 0.5, s = 1 / (1 + exp(-x))
            value += -(p * Double(t[i]) * log(s) + (1 - Double(t[i])) * log(1 - s)) / 6
        }
        XCTAssertEqual(Double(soft.loss), value, accuracy: 1e-6)
    }

    /// √(negatives / positives), kept within [1, 10]: 10 examples with 0, 1, 2, 5 and 9 positives.
    func testBalancedPositiveWeights() {
        let weights = BinaryCrossEntropy.balancedPositiveWeights(positives: [0, 1, 2, 5, 9], total: 10)
        XCTAssertEqual(weights, [Float(10).squareRoot(), 3, 2, 1, 1])
    }
}

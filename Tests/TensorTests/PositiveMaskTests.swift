import Tensor
import XCTest

/// A ReLU's bit mask routes gradients exactly where its output was positive, as the output itself did.
final class PositiveMaskTests: XCTestCase {
    func testMaskingEqualsTheOutputsOwnMask() {
        var rng = SeededRandom(seed: 5)
        // Whole bytes, a tail of a few values, and fewer values than a byte.
        for count in [64, 1_003, 5] {
            var x = Tensor(shape: [count], scalars: (0..<count).map { _ in rng.nextUniform() * 2 - 1 })
            // The edges: exact zeros (a ReLU's own output), negative zero and NaN are not positive.
            for (i, value) in [Float(0), -0.0, .nan, .leastNonzeroMagnitude].enumerated() where i < count { x.scalars[i] = value }
            let y = Activation.reluForward(x)
            let dy = Tensor(shape: [count], scalars: (0..<count).map { _ in rng.nextUniform() + 0.5 })
            let masked = PositiveMask(y).masking(dy)
            XCTAssertEqual(masked.scalars, Activation.reluBackward(dy, output: y).scalars, "\(count) values")
            XCTAssertEqual(masked.scalars.filter { $0 != 0 }.count, y.scalars.filter { $0 > 0 }.count)
        }
    }

    /// The residual sum, its ReLU and the mask in one pass: the two-pass results to the bit.
    func testAddReLUInOnePassEqualsTheSumThenTheMask() {
        var rng = SeededRandom(seed: 8)
        for count in [64, 1_003, 5] {
            var a = Tensor(shape: [count], scalars: (0..<count).map { _ in rng.nextUniform() * 2 - 1 })
            let b = Tensor(shape: [count], scalars: (0..<count).map { _ in rng.nextUniform() * 2 - 1 })
            for (i, value) in [Float(-0.0) - b.scalars[0], .nan, -b.scalars[2]].enumerated() where i < count { a.scalars[i] = value }
            let (y, mask) = PositiveMask.addReLU(a, b)
            let expected = TensorPlumbing.addReLU(a, b)
            XCTAssertEqual(y.scalars.map(\.bitPattern), expected.scalars.map(\.bitPattern), "\(count) values")
            let dy = Tensor(shape: [count], repeating: 3)
            XCTAssertEqual(mask.masking(dy).scalars, PositiveMask(expected).masking(dy).scalars)
        }
    }

    func testFourDimensionalShapesAreKept() {
        let y = Tensor(shape: [2, 3, 2, 2], scalars: (0..<24).map { Float($0 % 3) - 1 })
        let dy = Tensor(shape: y.shape, repeating: 2)
        let dx = PositiveMask(y).masking(dy)
        XCTAssertEqual(dx.shape, y.shape)
        XCTAssertEqual(dx.scalars, y.scalars.map { $0 > 0 ? 2 : 0 })
    }
}

import Tensor
import XCTest

/// Pooling output sizes and values against PyTorch's documented rules and hand-checked cases.
final class PoolingTests: XCTestCase {
    func testOutputLengthsMatchPyTorch() {
        // torch.nn.MaxPool2d(3, 2) on 112 → 55; with ceil_mode → 56 (GoogLeNet's pools).
        XCTAssertEqual(PoolingGeometry(kernel: 3, stride: 2).outputLength(112), 55)
        XCTAssertEqual(PoolingGeometry(kernel: 3, stride: 2, ceilMode: true).outputLength(112), 56)
        // ResNet's stem pool: kernel 3, stride 2, padding 1 on 64 → 32.
        XCTAssertEqual(PoolingGeometry(kernel: 3, stride: 2, padding: 1).outputLength(64), 32)
        // Ceil mode never starts a window in the right padding: 5 with kernel 2 stride 2 pad 1 → 3.
        XCTAssertEqual(PoolingGeometry(kernel: 2, stride: 2, padding: 1, ceilMode: true).outputLength(5), 3)
        XCTAssertEqual(PoolingGeometry(kernel: 3, stride: 1, padding: 1, ceilMode: true).outputLength(7), 7)
    }

    func testMaxPoolValuesAndGradientRouting() {
        // One 4x4 plane, 2x2 windows.
        let x = Tensor(shape: [1, 1, 4, 4], scalars: [1, 5, 2, 0,
                                                     3, 4, 8, 1,
                                                     0, 2, 9, 7,
                                                     6, 1, 3, 3])
        let (y, argmax) = MaxPooling.forward(x, geometry: PoolingGeometry(kernel: 2))
        XCTAssertEqual(y.scalars, [5, 8, 6, 9])
        let dx = MaxPooling.backward(Tensor(shape: [1, 1, 2, 2], scalars: [1, 2, 3, 4]), argmax: argmax, inputShape: x.shape)
        XCTAssertEqual(dx.scalars, [0, 1, 0, 0,  0, 0, 2, 0,  0, 0, 4, 0,  3, 0, 0, 0])
    }

    /// The window loop written plainly: first maximum in window order, or the first NaN.
    private func naiveMaxPool(_ x: Tensor, _ g: PoolingGeometry) -> (values: [Float], argmax: [Int32]) {
        let planes = x.shape[0] * x.shape[1], h = x.shape[2], w = x.shape[3]
        var values: [Float] = [], argmax: [Int32] = []
        for p in 0..<planes {
            for oy in 0..<g.outputLength(h) {
                for ox in 0..<g.outputLength(w) {
                    var best = -Float.infinity, at = -1
                    for iy in (oy * g.stride - g.padding)..<(oy * g.stride - g.padding + g.kernel) where iy >= 0 && iy < h {
                        for ix in (ox * g.stride - g.padding)..<(ox * g.stride - g.padding + g.kernel) where ix >= 0 && ix < w {
                            let value = x.scalars[p * h * w + iy * w + ix]
                            if best.isNaN { continue }
                            if at < 0 || value > best || value.isNaN { (best, at) = (value, iy * w + ix) }
                        }
                    }
                    values.append(best)
                    argmax.append(Int32(at))
                }
            }
        }
        return (values, argmax)
    }

    func testMaxPoolEightWindowsAtATimeMatchTheWindowLoop() {
        // Rows of 37 and 40 pixels take the eight-wide path and its scalar edges; values drawn from a
        // few levels so windows have ties, and two NaNs (one in a row of its window, one at its start).
        var rng = SeededRandom(seed: 5)
        for (g, w) in [(PoolingGeometry(kernel: 3, stride: 1, padding: 1, ceilMode: true), 37),
                       (PoolingGeometry(kernel: 3, stride: 2, padding: 1), 40),
                       (PoolingGeometry(kernel: 3, stride: 2, ceilMode: true), 37),
                       (PoolingGeometry(kernel: 2, stride: 2), 40),
                       (PoolingGeometry(kernel: 3, stride: 3), 40)] {
            var x = Tensor(shape: [2, 3, 9, w], scalars: (0..<(54 * w)).map { _ in Float(Int(rng.nextUniform() * 5)) - 2 })
            x.scalars[3 * w + 12] = .nan
            x.scalars[9 * w + 4 * w + 20] = .nan
            let (y, argmax) = MaxPooling.forward(x, geometry: g)
            let expected = naiveMaxPool(x, g)
            XCTAssertEqual(argmax, expected.argmax, "\(g) width \(w)")
            XCTAssertEqual(y.scalars.map(\.bitPattern), expected.values.map(\.bitPattern), "\(g) width \(w)")
            XCTAssertTrue(y.scalars.contains { $0.isNaN })
            // Inference skips the indices, not the values.
            let unrecorded = MaxPooling.forward(x, geometry: g, recordingArgmax: false)
            XCTAssertEqual(unrecorded.output.scalars.map(\.bitPattern), y.scalars.map(\.bitPattern), "\(g) width \(w)")
            XCTAssertTrue(unrecorded.argmax.isEmpty)
        }
    }

    func testAveragePoolDivisors() {
        // 3x3 input of ones, kernel 3 stride 1 pad 1: include-pad divides corners by 9 (value 4/9),
        // exclude-pad by 4 (value 1).
        let x = Tensor(shape: [1, 1, 3, 3], repeating: 1)
        let g = PoolingGeometry(kernel: 3, stride: 1, padding: 1)
        let included = AveragePooling.forward(x, geometry: g, countIncludePad: true)
        XCTAssertEqual(included.scalars[0], 4 / 9, accuracy: 1e-6)
        XCTAssertEqual(included.scalars[4], 1, accuracy: 1e-6)
        let excluded = AveragePooling.forward(x, geometry: g, countIncludePad: false)
        XCTAssertEqual(excluded.scalars, Array(repeating: 1, count: 9))
    }

    func testAdaptiveBinsOverlapLikePyTorch() {
        // 5 → 3 bins: [0,2), [1,4), [3,5).
        let x = Tensor(shape: [1, 1, 1, 5], scalars: [1, 2, 3, 4, 5])
        let y = AdaptiveAveragePooling.forward(x, outputHeight: 1, outputWidth: 3)
        XCTAssertEqual(y.scalars, [1.5, 3, 4.5])
        let dx = AdaptiveAveragePooling.backward(Tensor(shape: [1, 1, 1, 3], scalars: [2, 3, 4]), inputShape: x.shape)
        XCTAssertEqual(dx.scalars, [1, 2, 1, 3, 2])
    }

    func testFlattenOrderIsPerImageChannelHeightWidth() {
        // [C=2, N=2, H=1, W=2]: image 0 has c0 = (1, 2), c1 = (5, 6); image 1 has c0 = (3, 4), c1 = (7, 8).
        let x = Tensor(shape: [2, 2, 1, 2], scalars: [1, 2, 3, 4, 5, 6, 7, 8])
        let flat = TensorPlumbing.flatten(x)
        XCTAssertEqual(flat.shape, [4, 2])
        XCTAssertEqual(flat.transposed().scalars, [1, 2, 5, 6, 3, 4, 7, 8])
        XCTAssertEqual(TensorPlumbing.unflatten(flat, to: x.shape), x)
    }

    func testConcatenateAndSplitChannels() {
        let a = Tensor(shape: [1, 2, 2], scalars: [1, 2, 3, 4]), b = Tensor(shape: [2, 2, 2], scalars: [5, 6, 7, 8, 9, 10, 11, 12])
        let joined = TensorPlumbing.concatenateChannels([a, b])
        XCTAssertEqual(joined.shape, [3, 2, 2])
        XCTAssertEqual(TensorPlumbing.splitChannels(joined, channels: [1, 2]), [a, b])
    }
}

import Tensor
import XCTest

final class TensorBasicsTests: XCTestCase {
    /// Every value finite, or the first NaN or infinity anywhere (lanes, tail, either worker's chunk) found.
    func testAllFiniteFindsANaNOrAnInfinityAnywhere() {
        for count in [0, 5, 64, 100_003] {
            var t = Tensor(shape: [count], scalars: (0..<count).map { Float($0 % 7) * 1e37 - 3e37 })
            XCTAssertTrue(t.allFinite, "\(count) finite values")
            for position in Set([0, count / 2, count - 1]) where count > 0 {
                for bad in [Float.nan, .infinity, -.infinity] {
                    let kept = t.scalars[position]
                    t.scalars[position] = bad
                    XCTAssertFalse(t.allFinite, "\(bad) at \(position) of \(count)")
                    t.scalars[position] = kept
                }
            }
        }
    }

    /// The vector instruction's square roots are the scalar ones, bit for bit, special values too.
    func testLaneSquareRootGivesTheScalarBits() {
        var random = SeededRandom(seed: 9)
        let specials: [Float] = [0, -0, 1, 4, .leastNonzeroMagnitude, .leastNormalMagnitude, .greatestFiniteMagnitude,
                                 .infinity, -1, -.infinity, .nan]
        // Magnitudes from about 1e-12 to 1e12.
        let drawn: [Float] = (0..<1_000).map { _ in
            let scale: Float = powf(10, random.nextNormal() * 4)
            return abs(random.nextNormal()) * scale
        }
        let values = specials + drawn
        for start in Array(stride(from: 0, to: values.count - 8, by: 8)) + [values.count - 8] {  // the last group overlaps the one before
            let lanes = SIMD8<Float>(values[start..<start + 8]).laneSquareRoot()
            for lane in 0..<8 {
                let scalar = values[start + lane].squareRoot()
                XCTAssertEqual(lanes[lane].bitPattern, scalar.bitPattern, "sqrt(\(values[start + lane])): \(lanes[lane]) against \(scalar)")
            }
        }
        XCTAssertEqual(SIMD2<Float>(9, 2).laneSquareRoot(), SIMD2(3, Float(2).squareRoot()))
    }

    func testLayoutConversionsRoundTrip() {
        let nchw = Tensor(shape: [2, 3, 2, 2], scalars: (0..<24).map(Float.init))
        let cnhw = nchw.swappingLeadingAxes()
        XCTAssertEqual(cnhw.shape, [3, 2, 2, 2])
        // Channel 1 of image 0 (NCHW offset 4..<8) comes first within channel 1 in CNHW (offset 8..<12).
        XCTAssertEqual(Array(cnhw.scalars[8..<12]), [4, 5, 6, 7])
        XCTAssertEqual(cnhw.swappingLeadingAxes(), nchw)
        let m = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(m.transposed().scalars, [1, 4, 2, 5, 3, 6])
    }

    func testGEMMAgainstLoops() {
        var rng = SeededRandom(seed: 1)
        let (m, n, k) = (5, 7, 3)
        let a = (0..<(k * m)).map { _ in rng.nextUniform() }, b = (0..<(n * k)).map { _ in rng.nextUniform() }
        var c = [Float](repeating: 1, count: m * n)
        // C = 2·Aᵀ·Bᵀ + C with A stored [k, m] and B stored [n, k].
        a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
            BLAS.gemm(transposeA: true, transposeB: true, m: m, n: n, k: k, alpha: 2, a: ap.baseAddress!, lda: m,
                      b: bp.baseAddress!, ldb: k, beta: 1, c: cp.baseAddress!, ldc: n)
        } } }
        for i in 0..<m { for j in 0..<n {
            var sum: Float = 0
            for p in 0..<k { sum += a[p * m + i] * b[j * k + p] }
            XCTAssertEqual(c[i * n + j], 2 * sum + 1, accuracy: 1e-5)
        } }
    }

    /// On one thread, a product of few columns and many rows runs in blocks of rows small enough for
    /// OpenBLAS's unpacked kernels (`BLAS.smallProducts`), one of few rows and a short sum in blocks of
    /// columns: the blocks must cover every element once, with strided A and C, for β = 0 and β = 1,
    /// whatever the last block's size.
    func testGEMMInBlocksOfRowsOnOneThreadAgainstLoops() {
        var rng = SeededRandom(seed: 3)
        let saved = BLAS.threads
        BLAS.threads = 1
        defer { BLAS.threads = saved }
        // 300 x 32 x 256: blocks of 112 rows (1,000,000 / (32 · 256), down to a multiple of 16), the last of 76;
        // 64 x 600 x 64: blocks of 240 columns (1,000,000 / (64 · 64)), the last of 120.
        // A stored transposed ([k, m], as the input gradients' Wᵀ) in the third, fifth and last.
        for (m, n, k, beta, transposeA) in [(300, 32, 256, Float(0), false), (300, 32, 256, 1, false), (300, 32, 256, 1, true),
                                            (129, 128, 128, 0, false), (129, 128, 128, 0, true), (40, 16, 64, 1, false),
                                            (64, 600, 64, 1, false), (64, 600, 64, 0, true)] {
            let lda = (transposeA ? m : k) + 3, ldc = n + 5
            let a = (0..<((transposeA ? k : m) * lda)).map { _ in rng.nextUniform() - 0.5 }
            let b = (0..<(k * n)).map { _ in rng.nextUniform() - 0.5 }
            let before = (0..<(m * ldc)).map { _ in rng.nextUniform() }
            var c = before
            a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
                BLAS.gemm(transposeA: transposeA, m: m, n: n, k: k, a: ap.baseAddress!, lda: lda, b: bp.baseAddress!, ldb: n, beta: beta,
                          c: cp.baseAddress!, ldc: ldc)
            } } }
            for i in 0..<m {
                for j in 0..<ldc {
                    guard j < n else {
                        XCTAssertEqual(c[i * ldc + j], before[i * ldc + j], "\(m)x\(n)x\(k): padding of row \(i) written")
                        continue
                    }
                    var sum: Float = 0
                    for p in 0..<k { sum += (transposeA ? a[p * lda + i] : a[i * lda + p]) * b[p * n + j] }
                    XCTAssertEqual(c[i * ldc + j], sum + beta * before[i * ldc + j], accuracy: 1e-4, "\(m)x\(n)x\(k) β=\(beta) [\(i), \(j)]")
                }
            }
        }
    }

    func testSeededRandomIsReproducibleAndRoughlyNormal() {
        var a = SeededRandom(seed: 42), b = SeededRandom(seed: 42)
        XCTAssertEqual((0..<5).map { _ in a.next() }, (0..<5).map { _ in b.next() })
        var rng = SeededRandom(seed: 7)
        let samples = (0..<20_000).map { _ in Double(rng.nextNormal()) }
        let mean = samples.reduce(0, +) / Double(samples.count)
        let variance = samples.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(samples.count)
        XCTAssertEqual(mean, 0, accuracy: 0.03)
        XCTAssertEqual(variance, 1, accuracy: 0.05)
    }

    func testParallelChunksCoverEveryIndexOnce() {
        let count = 100_003
        var hits = [Int32](repeating: 0, count: count)
        hits.withUnsafeMutableBufferPointer { buffer in
            Parallel.forEachChunk(count, costPerItem: 100) { range in for i in range { buffer[i] += 1 } }
        }
        XCTAssertTrue(hits.allSatisfy { $0 == 1 })
    }
}

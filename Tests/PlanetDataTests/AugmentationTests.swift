import PlanetData
import Tensor
import XCTest

final class AugmentationTests: XCTestCase {
    /// A 3x3 plane 1...9, row by row.
    let square: [Float] = [1, 2, 3, 4, 5, 6, 7, 8, 9]

    func testEachSymmetryMovesPixelsAsNamed() {
        let expected: [Symmetry: [Float]] = [
            .identity: [1, 2, 3, 4, 5, 6, 7, 8, 9],
            .flipHorizontal: [3, 2, 1, 6, 5, 4, 9, 8, 7],
            .flipVertical: [7, 8, 9, 4, 5, 6, 1, 2, 3],
            .rotate180: [9, 8, 7, 6, 5, 4, 3, 2, 1],
            .transpose: [1, 4, 7, 2, 5, 8, 3, 6, 9],
            .rotate90Clockwise: [7, 4, 1, 8, 5, 2, 9, 6, 3],
            .rotate90CounterClockwise: [3, 6, 9, 2, 5, 8, 1, 4, 7],
            .antiTranspose: [9, 6, 3, 8, 5, 2, 7, 4, 1],
        ]
        for symmetry in Symmetry.allCases {
            XCTAssertEqual(symmetry.apply(square, height: 3, width: 3), expected[symmetry], "\(symmetry)")
        }
        // Four clockwise quarter turns are the identity; two are the half turn.
        var turned = square
        for _ in 0..<2 { turned = Symmetry.rotate90Clockwise.apply(turned, height: 3, width: 3) }
        XCTAssertEqual(turned, Symmetry.rotate180.apply(square, height: 3, width: 3))
        XCTAssertEqual(Set(Symmetry.allCases.map { $0.apply(square, height: 3, width: 3) }).count, 8)
    }

    func testABatchTurnsImageByImageAndBandByBand() {
        // [C=2, N=2, 3, 3]: four planes, each the square plus an offset.
        let planes = (0..<4).flatMap { offset in square.map { $0 + Float(offset * 10) } }
        let batch = Tensor(shape: [2, 2, 3, 3], scalars: planes)
        let turned = Symmetry.rotate90Clockwise.apply(batch)
        for plane in 0..<4 {
            XCTAssertEqual(Array(turned.scalars[(plane * 9)..<((plane + 1) * 9)]),
                           Symmetry.rotate90Clockwise.apply(square, height: 3, width: 3).map { $0 + Float(plane * 10) })
        }
    }

    /// Every symmetry of a batch split over two workers is each plane's, and the flips keep
    /// non-square planes' rows and columns.
    func testABatchSplitOverWorkersGivesEachPlanesSymmetry() {
        var random = SeededRandom(seed: 12)
        let values = (0..<(3 * 5 * 4 * 4)).map { _ in random.nextNormal() }
        let batch = Tensor(shape: [3, 5, 4, 4], scalars: values)
        let settings = EngineSettings().with { ($0.workers, $0.minimumWorkPerChunk) = (2, 16) }
        for symmetry in Symmetry.allCases {
            let turned = EngineSettings.with(settings) { symmetry.apply(batch) }
            for plane in 0..<15 {
                XCTAssertEqual(Array(turned.scalars[(plane * 16)..<((plane + 1) * 16)]),
                               symmetry.apply(Array(values[(plane * 16)..<((plane + 1) * 16)]), height: 4, width: 4), "\(symmetry) plane \(plane)")
            }
        }
        let wide: [Float] = [1, 2, 3, 4, 5, 6]  // 2 rows of 3
        XCTAssertEqual(Symmetry.flipHorizontal.apply(wide, height: 2, width: 3), [3, 2, 1, 6, 5, 4])
        XCTAssertEqual(Symmetry.flipVertical.apply(wide, height: 2, width: 3), [4, 5, 6, 1, 2, 3])
        XCTAssertEqual(Symmetry.rotate180.apply(wide, height: 2, width: 3), [6, 5, 4, 3, 2, 1])
    }

    func testResampleCopiesAtScaleOneAndAveragesWhenHalving() {
        let values = (0..<32).map(Float.init)  // 2 bands of 4x4
        let planes = ChipPlanes(bands: 2, height: 4, width: 4, values: values)
        XCTAssertEqual(Resample.region(of: planes, x: 0, y: 0, width: 4, height: 4, toWidth: 4, height: 4), planes)
        let half = Resample.region(of: planes, x: 0, y: 0, width: 4, height: 4, toWidth: 2, height: 2)
        // Each output pixel is the mean of its 2x2 block: (0+1+4+5)/4 = 2.5, ...
        XCTAssertEqual(half.values, [2.5, 4.5, 10.5, 12.5, 18.5, 20.5, 26.5, 28.5])
        // A crop at an integer offset of the output's size is the block itself.
        let crop = Resample.region(of: planes, x: 1, y: 2, width: 2, height: 2, toWidth: 2, height: 2)
        XCTAssertEqual(crop.values, [9, 10, 13, 14, 25, 26, 29, 30])
        // Doubling a constant stays constant, edges included.
        let flat = ChipPlanes(bands: 1, height: 3, width: 3, values: [Float](repeating: 7, count: 9))
        XCTAssertEqual(Resample.region(of: flat, x: 0, y: 0, width: 3, height: 3, toWidth: 6, height: 6).values, [Float](repeating: 7, count: 36))
    }

    func testAugmentationIsSeededAndStaysInRange() {
        var generator = SeededRandom(seed: 1)
        let values = (0..<(3 * 64 * 64)).map { _ in generator.nextUniform() }
        let planes = ChipPlanes(bands: 3, height: 64, width: 64, values: values)
        let augmentation = Augmentation.planetDefault
        var a = SeededRandom(seed: 5), b = SeededRandom(seed: 5), c = SeededRandom(seed: 6)
        let first = augmentation.apply(planes, size: 32, random: &a)
        XCTAssertEqual(first, augmentation.apply(planes, size: 32, random: &b))
        XCTAssertNotEqual(first, augmentation.apply(planes, size: 32, random: &c))
        XCTAssertEqual([first.bands, first.height, first.width], [3, 32, 32])
        XCTAssertTrue(first.values.allSatisfy { $0.isFinite && $0 >= 0 && $0 < 2 })
        // No augmentation: a plain 2:1 reduction.
        var unused = SeededRandom(seed: 0)
        XCTAssertEqual(Augmentation.none.apply(planes, size: 32, random: &unused),
                       Resample.region(of: planes, x: 0, y: 0, width: 64, height: 64, toWidth: 32, height: 32))
    }

    func testCropRectanglesFollowTheScaleAndRatioRanges() {
        var random = SeededRandom(seed: 9)
        let crop = Augmentation.RandomResizedCrop(scale: 0.5...0.8, ratio: 0.75...(4.0 / 3))
        var planes = ChipPlanes(bands: 1, height: 256, width: 256)
        for i in 0..<planes.values.count { planes.values[i] = Float(i % 256) }  // value = column
        for _ in 0..<50 {
            let out = Augmentation(crop: crop).apply(planes, size: 64, random: &random)
            // Columns increase left to right and span at least √0.5·0.75 of the width, at most all of it.
            let left = out.values[0], right = out.values[63]
            XCTAssertGreaterThan(right, left)
            XCTAssertGreaterThanOrEqual(right - left, 256 * (0.5 * 0.75).squareRoot() * 0.9)
            XCTAssertLessThanOrEqual(right - left, 256)
        }
    }

    func testNormalizationGivesZeroMeanUnitDeviation() {
        var planes = ChipPlanes(bands: 2, height: 1, width: 4, values: [1, 2, 3, 4, 10, 10, 20, 20])
        // (Band-count checks belong to reading a statistics file; normalising takes one mean per plane band.)
        let statistics = NormalizationStatistics(bands: .rgb, mean: [2.5, 15], std: [Float(1.25).squareRoot(), 5], chips: 1)
        statistics.normalize(&planes)
        XCTAssertEqual(planes.values[4...], [-1, -1, 1, 1])
        XCTAssertEqual(planes.values[0], -1.5 / Float(1.25).squareRoot(), accuracy: 1e-6)
    }
}

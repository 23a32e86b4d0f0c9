import Foundation
import ImageIO
import XCTest

/// The real competition chips in datasets/planet-sample, with their known quirks.
final class PlanetSampleTests: XCTestCase {
    func testEverySampleFileDecodes() throws {
        let files = TestPaths.files(in: TestPaths.planetSample, extensions: ["jpg", "tif"])
        XCTAssertEqual(files.count, 20 + 20 + 30 + 30 + 30)  // train jpg+tif, test-jpg, -additional, test tif
        let reader = ImageReader()
        for file in files {
            let image = try reader.read(file)
            XCTAssertEqual(image.width, 256, file)
            XCTAssertEqual(image.height, 256, file)
            if file.hasSuffix(".jpg") {
                XCTAssertEqual(image.bandOrder, .rgb, file)
                XCTAssertEqual(image.bitDepth, 8, file)
            } else {
                XCTAssertEqual(image.bandOrder, .bgrn, file)
                XCTAssertEqual(image.bitDepth, 16, file)
            }
        }
    }

    /// Planet's JPEGs are 4-component with no Adobe marker: R, G, B and a constant 255. Read as
    /// CMYK they come out inverted; the value below is djpeg's (libjpeg-turbo 2.1.5).
    func testFourComponentJPEGIsRGB() throws {
        let image = try ImageReader().read(TestPaths.sample("train-jpg/train_1.jpg"))
        XCTAssertEqual(image.bandOrder, .rgb)
        XCTAssertEqual((0..<3).map { image.sample(x: 0, y: 0, band: $0) }, [47, 61, 55])
        // Band means of the whole chip, from `djpeg -pnm train_1.jpg` read with numpy.
        let means = image.bandStatistics().map(\.mean)
        for (mean, expected) in zip(means, [65.63986206, 76.49737549, 64.30158997]) {
            XCTAssertEqual(mean, expected, accuracy: 1e-6)
        }
    }

    /// Band means of train_0.tif computed once with an independent reader:
    /// `python3 -c "import tifffile; a = tifffile.imread('train_0.tif'); print(a.reshape(-1, 4).mean(0))"`
    /// (tifffile 2026.3.3, numpy 2.4.6; tifffile parses TIFF in pure Python, not through libtiff).
    func testPlanetTIFFBandsAndMeans() throws {
        let image = try ImageReader().read(TestPaths.sample("train-tif-v2/train_0.tif"))
        XCTAssertEqual(image.bandOrder, .bgrn)
        let stats = image.bandStatistics()
        let expectedMeans = [5226.039260864258, 4369.5269775390625, 2823.257049560547, 6126.069625854492]
        for (band, expected) in expectedMeans.enumerated() {
            XCTAssertEqual(stats[band].mean, expected, accuracy: 1e-9, "band \(band)")
        }
        XCTAssertEqual(stats.map(\.minimum), [4860, 4034, 2469, 4559])
        XCTAssertEqual(stats.map(\.maximum), [5794, 4856, 3396, 8527])
        let rgbn = try image.selecting(.rgbn)
        XCTAssertEqual(rgbn.sample(x: 3, y: 5, band: 0), image.sample(x: 3, y: 5, band: 2))
        XCTAssertEqual(rgbn.sample(x: 3, y: 5, band: 3), image.sample(x: 3, y: 5, band: 3))
    }

    /// The JPEG's R,G,B and the TIFF's bands 2,1,0 show the same ground. On clear chips they correlate
    /// strongly, except where the competition's JPEG and TIFF are misaligned (a known quirk): there the
    /// correlation comes back once the TIFF is shifted by the offset found.
    func testJPEGAndTIFFAgreeOnClearChips() throws {
        let labels = try String(contentsOfFile: TestPaths.sample("train_v2.csv"), encoding: .utf8)
        let clear = labels.split(separator: "\n").dropFirst().compactMap { line -> String? in
            let fields = line.split(separator: ",")
            return fields.count == 2 && fields[1].split(separator: " ").contains("clear") ? String(fields[0]) : nil
        }
        XCTAssertEqual(clear.count, 14)
        let reader = ImageReader()
        var misaligned: [String: Int] = [:]
        for name in clear {
            let jpeg = try reader.read(TestPaths.sample("train-jpg/\(name).jpg"))
            let tiff = try reader.read(TestPaths.sample("train-tif-v2/\(name).tif")).selecting(.rgb)
            let correlations = (0..<3).map { pearson(jpeg.band($0), tiff.band($0)) }
            if correlations.allSatisfy({ $0 > 0.5 }) { continue }
            // Search horizontal offsets of the red band; the overlap stays at least 200 columns wide.
            let jpegRed = jpeg.band(0), tiffRed = tiff.band(0)
            var best = (r: -1.0, dx: 0)
            for dx in -56...56 where dx != 0 {
                let r = pearson(columns(jpegRed, from: max(0, dx), width: 256 - abs(dx)),
                                columns(tiffRed, from: max(0, -dx), width: 256 - abs(dx)))
                if r > best.r { best = (r, dx) }
            }
            XCTAssertGreaterThan(best.r, 0.9, "\(name): r \(correlations) unaligned, best \(best)")
            misaligned[name] = best.dx
        }
        // Pinned: what the real sample shows (numpy, on djpeg's and tifffile's output, gives the same).
        XCTAssertEqual(misaligned, ["train_8": 22, "train_13": 34])
    }

    private func columns(_ band: [Double], from x0: Int, width: Int) -> [Double] {
        var out: [Double] = []
        out.reserveCapacity(256 * width)
        for y in 0..<256 { out += band[(y * 256 + x0)..<(y * 256 + x0 + width)] }
        return out
    }

    func testHalfScaleDecodeOfPlanetJPEG() throws {
        let full = try ImageReader().read(TestPaths.sample("train-jpg/train_1.jpg"))
        let half = try ImageReader(options: DecodeOptions(jpegScale: .half)).read(TestPaths.sample("train-jpg/train_1.jpg"))
        XCTAssertEqual([half.width, half.height], [128, 128])
        XCTAssertEqual(half.bandOrder, .rgb)
        for band in 0..<3 {
            XCTAssertEqual(half.bandStatistics()[band].mean, full.bandStatistics()[band].mean, accuracy: 1.0)
        }
        XCTAssertEqual(JPEGScale.largest(keepingAtLeast: 128, width: 256, height: 256), .half)
        XCTAssertEqual(JPEGScale.largest(keepingAtLeast: 64, width: 256, height: 256), .quarter)
        XCTAssertEqual(JPEGScale.largest(keepingAtLeast: 200, width: 256, height: 256), .full)
        XCTAssertEqual(JPEGScale.largest(keepingAtLeast: 16, width: 256, height: 256), .eighth)
    }
}

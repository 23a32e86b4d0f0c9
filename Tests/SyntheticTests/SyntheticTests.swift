import Foundation
import ImageIO
import PlanetData
import Synthetic
import Tensor
import XCTest

/// `canopy synth`'s library side: the label summary, the dataset writer, and that each label shows.
final class SyntheticTests: XCTestCase {
    private var folders: [String] = []

    override func tearDown() {
        for folder in folders { try? FileManager.default.removeItem(atPath: folder) }
        folders = []
        super.tearDown()
    }

    private func scratchFolder(_ name: String) -> String {
        let path = NSTemporaryDirectory() + "canopy-synth-\(name)-\(getpid())-\(folders.count)"
        try? FileManager.default.removeItem(atPath: path)
        folders.append(path)
        return path
    }

    /// Every file under `folder`, by relative path, with its bytes.
    private func contents(of folder: String) throws -> [String: Data] {
        var files: [String: Data] = [:]
        let enumerator = try XCTUnwrap(FileManager.default.enumerator(atPath: folder))
        while let relative = enumerator.nextObject() as? String {
            var isFolder: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: folder + "/" + relative, isDirectory: &isFolder)
            if !isFolder.boolValue { files[relative] = try Data(contentsOf: URL(fileURLWithPath: folder + "/" + relative)) }
        }
        return files
    }

    private func csvRows(_ path: String) throws -> [(name: String, tags: String)] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(lines.removeFirst(), "image_name,tags")
        XCTAssertEqual(lines.removeLast(), "", "ends with a newline")
        return lines.map { line in
            let parts = line.split(separator: ",", maxSplits: 1, omittingEmptySubsequences: false)
            return (String(parts[0]), String(parts[1]))
        }
    }

    // MARK: Label summary

    func testLabelSummaryMatchesTheRealLabels() {
        let real = LabelSetDistribution.real
        XCTAssertEqual(real.total, 40_479)
        XCTAssertEqual(RealLabelSets.rowCount, 40_479)
        XCTAssertEqual(Set(real.sets).count, real.sets.count, "distinct sets")
        XCTAssertEqual(real.counts, real.counts.sorted(by: >), "sorted by count")
        // Per-label totals are the SPEC's, in chips: the SPEC counts tag occurrences, and 73 real rows repeat a
        // tag ("cultivation cultivation" 70 times, "blow_down blow_down" 3), so cultivation is 4,547 - 70 and
        // blow_down 101 - 3 here.
        let expected = ["primary": 37_513, "clear": 28_431, "agriculture": 12_315, "road": 8_071, "water": 7_411,
                        "partly_cloudy": 7_261, "cultivation": 4_477, "habitation": 3_660, "haze": 2_697, "cloudy": 2_089,
                        "bare_ground": 862, "selective_logging": 340, "artisinal_mine": 339, "blooming": 332,
                        "slash_burn": 209, "blow_down": 98, "conventional_mine": 100]
        for (name, count) in expected {
            let total = zip(real.sets, real.counts).filter { $0.0.contains(name) }.map(\.1).reduce(0, +)
            XCTAssertEqual(total, count, name)
        }
        // One weather label per set, except the one real row without any; nothing on the ground when cloudy.
        var withoutWeather = 0
        for (set, count) in zip(real.sets, real.counts) {
            let weather = set.intersection(PlanetLabels.weather).count
            if weather == 0 { withoutWeather += count } else { XCTAssertEqual(weather, 1, set.description) }
            if set.contains("cloudy") { XCTAssertEqual(set, ["cloudy"]) }
        }
        XCTAssertEqual(withoutWeather, 1)
    }

    func testDrawsFollowTheRealFrequencies() {
        var random = SeededRandom(seed: 7)
        let real = LabelSetDistribution.real
        var cloudy = 0, primary = 0
        let draws = 20_000
        for _ in 0..<draws {
            let set = real.draw(&random)
            XCTAssertTrue(real.sets.contains(set))
            if set.contains("cloudy") {
                cloudy += 1
                XCTAssertTrue(set.intersection(PlanetLabels.ground).isEmpty)
            }
            if set.contains("primary") { primary += 1 }
        }
        XCTAssertEqual(Double(primary) / Double(draws), 37_513.0 / 40_479, accuracy: 0.015)
        XCTAssertEqual(Double(cloudy) / Double(draws), 2_089.0 / 40_479, accuracy: 0.01)
    }

    // MARK: Writer

    func testSameSeedGivesByteIdenticalDatasetsWhateverTheThreadCount() throws {
        let first = scratchFolder("a"), second = scratchFolder("b"), other = scratchFolder("c")
        try SyntheticDataset.write(SyntheticDatasetSpec(train: 6, test: 5, seed: 3, size: 48, writeTIFF: true, threads: 1), to: first)
        try SyntheticDataset.write(SyntheticDatasetSpec(train: 6, test: 5, seed: 3, size: 48, writeTIFF: true, threads: 3), to: second)
        try SyntheticDataset.write(SyntheticDatasetSpec(train: 6, test: 5, seed: 4, size: 48, writeTIFF: true, threads: 2), to: other)
        let a = try contents(of: first), b = try contents(of: second), c = try contents(of: other)
        XCTAssertEqual(a.count, 6 * 2 + 5 * 2 + 3)
        XCTAssertEqual(a.keys.sorted(), b.keys.sorted())
        for (name, bytes) in a { XCTAssertEqual(bytes, b[name], name) }
        XCTAssertNotEqual(a["train-jpg/train_0.jpg"], c["train-jpg/train_0.jpg"], "another seed, other chips")
    }

    func testSmallDatasetHasTheCompetitionLayout() throws {
        let folder = scratchFolder("layout")
        let summary = try SyntheticDataset.write(SyntheticDatasetSpec(train: 12, test: 9, seed: 1, size: 64, writeTIFF: true), to: folder)
        XCTAssertEqual(summary.chips, 21)

        let train = try csvRows(folder + "/train_v2.csv")
        XCTAssertEqual(train.map(\.name), (0..<12).map { "train_\($0)" })
        for row in train {
            let set = try LabelSet(tags: Substring(row.tags))
            XCTAssertEqual(set.tags, row.tags, "tags in label order")
            XCTAssertTrue(LabelSetDistribution.real.sets.contains(set))
        }
        // 9 test chips: round(9 · 40669/61191) = 6 in test-jpg, 3 in test-jpg-additional.
        let submission = try csvRows(folder + "/sample_submission_v2.csv")
        XCTAssertEqual(submission.map(\.name), ["test_0", "test_1", "test_2", "test_3", "test_4", "test_5", "file_0", "file_1", "file_2"])
        XCTAssertTrue(submission.allSatisfy { $0.tags == "primary clear agriculture road water" })
        let testLabels = try csvRows(folder + "/test_labels.csv")
        XCTAssertEqual(testLabels.map(\.name), submission.map(\.name))

        let reader = ImageReader()
        var fourComponent = 0
        let jpegs = train.map { "train-jpg/\($0.name).jpg" }
            + submission.map { ($0.name.hasPrefix("test_") ? "test-jpg/" : "test-jpg-additional/") + $0.name + ".jpg" }
        for path in jpegs {
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: folder + "/" + path)))
            let image = try reader.decode(bytes, file: path)
            XCTAssertEqual([image.width, image.height, image.bitDepth], [64, 64, 8], path)
            XCTAssertEqual(image.bandOrder, .rgb, path)
            if Self.jpegComponents(bytes) == 4 { fourComponent += 1 }
        }
        XCTAssertGreaterThan(fourComponent, 0, "some JPEGs are 4-component like the real files")
        XCTAssertLessThan(fourComponent, jpegs.count, "and some are not")
        let tiffs = train.map { "train-tif-v2/\($0.name).tif" } + submission.map { "test-tif-v2/\($0.name).tif" }
        for path in tiffs {
            let image = try reader.read(folder + "/" + path)
            XCTAssertEqual([image.width, image.height, image.bitDepth], [64, 64, 16], path)
            XCTAssertEqual(image.bandOrder, .bgrn, path)
        }
        let expectedFiles = Set(jpegs + tiffs + ["train_v2.csv", "sample_submission_v2.csv", "test_labels.csv"])
        XCTAssertEqual(Set(try contents(of: folder).keys), expectedFiles)
    }

    func testSampleSubmissionOrderIsNumericThenStringOrder() {
        let chips = SyntheticDataset.plan(SyntheticDatasetSpec(train: 0, test: 40, seed: 1, size: 32))
        let names = chips.map(\.name)
        // round(40 · 40669/61191) = 27 test_*, then 13 file_* in string order.
        XCTAssertEqual(Array(names.prefix(27)), (0..<27).map { "test_\($0)" })
        XCTAssertEqual(Array(names.dropFirst(27)), (0..<13).map { "file_\($0)" }.sorted())
        XCTAssertEqual(names[27...29], ["file_0", "file_1", "file_10"])
    }

    func testUnwritableFolderIsAClearError() {
        let blocker = scratchFolder("blocker")
        XCTAssertTrue(FileManager.default.createFile(atPath: blocker, contents: Data("a file".utf8)))
        XCTAssertThrowsError(try SyntheticDataset.write(SyntheticDatasetSpec(train: 1, test: 0, seed: 1, size: 32), to: blocker + "/inside")) { error in
            let text = String(describing: error)
            XCTAssertTrue(text.hasPrefix(blocker + "/inside"), text)
            XCTAssertTrue(text.contains("cannot create folder"), text)
        }
    }

    // MARK: Each label visible (painted planes, no files)

    private func painted(_ labels: LabelSet, count: Int = 50, size: Int = 64, salt: UInt64) -> [PaintedChip] {
        let painter = ChipPainter(size: size)
        return (0..<count).map { k in
            var random = SeededRandom(seed: salt &* 1000 &+ UInt64(k))
            return painter.paint(labels, random: &random)
        }
    }

    private func mean(_ values: [Float]) -> Float { values.reduce(0, +) / Float(values.count) }

    func testCloudyChipsAreBrighterThanClearOnes() {
        let cloudy = painted(["cloudy"], salt: 1).map(\.meanBrightness)
        let clear = painted(["clear", "primary"], salt: 2).map(\.meanBrightness)
        XCTAssertGreaterThan(cloudy.min()!, clear.max()!)
    }

    func testWaterLowersNearInfrared() {
        let water = painted(["clear", "primary", "water"], salt: 3).map { $0.means.nearInfrared }
        let dry = painted(["clear", "primary"], salt: 3).map { $0.means.nearInfrared }
        XCTAssertLessThan(mean(water), mean(dry) - 0.02)
    }

    func testHazeLowersContrast() {
        let haze = painted(["haze", "primary", "agriculture"], salt: 4).map(\.brightnessDeviation)
        let clear = painted(["clear", "primary", "agriculture"], salt: 4).map(\.brightnessDeviation)
        XCTAssertLessThan(mean(haze), mean(clear) * 0.75)
    }

    func testPartlyCloudyIsBetweenClearAndCloudy() {
        let partly = mean(painted(["partly_cloudy", "primary"], salt: 5).map(\.meanBrightness))
        let clear = mean(painted(["clear", "primary"], salt: 5).map(\.meanBrightness))
        let cloudy = mean(painted(["cloudy"], salt: 5).map(\.meanBrightness))
        XCTAssertGreaterThan(partly, clear + 0.05)
        XCTAssertLessThan(partly, cloudy - 0.05)
    }

    /// Every ground label changes the chip visibly: compared with the same seed without it (light and
    /// weather come from their own stream), a clear share of pixels changes by more than 10/255.
    func testEveryGroundLabelChangesTheChip() {
        let size = 96
        let painter = ChipPainter(size: size)
        for label in PlanetLabels.ground.indices where label != PlanetLabels.index(of: "primary") {
            var shares: [Float] = []
            for k in 0..<8 {
                let base: LabelSet = ["clear", "primary"]
                var a = SeededRandom(seed: UInt64(100 + k)), b = a
                let without = painter.paint(base, random: &a)
                let with = painter.paint(base.union(LabelSet(indices: [label])), random: &b)
                var changed = 0
                for i in 0..<(size * size) {
                    let difference = abs(with.red[i] - without.red[i]) + abs(with.green[i] - without.green[i])
                        + abs(with.blue[i] - without.blue[i])
                    if difference > 3 * 10 / 255 { changed += 1 }
                }
                shares.append(Float(changed) / Float(size * size))
            }
            XCTAssertGreaterThan(mean(shares), 0.01, PlanetLabels.names[label])
        }
    }

    func testConversionsUseTheRealFilesRanges() {
        let chip = painted(["clear", "primary", "water", "road"], count: 1, size: 64, salt: 6)[0]
        let tiff = chip.bgrnImage(), jpeg = chip.rgbImage()
        XCTAssertEqual(tiff.bandOrder, .bgrn)
        XCTAssertEqual(tiff.bitDepth, 16)
        XCTAssertEqual(jpeg.bandOrder, .rgb)
        XCTAssertEqual(jpeg.bitDepth, 8)
        guard case .uint16(let samples) = tiff.samples else { return XCTFail("16-bit") }
        let rgb = stride(from: 0, to: samples.count, by: 4).flatMap { samples[$0..<($0 + 3)] }
        XCTAssertGreaterThan(rgb.min()!, 1_500)
        XCTAssertLessThan(rgb.max()!, 10_000)
        let nir = stride(from: 3, to: samples.count, by: 4).map { samples[$0] }
        XCTAssertGreaterThan(Int(nir.reduce(0) { $0 + Int($1) }) / nir.count, 5_000, "forest is bright in NIR")
    }

    func testPreviewHasACellPerLabel() {
        let sheet = SyntheticPreview.render(seed: 1, randomChips: 1)
        XCTAssertEqual(sheet.bandOrder, .rgb)
        XCTAssertEqual(sheet.width, 6 * (SyntheticPreview.chipSize + 12))
        XCTAssertGreaterThanOrEqual(sheet.height, 3 * SyntheticPreview.chipSize)
    }

    /// The number of components in a baseline or progressive JPEG's frame header.
    static func jpegComponents(_ bytes: [UInt8]) -> Int? {
        var i = 2
        while i + 9 < bytes.count {
            guard bytes[i] == 0xFF else { return nil }
            let marker = bytes[i + 1]
            let length = Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
            if (0xC0...0xC2).contains(marker) { return Int(bytes[i + 9]) }
            i += 2 + length
        }
        return nil
    }
}

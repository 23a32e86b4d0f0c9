@testable import Evaluation
import Foundation
import ImageIO
import PlanetData
import XCTest
#if canImport(FoundationXML)
import FoundationXML
#endif

/// The run report: sections agree with Metrics, the four files are written and read back, the HTML
/// is self-contained and its SVG well-formed, chips become thumbnails or placeholders.
final class ReportTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let sampleJPEG = root + "/datasets/planet-sample/train-jpg/train_1.jpg"
    static let sampleTIFF = root + "/datasets/planet-sample/train-tif-v2/train_1.tif"

    /// 30 chips: a weather label each, ground labels at fixed rates, probabilities that lean towards
    /// the truth; `blow_down` never occurs (its average precision is undefined).
    static func constructedCase(chips: Int = 30, seed: UInt64 = 7) -> (truth: [LabelSet], probabilities: [[Float]]) {
        var state = seed
        func next() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) / Double(1 << 53)
        }
        let weather = ["clear", "cloudy", "haze", "partly_cloudy"].map { PlanetLabels.index(of: $0)! }
        let rates: [String: Double] = ["primary": 0.9, "agriculture": 0.35, "road": 0.25, "water": 0.2, "cultivation": 0.12,
                                       "habitation": 0.1, "bare_ground": 0.05, "artisinal_mine": 0.04]
        var truth: [LabelSet] = [], probabilities: [[Float]] = []
        for _ in 0..<chips {
            var tags = LabelSet()
            tags.insert(weather[Int(next() * 4) % 4])
            for (name, rate) in rates where next() < rate { tags.insert(PlanetLabels.index(of: name)!) }
            truth.append(tags)
            probabilities.append((0..<PlanetLabels.count).map { label in
                let noise = next()
                return Float(tags.contains(label) ? 0.35 + 0.65 * noise : 0.6 * noise * noise)
            })
        }
        return (truth, probabilities)
    }

    static func report() -> RunReport {
        let (truth, probabilities) = constructedCase()
        let flat = [Float](repeating: 0.2, count: PlanetLabels.count)
        var perLabel = flat
        perLabel[PlanetLabels.index(of: "primary")!] = 0.3
        let fold0 = ReportSection.make(name: "resnet18 fold 0", kind: .fold, truth: Array(truth[..<15]), probabilities: Array(probabilities[..<15]),
                                       thresholds: flat, decided: probabilities[..<15].map { Metrics.decide($0, thresholds: flat) })
        let oof = ReportSection.make(name: "resnet18 out-of-fold", kind: .model, truth: truth, probabilities: probabilities,
                                     thresholds: perLabel, decided: probabilities.map { Metrics.decide($0, thresholds: perLabel) })
        let training = TrainingCurve(model: "resnet18", fold: 0, points: (1...4).map {
            TrainingPoint(epoch: $0, trainLoss: 0.4 / Double($0), validationLoss: $0 == 3 ? .nan : 0.45 / Double($0),
                          validationMeanF2: 0.8 + 0.02 * Double($0), learningRate: 0.01, seconds: 12.5)
        })
        return RunReport(
            title: "Report <test> & \"quotes\"", createdBy: "canopy run pipelines/test.yaml",
            dataset: ["30 constructed chips", "2 folds"], sections: [fold0, oof],
            methods: [MethodScore(method: "p > 0.5", outOfFoldMeanF2: 0.85, testMeanF2: 0.84),
                      MethodScore(method: "per-label thresholds", outOfFoldMeanF2: oof.meanF2)],
            training: [training],
            samples: [SampleChip(name: "train_1", imagePath: sampleJPEG, truth: ["clear", "primary", "water"], predicted: ["clear", "primary", "road"],
                                 probabilities: probabilities[0]),
                      SampleChip(name: "train_1 tif", imagePath: sampleTIFF, truth: nil, predicted: ["clear", "primary"]),
                      SampleChip(name: "gone", imagePath: "/nonexistent/chip_9.jpg", truth: ["haze"], predicted: [])],
            notes: ["thresholds tuned on out-of-fold probabilities", "a <b>bold</b> claim & more"])
    }

    func testSectionAgreesWithMetrics() {
        let (truth, probabilities) = Self.constructedCase()
        let thresholds = (0..<PlanetLabels.count).map { Float(0.1 + 0.02 * Double($0)) }
        let decided = probabilities.map { Metrics.decide($0, thresholds: thresholds) }
        let section = ReportSection.make(name: "m", kind: .model, truth: truth, probabilities: probabilities, thresholds: thresholds, decided: decided)
        XCTAssertEqual(section.chips, 30)
        XCTAssertEqual(section.meanF2, Metrics.meanF2(truth: truth, predicted: decided), accuracy: 1e-12)
        XCTAssertEqual(section.microF2, Metrics.microF2(truth: truth, predicted: decided), accuracy: 1e-12)
        XCTAssertEqual(section.macroF2, Metrics.macroF2(truth: truth, predicted: decided), accuracy: 1e-12)
        let expected = Metrics.perLabel(truth: truth, predicted: decided, probabilities: probabilities, thresholds: thresholds)
        XCTAssertEqual(section.labels.count, 17)
        for (got, want) in zip(section.labels, expected) {
            XCTAssertEqual(got.truePositives, want.truePositives)
            XCTAssertEqual(got.falsePositives, want.falsePositives)
            XCTAssertEqual(got.falseNegatives, want.falseNegatives)
            XCTAssertEqual(got.trueNegatives, want.trueNegatives)
            XCTAssertEqual(got.threshold, thresholds[got.label])
            if let ap = want.averagePrecision, ap.isFinite { XCTAssertEqual(got.averagePrecision!, ap, accuracy: 1e-12) } else { XCTAssertNil(got.averagePrecision) }
        }
        XCTAssertNil(section.labels[PlanetLabels.index(of: "blow_down")!].averagePrecision, "no positive: undefined AP")
        XCTAssertEqual(section.curves.precisionRecall.count, 17)
        XCTAssertTrue(section.curves.precisionRecall[PlanetLabels.index(of: "blow_down")!].isEmpty)
        XCTAssertTrue(section.curves.precisionRecall.allSatisfy { $0.count <= ReportSection.maximumCurvePoints })
        // The sweep: 0.01...0.99, each point the mean F2 of that flat threshold.
        XCTAssertEqual(section.curves.thresholdSweep.count, 99)
        XCTAssertEqual(section.curves.thresholdSweep.first?.threshold, 0.01)
        XCTAssertEqual(section.curves.thresholdSweep.last?.threshold, 0.99)
        for point in [section.curves.thresholdSweep[19], section.curves.thresholdSweep[49]] {
            let flat = [Float](repeating: point.threshold, count: 17)
            XCTAssertEqual(point.meanF2, Metrics.meanF2(truth: truth, predicted: probabilities.map { Metrics.decide($0, thresholds: flat) }), accuracy: 1e-12)
        }
    }

    func testLongCurvesAreDownsampledKeepingTheEnds() {
        let (truth, probabilities) = Self.constructedCase(chips: 400, seed: 3)
        let flat = [Float](repeating: 0.2, count: 17)
        let section = ReportSection.make(name: "big", kind: .ensemble, truth: truth, probabilities: probabilities, thresholds: flat,
                                         decided: probabilities.map { Metrics.decide($0, thresholds: flat) })
        let primary = PlanetLabels.index(of: "primary")!
        let full = Metrics.precisionRecallCurve(scores: probabilities.map { $0[primary] }, positives: truth.map { $0.contains(primary) })
        XCTAssertGreaterThan(full.count, 100)
        let kept = section.curves.precisionRecall[primary]
        XCTAssertEqual(kept.count, 100)
        XCTAssertEqual(kept.first?.threshold, full.first?.threshold)
        XCTAssertEqual(kept.last?.recall, 1)
    }

    func testWritesFourFilesThatReadBack() throws {
        let report = Self.report()
        let folder = NSTemporaryDirectory() + "canopy-report-\(getpid())-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let paths = try ReportWriter.write(report, to: folder)
        XCTAssertEqual(paths.map { ($0 as NSString).lastPathComponent }, ["report.md", "report.csv", "metrics.json", "report.html"])

        // Markdown: per section a 17-row label table; the methods table with both columns.
        let markdown = try String(contentsOfFile: folder + "/report.md", encoding: .utf8)
        for name in PlanetLabels.names {
            XCTAssertEqual(markdown.split(separator: "\n").filter { $0.hasPrefix("| \(name) | ") }.count, report.sections.count, name)
        }
        XCTAssertTrue(markdown.contains("| p > 0.5 | 0.8500 | 0.8400 |"))
        XCTAssertTrue(markdown.contains("| label | support | precision | recall | F2 | threshold | AP | TP | FP | FN | TN |"))

        // CSV: header plus sections x 17 rows, each with every column.
        let csv = try String(contentsOfFile: folder + "/report.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(csv.count, 1 + report.sections.count * 17)
        XCTAssertEqual(csv.first.map(String.init), CSVReport.header.joined(separator: ","))
        XCTAssertTrue(csv.dropFirst().allSatisfy { $0.split(separator: ",", omittingEmptySubsequences: false).count == CSVReport.header.count })

        // JSON: reads back to the same report, NaN loss included (written as null).
        let jsonBytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: folder + "/metrics.json")))
        let back = try ReportWriter.decode(jsonBytes)
        XCTAssertEqual(back, report)
        XCTAssertTrue(back.training[0].points[2].validationLoss!.isNaN)
        let jsonText = String(decoding: jsonBytes, as: UTF8.self)
        XCTAssertTrue(jsonText.contains("\"validationLoss\" : null"))
        XCTAssertFalse(jsonText.contains("NaN"))

        // HTML: well-formed, self-contained, thumbnails embedded, placeholders for missing chips.
        let html = try String(contentsOfFile: folder + "/report.html", encoding: .utf8)
        try assertWellFormed(html.replacingOccurrences(of: "<!DOCTYPE html>", with: ""), "the whole page")
        let svgs = html.components(separatedBy: "<svg ").dropFirst().map { "<svg " + $0.components(separatedBy: "</svg>")[0] + "</svg>" }
        // Per section: F2 bars, the sweep, 17 precision-recall charts; per training curve: two charts.
        XCTAssertEqual(svgs.count, report.sections.count * 19 + report.training.count * 2)
        for (k, svg) in svgs.enumerated() { try assertWellFormed(svg, "svg \(k)") }
        let references = html.components(separatedBy: "http").count - 1
        XCTAssertEqual(references, html.components(separatedBy: "xmlns=\"http://www.w3.org/2000/svg\"").count - 1, "only the SVG namespace")
        XCTAssertFalse(html.contains("<script"))
        XCTAssertEqual(html.components(separatedBy: "url(").count, html.components(separatedBy: "url(#").count, "only local fragments")
        XCTAssertEqual(html.components(separatedBy: "src=\"data:image/png;base64,iVBORw0KGgo").count - 1, 2, "JPEG and TIFF thumbnails")
        XCTAssertTrue(html.contains("class=\"placeholder\""))
        XCTAssertTrue(html.contains("chip_9.jpg"))
        XCTAssertTrue(html.contains("Report &lt;test&gt; &amp; &quot;quotes&quot;"))
        XCTAssertTrue(html.contains("a &lt;b&gt;bold&lt;/b&gt; claim &amp; more"))
        XCTAssertTrue(html.contains("<span class=\"tag miss\">water"))
        XCTAssertTrue(html.contains("<span class=\"tag extra\">road"))
        XCTAssertTrue(html.contains("<span class=\"tag ok\">clear"))
    }

    func testChartsAreWellFormedWithOneMarkPerDatum() throws {
        let bars = SVGCharts.horizontalBars(PlanetLabels.names.enumerated().map { ("\($1) <&>", Double($0) / 16) }, title: "F2 \"per\" label")
        try assertWellFormed(bars, "bars")
        XCTAssertEqual(bars.components(separatedBy: "class=\"bar\"").count - 1, 17)
        XCTAssertTrue(bars.contains("agriculture &lt;&amp;&gt;"))
        XCTAssertTrue(bars.contains(">1.000<"), "value labels")

        let a = SVGCharts.Series(name: "train", color: "#000", points: (1...12).map { (Double($0), 1 / Double($0)) }, markers: true)
        let b = SVGCharts.Series(name: "validation", color: "#111", points: [(1, 0.9), (2, .nan), (3, 0.5)], dashed: true)
        let chart = SVGCharts.lines([a, b], title: "loss", x: .init("epoch"), y: .init("loss"),
                                    markers: [.init(x: 6, label: "best <6>")], rug: [2, 4])
        try assertWellFormed(chart, "lines")
        let polylines = chart.components(separatedBy: "<polyline ").dropFirst()
        XCTAssertEqual(polylines.count, 2)
        let pointCounts = polylines.map { $0.components(separatedBy: "points=\"")[1].prefix { $0 != "\"" }.split(separator: " ").count }
        XCTAssertEqual(pointCounts, [12, 2], "a NaN point is left out")
        XCTAssertEqual(chart.components(separatedBy: "class=\"point\"").count - 1, 12)
        XCTAssertEqual(chart.components(separatedBy: "class=\"rug\"").count - 1, 2)
        XCTAssertTrue(chart.contains("best &lt;6&gt;"))
        XCTAssertEqual(SVGCharts.ticks(0...1), [0, 0.2, 0.4, 0.6000000000000001, 0.8, 1].map { $0 }, accuracy: 1e-9)
    }

    func testThumbnailsOfJPEGAndBGRNTIFF() throws {
        for path in [Self.sampleJPEG, Self.sampleTIFF] {
            let png = try Thumbnails.png(path: path)
            let image = try ImageReader().decode(png, file: path)
            XCTAssertEqual([image.width, image.height, image.bands, image.bitDepth], [64, 64, 3, 8], path)
        }
        // A 16-bit BGRN image: bands reordered to RGB, each stretched over 0...255.
        let pixels = 100
        var samples: [UInt16] = []
        for p in 0..<pixels { samples += [UInt16(1000 + p), UInt16(5000 + 10 * p), UInt16(2000), UInt16(9000)] }
        let bgrn = Image(width: 10, height: 10, bandOrder: .bgrn, samples: .uint16(samples))
        let shown = try Thumbnails.displayable(bgrn)
        XCTAssertEqual(shown.bandOrder, .rgb)
        guard case .uint8(let rgb) = shown.samples else { return XCTFail("8-bit expected") }
        XCTAssertEqual(rgb[2], 0, "blue, darkest pixel")
        XCTAssertEqual(rgb[(pixels - 1) * 3 + 2], 255, "blue, brightest pixel")
        XCTAssertEqual(rgb[(pixels - 1) * 3 + 1], 255, "green")
        XCTAssertEqual(rgb[50 * 3 + 2], 130, "blue 1050 between the 2nd and 98th percentiles 1001 and 1097: 49/96·255")
        XCTAssertEqual(rgb[50 * 3], 0, "red, constant")
    }

    func testJSONSurvivesValuesThatAreNotFinite() throws {
        var report = RunReport(title: "t", createdBy: "c", methods: [MethodScore(method: "broken", outOfFoldMeanF2: .nan, testMeanF2: .infinity)])
        report.training = [TrainingCurve(model: "m", fold: 1, points: [TrainingPoint(epoch: 1, trainLoss: .infinity, learningRate: 0.1, seconds: 1)])]
        let back = try ReportWriter.decode(ReportWriter.json(report))
        XCTAssertTrue(back.methods[0].outOfFoldMeanF2.isNaN)
        XCTAssertEqual(back.methods[0].testMeanF2, .infinity)
        XCTAssertTrue(back.training[0].points[0].trainLoss.isNaN, "null reads back as NaN")
        XCTAssertNil(back.training[0].points[0].validationLoss, "absent stays absent")
    }

    /// With CANOPY_REPORT_SAMPLE=/some/folder set, writes a realistic report there to look at.
    func testWriteSampleReportWhenAsked() throws {
        guard let folder = ProcessInfo.processInfo.environment["CANOPY_REPORT_SAMPLE"] else { throw XCTSkip("CANOPY_REPORT_SAMPLE not set") }
        try ReportWriter.write(ReportSampleData.realistic(root: Self.root), to: folder)
    }

    private func assertWellFormed(_ xml: String, _ what: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let parser = XMLParser(data: Data(xml.utf8))
        let ok = parser.parse()
        XCTAssertTrue(ok, "\(what): \(parser.parserError.map(String.init(describing:)) ?? "?") at line \(parser.lineNumber) column \(parser.columnNumber)", file: file, line: line)
    }
}

private func XCTAssertEqual(_ a: [Double], _ b: [Double], accuracy: Double, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, file: file, line: line)
    for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: accuracy, file: file, line: line) }
}

/// A realistic report for looking at: label rates of the real train_v2.csv, a noisy model whose rare
/// labels are harder, five folds, two models, an ensemble, methods with test scores, training
/// curves, and the real sample chips.
enum ReportSampleData {
    static let counts = [12315, 339, 862, 332, 101, 28431, 2089, 100, 4547, 3660, 2697, 7261, 37513, 8071, 340, 209, 7411]

    struct Random {
        var state: UInt64
        mutating func uniform() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return (Double(state >> 11) + 0.5) / Double(1 << 53)
        }
        mutating func normal() -> Double { (-2 * log(uniform())).squareRoot() * cos(2 * .pi * uniform()) }
    }

    static func chips(_ n: Int, random: inout Random) -> [LabelSet] {
        let weather = [5, 6, 10, 11], weatherCounts = weather.map { Double(counts[$0]) }
        return (0..<n).map { _ in
            var tags = LabelSet()
            var u = random.uniform() * weatherCounts.reduce(0, +)
            let w = weather[weatherCounts.firstIndex { u -= $0; return u < 0 } ?? 0]
            tags.insert(w)
            guard w != 6 else { return tags }
            for label in PlanetLabels.ground.indices where random.uniform() < Double(counts[label]) / 38_390 { tags.insert(label) }
            return tags
        }
    }

    static func predict(_ truth: [LabelSet], skill: Double, random: inout Random) -> [[Float]] {
        truth.map { tags in
            (0..<PlanetLabels.count).map { label in
                let rare = counts[label] < 1000 ? 0.45 : 1.0
                let z = (tags.contains(label) ? 1.0 : -1.0) * skill * rare * 1.6 - 0.9 + random.normal() * 1.25
                return Float(1 / (1 + exp(-z)))
            }
        }
    }

    static func decide(_ p: [[Float]], _ t: [Float]) -> [LabelSet] { p.map { Metrics.decide($0, thresholds: t) } }

    static func tune(_ truth: [LabelSet], _ p: [[Float]], start: Float) -> [Float] {
        var t = [Float](repeating: start, count: 17)
        for label in 0..<17 {
            var best = (Metrics.meanF2(truth: truth, predicted: decide(p, t)), t[label])
            for k in stride(from: 0.04, through: 0.9, by: 0.04) {
                t[label] = Float(k)
                let f = Metrics.meanF2(truth: truth, predicted: decide(p, t))
                if f > best.0 { best = (f, Float(k)) }
            }
            t[label] = best.1
        }
        return t
    }

    static func realistic(root: String) throws -> RunReport {
        var random = Random(state: 2017)
        let truth = chips(1500, random: &random), testTruth = chips(800, random: &random)
        let resnet = predict(truth, skill: 1.25, random: &random), vgg = predict(truth, skill: 1.1, random: &random)
        let resnetTest = predict(testTruth, skill: 1.25, random: &random), vggTest = predict(testTruth, skill: 1.1, random: &random)
        let mean = { (a: [[Float]], b: [[Float]]) in zip(a, b).map { zip($0, $1).map { ($0 + $1) / 2 } } }
        let ensemble = mean(resnet, vgg), ensembleTest = mean(resnetTest, vggTest)
        let half = [Float](repeating: 0.5, count: 17), flat = [Float](repeating: 0.2, count: 17)
        let tuned = tune(truth, resnet, start: 0.2), tunedEnsemble = tune(truth, ensemble, start: 0.2)
        var sections: [ReportSection] = []
        for fold in 0..<5 {
            let range = fold * 300..<(fold + 1) * 300
            sections.append(.make(name: "resnet18 fold \(fold)", kind: .fold, truth: Array(truth[range]), probabilities: Array(resnet[range]),
                                  thresholds: tuned, decided: decide(Array(resnet[range]), tuned)))
        }
        sections.append(.make(name: "resnet18 out-of-fold", kind: .model, truth: truth, probabilities: resnet, thresholds: tuned, decided: decide(resnet, tuned)))
        sections.append(.make(name: "vgg11 out-of-fold", kind: .model, truth: truth, probabilities: vgg, thresholds: flat, decided: decide(vgg, flat)))
        sections.insert(.make(name: "ensemble (mean of 2 models)", kind: .ensemble, truth: truth, probabilities: ensemble, thresholds: tunedEnsemble,
                              decided: decide(ensemble, tunedEnsemble)), at: 0)
        func score(_ name: String, _ p: [[Float]], _ pt: [[Float]], _ t: [Float]) -> MethodScore {
            MethodScore(method: name, outOfFoldMeanF2: Metrics.meanF2(truth: truth, predicted: decide(p, t)),
                        testMeanF2: Metrics.meanF2(truth: testTruth, predicted: decide(pt, t)))
        }
        let methods = [score("resnet18, p > 0.5", resnet, resnetTest, half), score("resnet18, global threshold 0.20", resnet, resnetTest, flat),
                       score("resnet18, per-label thresholds", resnet, resnetTest, tuned),
                       score("ensemble, per-label thresholds", ensemble, ensembleTest, tunedEnsemble)]
        var training: [TrainingCurve] = []
        for (model, speed) in [("resnet18", 1.0), ("vgg11", 0.8)] {
            for fold in 0..<2 {
                training.append(TrainingCurve(model: model, fold: fold, points: (1...12).map { e in
                    let x = Double(e)
                    return TrainingPoint(epoch: e, trainLoss: 0.09 + 0.25 * exp(-x * 0.35 * speed) + 0.004 * random.normal(),
                                         validationLoss: 0.105 + 0.2 * exp(-x * 0.4 * speed) + 0.0015 * x + 0.004 * random.normal(),
                                         validationMeanF2: 0.915 - 0.12 * exp(-x * 0.45 * speed) + 0.003 * random.normal(),
                                         learningRate: 0.01 * 0.5 * (1 + cos(.pi * x / 12)), seconds: 310 + 20 * random.normal())
                }))
            }
        }
        let labels = try String(contentsOfFile: root + "/datasets/planet-sample/train_v2.csv", encoding: .utf8)
            .split(separator: "\n").dropFirst().map { $0.split(separator: ",", maxSplits: 1) }
        var samples: [SampleChip] = []
        for row in labels.prefix(12) {
            let name = String(row[0]), tags = try LabelSet(tags: row.count > 1 ? row[1] : "")
            let p = predict([tags], skill: 1.2, random: &random)[0]
            samples.append(SampleChip(name: name, imagePath: root + "/datasets/planet-sample/train-jpg/\(name).jpg", truth: tags,
                                      predicted: Metrics.decide(p, thresholds: tuned), probabilities: p))
        }
        samples.append(SampleChip(name: "train_1 (TIFF, RGB of BGRN)", imagePath: root + "/datasets/planet-sample/train-tif-v2/train_1.tif",
                                  truth: samples[1].truth, predicted: samples[1].predicted))
        samples.append(SampleChip(name: "test_3", imagePath: root + "/datasets/planet-sample/test-jpg/test_3.jpg", truth: nil, predicted: ["clear", "primary", "road"]))
        samples.append(SampleChip(name: "train_99999", imagePath: root + "/datasets/planet-sample/train-jpg/train_99999.jpg", truth: ["clear"], predicted: ["clear"]))
        return RunReport(title: "resnet18 + vgg11 on synthetic-like labels", createdBy: "canopy run pipelines/sample.yaml",
                         dataset: ["1,500 out-of-fold chips with the label rates of train_v2.csv; 800 test chips with labels (synthetic data)",
                                   "5 stratified folds; thumbnails are the real sample chips"],
                         sections: sections, methods: methods, training: training, samples: samples,
                         notes: ["Per-label thresholds tuned on out-of-fold probabilities, coordinate ascent from 0.2.",
                                 "Made by ReportTests.testWriteSampleReportWhenAsked for a look at the page."])
    }
}

import Foundation
import PlanetData

/// `report.html`: one self-contained page (inline CSS and SVG, thumbnails as `data:` URLs; no
/// script, no font, nothing fetched). Written as well-formed XML apart from the doctype, so any XML
/// parser can check it.
public enum HTMLReport {
    /// The page. Sample chips are decoded from their `imagePath`, taken relative to `imageRoot` when
    /// it is given and the path is relative; a chip that cannot be read becomes a box with the error.
    public static func render(_ report: RunReport, imageRoot: String? = nil, thumbnailSide: Int = 64) -> String {
        var html = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>"
        html += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>"
        html += "<title>\(Markup.escape(report.title))</title><style>\(css)</style></head><body><main>\n"
        html += header(report)
        html += methods(report.methods)
        for (k, section) in report.sections.enumerated() { html += self.section(section, index: k) }
        html += training(report.training)
        html += samples(report.samples, imageRoot: imageRoot, side: thumbnailSide)
        if !report.notes.isEmpty {
            html += "<section id=\"notes\"><h2>Notes</h2><ul>"
            for note in report.notes { html += "<li>\(Markup.escape(note))</li>" }
            html += "</ul></section>\n"
        }
        return html + "</main></body></html>\n"
    }

    // MARK: parts

    static func header(_ report: RunReport) -> String {
        var html = "<header><h1>\(Markup.escape(report.title))</h1>"
        html += "<p class=\"by\">Made by <code>\(Markup.escape(report.createdBy))</code></p>"
        if !report.dataset.isEmpty {
            html += "<ul class=\"dataset\">" + report.dataset.map { "<li>\(Markup.escape($0))</li>" }.joined() + "</ul>"
        }
        var cards: [(String, String)] = []
        if let best = report.methods.max(by: { $0.outOfFoldMeanF2 < $1.outOfFoldMeanF2 }) {
            cards.append(("best out-of-fold mean F2", "\(Markup.number(best.outOfFoldMeanF2))<small>\(Markup.escape(best.method))</small>"))
            if let test = best.testMeanF2 { cards.append(("its test mean F2", Markup.number(test))) }
        }
        if let main = report.sections.first(where: { $0.kind == .ensemble }) ?? report.sections.first(where: { $0.kind == .model }) {
            cards.append(("\(main.name): mean / micro / macro F2",
                          "\(Markup.number(main.meanF2)) <small>\(Markup.number(main.microF2)) / \(Markup.number(main.macroF2)) · \(main.chips) chips</small>"))
        }
        if !cards.isEmpty {
            html += "<div class=\"cards\">" + cards.map { "<div class=\"card\"><div class=\"k\">\(Markup.escape($0.0))</div><div class=\"v\">\($0.1)</div></div>" }.joined() + "</div>"
        }
        return html + "</header>\n"
    }

    static func methods(_ methods: [MethodScore]) -> String {
        guard !methods.isEmpty else { return "" }
        let hasTest = methods.contains { $0.testMeanF2 != nil }
        let best = methods.map(\.outOfFoldMeanF2).max() ?? 0
        var html = "<section id=\"methods\"><h2>Methods</h2><table class=\"methods\"><thead><tr><th>method</th><th>out-of-fold mean F2</th>"
        html += "<th>Δ vs \(Markup.escape(methods[0].method))</th>" + (hasTest ? "<th>test mean F2</th><th>test − OOF</th>" : "") + "</tr></thead><tbody>"
        for m in methods {
            let delta = m.outOfFoldMeanF2 - methods[0].outOfFoldMeanF2
            html += "<tr\(m.outOfFoldMeanF2 == best ? " class=\"best\"" : "")><td>\(Markup.escape(m.method))</td><td class=\"n\">\(Markup.number(m.outOfFoldMeanF2))</td>"
            html += "<td class=\"n\">\(signed(delta))</td>"
            if hasTest {
                html += "<td class=\"n\">\(Markup.number(m.testMeanF2))</td><td class=\"n\">\(m.testMeanF2.map { signed($0 - m.outOfFoldMeanF2) } ?? "—")</td>"
            }
            html += "</tr>"
        }
        return html + "</tbody></table></section>\n"
    }

    static func section(_ s: ReportSection, index: Int) -> String {
        var html = "<section class=\"report-section\" id=\"section-\(index)\"><details\(s.kind == .fold ? "" : " open=\"open\"")><summary>"
        html += "<h2>\(Markup.escape(s.name)) <span class=\"kind\">\(s.kind.rawValue)</span></h2>"
        html += "<span class=\"stats\">\(s.chips) chips · mean F2 <b>\(Markup.number(s.meanF2))</b> · micro \(Markup.number(s.microF2)) · macro \(Markup.number(s.macroF2))</span></summary>"
        html += "<div class=\"row\">"
        html += SVGCharts.horizontalBars(s.labels.map { ("\($0.name) (\($0.support))", $0.f2) }, title: "F2 per label (support)")
        html += sweepChart(s)
        html += "</div><h3>Precision–recall per label</h3><div class=\"small-multiples\">"
        for l in s.labels {
            let curve = l.label < s.curves.precisionRecall.count ? s.curves.precisionRecall[l.label] : []
            var series = [SVGCharts.Series(name: "precision-recall", color: SVGCharts.palette[0], points: curve.map { ($0.recall, $0.precision) })]
            if l.truePositives + l.falsePositives > 0 && l.support > 0 {
                series.append(SVGCharts.Series(name: "chosen", color: "#b3261e", points: [(l.recall, l.precision)], markers: true))
            }
            let title = "\(l.name) · AP \(Markup.number(l.averagePrecision, 3))"
            html += SVGCharts.lines(series, title: title, x: .init("recall", range: 0...1),
                                    y: .init("precision", range: 0...1), legend: false, width: 216, height: 176)
        }
        html += "</div><p class=\"hint\">Blue: the curve over thresholds; red dot: the decisions taken (recall, precision).</p>"
        html += labelTable(s)
        return html + "</details></section>\n"
    }

    /// Mean F2 against one flat threshold; the best flat threshold marked, the thresholds used drawn
    /// as ticks along the bottom, and the mean F2 actually reached as a dashed line.
    static func sweepChart(_ s: ReportSection) -> String {
        let sweep = s.curves.thresholdSweep.map { (Double($0.threshold), $0.meanF2) }
        let used = s.labels.compactMap(\.threshold).map(Double.init)
        var markers: [SVGCharts.Marker] = []
        if let best = s.bestFlatThreshold {
            markers.append(.init(x: Double(best.threshold), label: "best flat \(Markup.number(Double(best.threshold), 2)): \(Markup.number(best.meanF2, 3))"))
        }
        if let first = used.first, used.allSatisfy({ $0 == first }) {
            markers.append(.init(x: first, label: "used \(Markup.number(first, 2))", color: "#2ca02c"))
        }
        let reached = SVGCharts.Series(name: "mean F2 of the decisions taken (\(Markup.number(s.meanF2)))", color: "#2ca02c",
                                       points: [(0, s.meanF2), (1, s.meanF2)], dashed: true)
        let yLow = max(0, floor(((sweep.map(\.1).max() ?? 1) - 0.3) * 10) / 10)
        return SVGCharts.lines([SVGCharts.Series(name: "mean F2, one threshold for all labels", color: SVGCharts.palette[0], points: sweep), reached],
                               title: "Mean F2 against a flat threshold", x: .init("threshold", range: 0...1),
                               y: .init("mean F2", range: yLow...1), markers: markers, rug: used.count > 1 ? used : [],
                               width: 460, height: 300)
    }

    static func labelTable(_ s: ReportSection) -> String {
        var html = "<table class=\"labels\"><thead><tr><th>label</th><th>support</th><th>precision</th><th>recall</th><th>F2</th>"
        html += "<th>threshold</th><th>AP</th><th>TP</th><th>FP</th><th>FN</th><th>TN</th></tr></thead><tbody>"
        for l in s.labels {
            html += "<tr><td>\(Markup.escape(l.name))</td><td class=\"n\">\(l.support)</td><td class=\"n\">\(Markup.number(l.precision))</td>"
            html += "<td class=\"n\">\(Markup.number(l.recall))</td><td class=\"n f2\" style=\"--f: \(Markup.number(l.f2, 3))\">\(Markup.number(l.f2))</td>"
            html += "<td class=\"n\">\(Markup.number(l.threshold.map(Double.init), 3))</td><td class=\"n\">\(Markup.number(l.averagePrecision))</td>"
            html += "<td class=\"n\">\(l.truePositives)</td><td class=\"n\">\(l.falsePositives)</td><td class=\"n\">\(l.falseNegatives)</td><td class=\"n\">\(l.trueNegatives)</td></tr>"
        }
        return html + "</tbody></table>"
    }

    static func training(_ curves: [TrainingCurve]) -> String {
        guard !curves.isEmpty else { return "" }
        var html = "<section id=\"training\"><h2>Training</h2><div class=\"panels\">"
        for curve in curves {
            let epochs = curve.points.map { Double($0.epoch) }
            let train = SVGCharts.Series(name: "train loss", color: SVGCharts.palette[0], points: Array(zip(epochs, curve.points.map(\.trainLoss))), markers: true)
            let validation = SVGCharts.Series(name: "validation loss", color: SVGCharts.palette[1],
                                              points: curve.points.compactMap { p in p.validationLoss.map { (Double(p.epoch), $0) } }, dashed: true, markers: true)
            let f2 = SVGCharts.Series(name: "validation mean F2", color: SVGCharts.palette[2],
                                      points: curve.points.compactMap { p in p.validationMeanF2.map { (Double(p.epoch), $0) } }, markers: true)
            let seconds = curve.points.map(\.seconds).filter(\.isFinite).reduce(0, +)
            html += "<div class=\"panel\"><h3>\(Markup.escape(curve.model)) · fold \(curve.fold) <small>\(curve.points.count) epochs, \(Markup.number(seconds, 0)) s</small></h3>"
            let epochAxis = SVGCharts.Axis("epoch", range: 0...Double(max(curve.points.map(\.epoch).max() ?? 1, 1)))
            html += SVGCharts.lines([train, validation], title: "loss", x: epochAxis, y: .init("loss"), width: 265, height: 210)
            html += SVGCharts.lines([f2], title: "validation mean F2", x: epochAxis, y: .init("mean F2"), width: 265, height: 210)
            html += "</div>"
        }
        return html + "</div></section>\n"
    }

    static func samples(_ chips: [SampleChip], imageRoot: String?, side: Int) -> String {
        guard !chips.isEmpty else { return "" }
        var html = "<section id=\"samples\"><h2>Sample chips</h2><p class=\"legend\"><span class=\"tag ok\">correct</span> "
        html += "<span class=\"tag miss\">missed</span> <span class=\"tag extra\">false alarm</span> <span class=\"tag pred\">predicted (no truth)</span>"
        html += " · numbers are probabilities</p><div class=\"chip-grid\">"
        for chip in chips {
            html += "<figure class=\"chip\">"
            var path = chip.imagePath
            if let imageRoot, !path.hasPrefix("/") { path = imageRoot + "/" + path }
            do {
                let png = try Thumbnails.png(path: path, maximumSide: side)
                html += "<img src=\"data:image/png;base64,\(Thumbnails.base64(png))\" alt=\"\(Markup.escape(chip.name))\" width=\"128\" height=\"128\"/>"
            } catch {
                html += "<div class=\"placeholder\">cannot show this chip: \(Markup.escape(String(describing: error)))</div>"
            }
            html += "<figcaption><b>\(Markup.escape(chip.name))</b><br/>" + tags(chip) + "</figcaption></figure>"
        }
        return html + "</div></section>\n"
    }

    /// Tags in label order: correct, missed and false alarm, each coloured, with its probability.
    static func tags(_ chip: SampleChip) -> String {
        var spans: [String] = []
        for label in 0..<PlanetLabels.count {
            let predicted = chip.predicted.contains(label)
            let cls: String
            if let truth = chip.truth {
                switch (truth.contains(label), predicted) {
                case (true, true): cls = "ok"
                case (true, false): cls = "miss"
                case (false, true): cls = "extra"
                case (false, false): continue
                }
            } else {
                guard predicted else { continue }
                cls = "pred"
            }
            var text = Markup.escape(PlanetLabels.names[label])
            if let p = chip.probabilities, label < p.count { text += " <small>\(Markup.number(Double(p[label]), 2))</small>" }
            spans.append("<span class=\"tag \(cls)\">\(text)</span>")
        }
        return spans.isEmpty ? "<span class=\"none\">no tags</span>" : spans.joined(separator: " ")
    }

    static func signed(_ value: Double) -> String {
        guard value.isFinite else { return "—" }
        return (value >= 0 ? "+" : "−") + Markup.number(abs(value))
    }

    static let css = """
    :root{--ink:#1d2430;--muted:#5b6573;--line:#dde2e8;--bg:#f6f8fa;--ok:#1a7f37;--miss:#cf222e;--extra:#d9822b;--pred:#2f6f9f}
    *{box-sizing:border-box}
    body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
    main{max-width:1240px;margin:0 auto;padding:24px}
    header h1{margin:0 0 4px;font-size:26px}
    .by{margin:0 0 8px;color:var(--muted)}
    code{background:#eef1f4;padding:1px 5px;border-radius:4px}
    .dataset{margin:0 0 12px;padding-left:18px;color:var(--muted)}
    .cards{display:flex;gap:12px;flex-wrap:wrap;margin:12px 0}
    .card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px 14px;min-width:200px}
    .card .k{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.03em}
    .card .v{font-size:24px;font-weight:600}
    .card small{font-size:13px;font-weight:400;color:var(--muted);margin-left:6px}
    section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:14px 18px;margin:16px 0}
    h2{font-size:19px;margin:4px 0 10px;display:inline-block}
    h3{font-size:15px;margin:12px 0 6px}
    summary{cursor:pointer;list-style-position:outside}
    summary h2{margin-right:12px}
    .kind{font-size:12px;font-weight:500;color:#fff;background:var(--muted);border-radius:10px;padding:1px 8px;vertical-align:middle}
    .stats{color:var(--muted)}
    table{border-collapse:collapse;font-variant-numeric:tabular-nums;margin:8px 0}
    th,td{padding:3px 9px;border-bottom:1px solid var(--line);text-align:left}
    th{background:#f0f3f6;font-weight:600}
    td.n,th:not(:first-child){text-align:right}
    tr.best td{font-weight:600;background:#eaf5ec}
    td.f2{background:linear-gradient(90deg,#cfe3f3 calc(var(--f)*100%),transparent calc(var(--f)*100%))}
    .row,.small-multiples,.panels{display:flex;flex-wrap:wrap;gap:10px;align-items:flex-start}
    .panel{border:1px solid var(--line);border-radius:6px;padding:4px 8px}
    .panel h3 small{color:var(--muted);font-weight:400}
    svg.chart{background:#fff;font-size:11px;vertical-align:top}
    svg .title{font-size:12.5px;font-weight:600;fill:var(--ink)}
    svg .tick,svg .value{fill:var(--muted);font-size:10px}
    svg .label,svg .legend{fill:var(--ink);font-size:11px}
    svg .axis-label{fill:var(--muted);font-size:11px}
    svg .marker-label{font-size:10.5px}
    svg .grid{stroke:#eceff3}
    svg .axis{stroke:#8a94a1}
    svg .rug{stroke:#b3261e;stroke-width:1.2}
    .hint,.legend{color:var(--muted);font-size:12.5px}
    .chip-grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(190px,1fr));gap:12px}
    figure.chip{margin:0;border:1px solid var(--line);border-radius:6px;padding:8px;background:#fff}
    figure.chip img,.placeholder{display:block;width:128px;height:128px;border-radius:4px;margin-bottom:6px}
    .placeholder{background:repeating-linear-gradient(45deg,#f3f3f3,#f3f3f3 8px,#e9e9e9 8px,#e9e9e9 16px);color:var(--miss);font-size:11px;padding:6px;overflow:hidden;word-break:break-all}
    figcaption{font-size:12px;line-height:1.7}
    .tag{display:inline-block;border-radius:4px;padding:0 5px;color:#fff;white-space:nowrap;line-height:1.5}
    .tag small{opacity:.85}
    .tag.ok{background:var(--ok)}.tag.miss{background:var(--miss)}.tag.extra{background:var(--extra)}.tag.pred{background:var(--pred)}
    .none{color:var(--muted)}
    """
}

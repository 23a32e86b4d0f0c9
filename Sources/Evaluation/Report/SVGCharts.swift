import Foundation

/// Text put into HTML or SVG: `& < > " '` escaped.
public enum Markup {
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    /// `value` with `digits` decimals; "—" for nil or a value that is not finite.
    public static func number(_ value: Double?, _ digits: Int = 4) -> String {
        guard let value, value.isFinite else { return "—" }
        return String(format: "%.\(digits)f", value)
    }
}

/// Small SVG charts as pure functions: data in, one `<svg>` element out (well-formed XML, its own
/// xmlns, no script, no external reference). Bars carry `class="bar"`, line series are
/// `<polyline class="series">` with one point per datum, markers are `<circle class="point">`.
public enum SVGCharts {
    /// A line of points; `markers` draws a dot at each point.
    public struct Series: Sendable {
        public var name: String
        public var color: String
        public var points: [(x: Double, y: Double)]
        public var dashed: Bool
        public var markers: Bool

        public init(name: String, color: String, points: [(x: Double, y: Double)], dashed: Bool = false, markers: Bool = false) {
            self.name = name
            self.color = color
            self.points = points
            self.dashed = dashed
            self.markers = markers
        }
    }

    /// An axis: its caption and the range it shows; nil range means "fit the data".
    public struct Axis: Sendable {
        public var label: String
        public var range: ClosedRange<Double>?

        public init(_ label: String, range: ClosedRange<Double>? = nil) {
            self.label = label
            self.range = range
        }
    }

    /// A vertical line across the plot at `x`, captioned.
    public struct Marker: Sendable {
        public var x: Double
        public var label: String
        public var color: String

        public init(x: Double, label: String, color: String = "#b3261e") {
            self.x = x
            self.label = label
            self.color = color
        }
    }

    /// Colours for series, readable on white and told apart by most colour-blind readers.
    public static let palette = ["#1f77b4", "#e6550d", "#2ca02c", "#9467bd", "#8c564b", "#d62728", "#17becf", "#7f7f7f"]

    /// Horizontal bars, one per value (top to bottom in the given order), each with its value
    /// written beside it, against an x axis from 0 to `maximum`.
    public static func horizontalBars(_ bars: [(label: String, value: Double)], title: String, maximum: Double = 1,
                                      digits: Int = 3, width: Int = 620, barColor: String = "#2f6f9f") -> String {
        let left = 150.0, right = 56.0, top = 30.0, bottom = 40.0, rowHeight = 20.0
        let height = top + bottom + rowHeight * Double(max(bars.count, 1))
        let plotWidth = Double(width) - left - right
        let scale = { (v: Double) in left + plotWidth * min(max(v, 0), maximum) / maximum }
        var svg = open(width: Double(width), height: height, title: title)
        svg += text(x: Double(width) / 2, y: 18, title, anchor: "middle", cls: "title")
        for tick in ticks(0...maximum) {
            let x = scale(tick)
            svg += line(x1: x, y1: top, x2: x, y2: height - bottom, cls: "grid")
            svg += text(x: x, y: height - bottom + 14, format(tick), anchor: "middle", cls: "tick")
        }
        for (row, bar) in bars.enumerated() {
            let y = top + rowHeight * Double(row)
            let valid = bar.value.isFinite
            let w = valid ? scale(bar.value) - left : 0
            svg += text(x: left - 6, y: y + rowHeight * 0.68, bar.label, anchor: "end", cls: "label")
            svg += "<rect class=\"bar\" x=\"\(f(left))\" y=\"\(f(y + 3))\" width=\"\(f(w))\" height=\"\(f(rowHeight - 6))\" fill=\"\(barColor)\">"
                + "<title>\(Markup.escape(bar.label)): \(Markup.number(bar.value, digits))</title></rect>"
            svg += text(x: left + w + 4, y: y + rowHeight * 0.68, Markup.number(bar.value, digits), anchor: "start", cls: "value")
        }
        svg += line(x1: left, y1: top, x2: left, y2: height - bottom, cls: "axis")
        svg += line(x1: left, y1: height - bottom, x2: Double(width) - right, y2: height - bottom, cls: "axis")
        return svg + "</svg>"
    }

    /// Lines on x/y axes with ticks, optional vertical markers, optional short ticks along the
    /// bottom (`rug`, e.g. per-label thresholds) and a legend when there is more than one series.
    public static func lines(_ series: [Series], title: String, x: Axis, y: Axis, markers: [Marker] = [],
                             rug: [Double] = [], legend: Bool = true, width: Int = 420, height: Int = 260) -> String {
        let left = 50.0, right = 14.0, top = 28.0
        let legendRows = legend && series.count > 1 ? series.count : 0
        let bottom = 42.0 + 16.0 * Double(legendRows)
        let w = Double(width), h = Double(height) + 16.0 * Double(legendRows)
        let xs = series.flatMap { $0.points.map(\.x) }.filter(\.isFinite) + markers.map(\.x) + rug
        let ys = series.flatMap { $0.points.map(\.y) }.filter(\.isFinite)
        let xRange = x.range ?? fit(xs), yRange = y.range ?? fit(ys)
        let px = { (v: Double) in left + (w - left - right) * (v - xRange.lowerBound) / (xRange.upperBound - xRange.lowerBound) }
        let py = { (v: Double) in (h - bottom) - (h - bottom - top) * (v - yRange.lowerBound) / (yRange.upperBound - yRange.lowerBound) }
        var svg = open(width: w, height: h, title: title)
        svg += text(x: w / 2, y: 18, title, anchor: "middle", cls: "title")
        for tick in ticks(xRange) {
            svg += line(x1: px(tick), y1: top, x2: px(tick), y2: h - bottom, cls: "grid")
            svg += text(x: px(tick), y: h - bottom + 14, format(tick), anchor: "middle", cls: "tick")
        }
        for tick in ticks(yRange) {
            svg += line(x1: left, y1: py(tick), x2: w - right, y2: py(tick), cls: "grid")
            svg += text(x: left - 5, y: py(tick) + 4, format(tick), anchor: "end", cls: "tick")
        }
        svg += line(x1: left, y1: top, x2: left, y2: h - bottom, cls: "axis")
        svg += line(x1: left, y1: h - bottom, x2: w - right, y2: h - bottom, cls: "axis")
        svg += text(x: (left + w - right) / 2, y: h - bottom + 30, x.label, anchor: "middle", cls: "axis-label")
        svg += "<text class=\"axis-label\" text-anchor=\"middle\" transform=\"translate(13 \(f((top + h - bottom) / 2))) rotate(-90)\">\(Markup.escape(y.label))</text>"
        for value in rug where value.isFinite {
            svg += "<line class=\"rug\" x1=\"\(f(px(value)))\" y1=\"\(f(h - bottom))\" x2=\"\(f(px(value)))\" y2=\"\(f(h - bottom - 7))\"/>"
        }
        // Lines stay inside the plot when the data leave a fixed range. The id comes from the chart's
        // content, so the function stays pure; equal charts share an equal clip.
        let clip = "clip-" + String(fnv1a(svg + series.map(\.name).joined()), radix: 36)
        svg += "<clipPath id=\"\(clip)\"><rect x=\"\(f(left))\" y=\"\(f(top - 3))\" width=\"\(f(w - left - right + 3))\" height=\"\(f(h - bottom - top + 6))\"/></clipPath>"
        svg += "<g clip-path=\"url(#\(clip))\">"
        for (k, s) in series.enumerated() {
            let points = s.points.filter { $0.x.isFinite && $0.y.isFinite }
            let coordinates = points.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ")
            svg += "<polyline class=\"series\" data-series=\"\(k)\" fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"1.8\""
                + (s.dashed ? " stroke-dasharray=\"5 3\"" : "") + " points=\"\(coordinates)\"><title>\(Markup.escape(s.name))</title></polyline>"
            if s.markers {
                for p in points {
                    svg += "<circle class=\"point\" cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"2.6\" fill=\"\(s.color)\">"
                        + "<title>\(Markup.escape(s.name)) \(format(p.x)): \(Markup.number(p.y))</title></circle>"
                }
            }
        }
        svg += "</g>"
        for (k, marker) in markers.enumerated() where marker.x.isFinite {
            let mx = px(marker.x)
            svg += "<line class=\"marker\" x1=\"\(f(mx))\" y1=\"\(f(top))\" x2=\"\(f(mx))\" y2=\"\(f(h - bottom))\" stroke=\"\(marker.color)\" stroke-dasharray=\"3 2\"/>"
            let anchor = mx > w * 0.7 ? "end" : "start"
            svg += "<text class=\"marker-label\" x=\"\(f(mx + (anchor == "end" ? -4 : 4)))\" y=\"\(f(top + 11 + 13 * Double(k)))\" text-anchor=\"\(anchor)\" fill=\"\(marker.color)\">\(Markup.escape(marker.label))</text>"
        }
        for (k, s) in series.enumerated() where legendRows > 0 {
            let lx = left, ly = h - bottom + 46 + 16 * Double(k)
            svg += "<line x1=\"\(f(lx))\" y1=\"\(f(ly - 4))\" x2=\"\(f(lx + 18))\" y2=\"\(f(ly - 4))\" stroke=\"\(s.color)\" stroke-width=\"2\""
                + (s.dashed ? " stroke-dasharray=\"5 3\"" : "") + "/>"
            svg += text(x: lx + 23, y: ly, s.name, anchor: "start", cls: "legend")
        }
        return svg + "</svg>"
    }

    // MARK: pieces

    static func open(width: Double, height: Double, title: String) -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"\(f(width))\" height=\"\(f(height))\" viewBox=\"0 0 \(f(width)) \(f(height))\" role=\"img\" aria-label=\"\(Markup.escape(title))\">"
    }

    static func text(x: Double, y: Double, _ content: String, anchor: String, cls: String) -> String {
        "<text class=\"\(cls)\" x=\"\(f(x))\" y=\"\(f(y))\" text-anchor=\"\(anchor)\">\(Markup.escape(content))</text>"
    }

    static func line(x1: Double, y1: Double, x2: Double, y2: Double, cls: String) -> String {
        "<line class=\"\(cls)\" x1=\"\(f(x1))\" y1=\"\(f(y1))\" x2=\"\(f(x2))\" y2=\"\(f(y2))\"/>"
    }

    /// 64-bit FNV-1a of the text's UTF-8.
    static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash
    }

    /// One decimal: enough for pixel coordinates.
    static func f(_ v: Double) -> String { String(format: "%.1f", v.isFinite ? v : 0) }

    /// A tick value without trailing zeros: 0, 0.2, 1.5, 12.
    static func format(_ v: Double) -> String {
        var s = String(format: "%.4g", abs(v) < 1e-12 ? 0 : v)
        if s.contains(".") && !s.contains("e") {
            while s.hasSuffix("0") { s.removeLast() }
            if s.hasSuffix(".") { s.removeLast() }
        }
        return s
    }

    /// A range covering `values` with a little room, rounded to nice steps; [0, 1] when empty.
    static func fit(_ values: [Double]) -> ClosedRange<Double> {
        guard let low = values.min(), let high = values.max() else { return 0...1 }
        if low == high { return (low - 0.5)...(high + 0.5) }
        let step = niceStep((high - low) / 5)
        return (floor(low / step) * step)...(ceil(high / step) * step)
    }

    /// About five evenly spaced round values inside `range`.
    static func ticks(_ range: ClosedRange<Double>) -> [Double] {
        let span = range.upperBound - range.lowerBound
        guard span > 0, span.isFinite else { return [range.lowerBound] }
        let step = niceStep(span / 5)
        var values: [Double] = []
        var v = ceil(range.lowerBound / step - 1e-9) * step
        while v <= range.upperBound + step * 1e-6 && values.count < 50 {
            values.append(v)
            v += step
        }
        return values
    }

    /// 1, 2 or 5 times a power of ten, at least `raw`.
    static func niceStep(_ raw: Double) -> Double {
        let power = pow(10, floor(log10(raw)))
        let fraction = raw / power
        return (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * power
    }
}

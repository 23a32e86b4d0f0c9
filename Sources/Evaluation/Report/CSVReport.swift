import Foundation

/// `report.csv`: a header, then one row per section x label.
public enum CSVReport {
    public static let header = ["section", "kind", "chips", "section_mean_f2", "section_micro_f2", "section_macro_f2",
                                "label", "support", "precision", "recall", "f2", "threshold", "average_precision",
                                "tp", "fp", "fn", "tn"]

    public static func render(_ report: RunReport) -> String {
        var csv = header.joined(separator: ",") + "\n"
        for section in report.sections {
            for l in section.labels {
                let fields: [String] = [
                    field(section.name), section.kind.rawValue, "\(section.chips)",
                    plain(section.meanF2), plain(section.microF2), plain(section.macroF2),
                    l.name, "\(l.support)", plain(l.precision), plain(l.recall), plain(l.f2),
                    plain(l.threshold.map(Double.init)), plain(l.averagePrecision),
                    "\(l.truePositives)", "\(l.falsePositives)", "\(l.falseNegatives)", "\(l.trueNegatives)",
                ]
                csv += fields.joined(separator: ",") + "\n"
            }
        }
        return csv
    }

    /// Six decimals; empty for nil or a value that is not finite.
    static func plain(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "" }
        return Markup.number(value, 6)
    }

    /// RFC 4180 quoting when the text needs it.
    static func field(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

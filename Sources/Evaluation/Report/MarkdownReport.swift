import Foundation
import PlanetData

/// `report.md`: the methods table (out-of-fold and test mean F2), then per section its summary
/// scores and a 17-row per-label table, then training summaries, samples and notes.
public enum MarkdownReport {
    public static func render(_ report: RunReport) -> String {
        var md = "# \(cell(report.title))\n\n"
        md += "Made by `\(report.createdBy.replacingOccurrences(of: "`", with: "'"))`.\n\n"
        for line in report.dataset { md += "- \(line)\n" }
        if !report.dataset.isEmpty { md += "\n" }

        if !report.methods.isEmpty {
            let hasTest = report.methods.contains { $0.testMeanF2 != nil }
            md += "## Methods\n\n"
            md += hasTest ? "| method | out-of-fold mean F2 | test mean F2 |\n| --- | ---: | ---: |\n"
                          : "| method | out-of-fold mean F2 |\n| --- | ---: |\n"
            for m in report.methods {
                md += "| \(cell(m.method)) | \(Markup.number(m.outOfFoldMeanF2)) |"
                md += hasTest ? " \(Markup.number(m.testMeanF2)) |\n" : "\n"
            }
            md += "\n"
        }

        for section in report.sections {
            md += "## \(cell(section.name))\n\n"
            md += "\(section.kind.rawValue), \(section.chips) chips: mean F2 (by chip) **\(Markup.number(section.meanF2))**, "
            md += "micro F2 \(Markup.number(section.microF2)), macro F2 \(Markup.number(section.macroF2))"
            if let best = section.bestFlatThreshold {
                md += "; best flat threshold \(Markup.number(Double(best.threshold), 2)) gives \(Markup.number(best.meanF2))"
            }
            md += ".\n\n"
            md += "| label | support | precision | recall | F2 | threshold | AP | TP | FP | FN | TN |\n"
            md += "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
            for l in section.labels {
                md += "| \(l.name) | \(l.support) | \(Markup.number(l.precision)) | \(Markup.number(l.recall)) | \(Markup.number(l.f2)) "
                md += "| \(Markup.number(l.threshold.map(Double.init), 3)) | \(Markup.number(l.averagePrecision)) "
                md += "| \(l.truePositives) | \(l.falsePositives) | \(l.falseNegatives) | \(l.trueNegatives) |\n"
            }
            md += "\n"
        }

        if !report.training.isEmpty {
            md += "## Training\n\n| model | fold | epochs | last train loss | last validation loss | best validation mean F2 | seconds |\n"
            md += "| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n"
            for curve in report.training {
                let last = curve.points.last
                let best = curve.points.compactMap(\.validationMeanF2).filter(\.isFinite).max()
                let seconds = curve.points.map(\.seconds).filter(\.isFinite).reduce(0, +)
                md += "| \(cell(curve.model)) | \(curve.fold) | \(curve.points.count) | \(Markup.number(last?.trainLoss)) "
                md += "| \(Markup.number(last?.validationLoss)) | \(Markup.number(best)) | \(Markup.number(seconds, 1)) |\n"
            }
            md += "\n"
        }

        if !report.samples.isEmpty {
            md += "## Sample chips\n\n| chip | true tags | predicted tags | missed | false alarms |\n| --- | --- | --- | --- | --- |\n"
            for chip in report.samples {
                let missed = chip.truth.map { LabelSet(mask: $0.mask & ~chip.predicted.mask).tags } ?? ""
                let extra = chip.truth.map { LabelSet(mask: chip.predicted.mask & ~$0.mask).tags } ?? ""
                md += "| \(cell(chip.name)) | \(chip.truth?.tags ?? "(unlabelled)") | \(chip.predicted.tags) | \(missed) | \(extra) |\n"
            }
            md += "\n"
        }

        if !report.notes.isEmpty {
            md += "## Notes\n\n"
            for note in report.notes { md += "- \(note)\n" }
        }
        return md
    }

    /// Text safe inside a table cell or heading: pipes escaped, line breaks flattened.
    static func cell(_ text: String) -> String {
        text.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
    }
}

import Foundation
import Support

/// Writes a run's report into a folder: `report.md`, `report.csv`, `metrics.json` and `report.html`,
/// each through `AtomicFile` (temporary name, fsync, rename), so a crash never leaves half a file.
public enum ReportWriter {
    public static let markdownName = "report.md"
    public static let csvName = "report.csv"
    public static let jsonName = "metrics.json"
    public static let htmlName = "report.html"

    /// Writes the four files into `folder` (made when missing) and returns their paths. Sample chips
    /// with relative paths are looked up under `imageRoot` when given.
    @discardableResult
    public static func write(_ report: RunReport, to folder: String, imageRoot: String? = nil) throws -> [String] {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let base = folder.hasSuffix("/") ? folder : folder + "/"
        let files: [(String, [UInt8])] = [
            (markdownName, Array(MarkdownReport.render(report).utf8)),
            (csvName, Array(CSVReport.render(report).utf8)),
            (jsonName, try json(report)),
            (htmlName, Array(HTMLReport.render(report, imageRoot: imageRoot).utf8)),
        ]
        for (name, bytes) in files { try AtomicFile.write(bytes, to: base + name) }
        return files.map { base + $0.0 }
    }

    /// The report as pretty JSON with sorted keys. Numbers that are not finite never make it throw:
    /// the model keeps undefined average precision as absent and diverged losses as null, and any
    /// other stray value is written as the string "NaN", "Infinity" or "-Infinity" (read back by
    /// `decode`).
    public static func json(_ report: RunReport) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return Array(try encoder.encode(report)) + [UInt8(ascii: "\n")]
    }

    /// Reads `metrics.json` bytes back into a report.
    public static func decode(_ bytes: [UInt8]) throws -> RunReport {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return try decoder.decode(RunReport.self, from: Data(bytes))
    }
}

import ArgumentParser
import Benchmarks
import Foundation
import ImageIO

/// `canopy bench decode`: JPEG chips/s through Canopy and through bare libjpeg-turbo.
struct BenchDecode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "JPEG decode chips/s at full and half scale, Canopy beside plain libjpeg-turbo, one thread.",
        discussion: "Files are read into memory first (disk excluded). Each round runs both decoders over every file, alternating which goes first; the table shows medians over rounds."
    )

    @Argument(help: "JPEG files or folders (default: datasets/planet-sample).")
    var paths: [String] = ["datasets/planet-sample"]

    @Option(help: "Timed rounds per scale (after one warm-up round).")
    var rounds = 15

    @Option(help: "Repeat the file list this many times per round, for steadier timings on few files.")
    var repeats = 5

    @Flag(help: "Print one JSON object per scale after the table.")
    var json = false

    func validate() throws {
        guard rounds > 0, repeats > 0 else { throw ValidationError("--rounds and --repeats must be positive") }
    }

    func run() throws {
        let files = try ImageFiles.expand(paths).filter {
            ["jpg", "jpeg"].contains(($0 as NSString).pathExtension.lowercased())
        }
        guard !files.isEmpty else { throw ValidationErrorMessage("no .jpg files under \(paths.joined(separator: " "))") }
        let benchmark = try DecodeBenchmark(files: Array(repeating: files, count: repeats).flatMap { $0 }, rounds: rounds)
        print("\(files.count) JPEG files x \(repeats), \(rounds) rounds, 1 thread, medians")
        print("scale\tcanopy chips/s\tlibjpeg-turbo chips/s\tcanopy/libjpeg-turbo")
        let rows = benchmark.run()
        for row in rows {
            print("1/\(row.scale.rawValue)\t\(Int(row.canopyChipsPerSecond.rounded()))\t\(Int(row.referenceChipsPerSecond.rounded()))\t\(String(format: "%.3f", row.ratio))")
        }
        if json {
            for row in rows {
                print(jsonLine(DecodeJSON(row)))
            }
        }
    }
}

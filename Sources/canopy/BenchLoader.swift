import ArgumentParser
import Benchmarks
import Foundation
import PlanetData

/// `canopy bench loader DIR`: the streaming loader beside plain decoding, and its memory when streaming.
struct BenchLoader: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loader",
        abstract: "Loader chips/s (decode + crop + D4 + jitter + normalise + batch) beside plain decode, per size and worker count.",
        discussion: """
            With --stream N: streams N chips through the loader (2 workers by default) and prints the peak \
            resident memory; run it on a 2,000-chip and a 20,000-chip dataset to see that memory does not grow \
            with the data (benchmarks/loader-memory.sh does both).
            """
    )

    @Argument(help: "Dataset folder (e.g. one written by canopy synth).") var root: String
    @Option(help: "Input sizes, comma-separated.") var sizes = "128,256"
    @Option(help: "Worker counts, comma-separated.") var workers = "1,2"
    @Option(help: "Timed rounds (medians are shown).") var rounds = 3
    @Option(help: "Use at most this many training chips.") var chips = 2000
    @Option(help: "Batch size.") var batch = 32
    @Option(help: "Stream this many chips and report peak memory instead of the table.") var stream: Int?
    @Flag(help: "JSON lines after the table.") var json = false

    func validate() throws {
        guard rounds > 0, chips > 0, batch > 0 else { throw ValidationError("--rounds, --chips and --batch must be positive") }
        guard parse(sizes) != nil, parse(workers) != nil else { throw ValidationError("--sizes and --workers take positive integers, comma-separated") }
    }

    private func parse(_ list: String) -> [Int]? {
        let values = list.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) > 0 }) else { return nil }
        return values.map { $0! }
    }

    func run() throws {
        let dataset = try PlanetDataset.open(root: root, bands: .rgb, missingFiles: .report)
        let selected = Array(dataset.train.prefix(chips))
        let benchmark = LoaderBenchmark(chips: selected, sizes: parse(sizes)!, workerCounts: parse(workers)!, rounds: rounds, batchSize: batch)
        if let stream {
            let size = parse(sizes)!.first!, workerCount = parse(workers)!.last!
            let (rate, peak) = try benchmark.stream(count: stream, size: size, workers: workerCount)
            print(String(format: "streamed %d chips from a %d-chip dataset at %d px, %d workers: %.0f chips/s, peak RSS %.1f MB",
                         stream, dataset.train.count, size, workerCount, rate, peak))
            if json {
                print(jsonLine(LoaderStreamJSON(chips: stream, datasetChips: dataset.train.count, size: size, workers: workerCount,
                                                chipsPerSecond: rate, peakRssMb: peak)))
            }
            return
        }
        print("\(selected.count) chips of \(root), batch \(batch), medians of \(rounds) rounds (chips/s)")
        print("size\tvariant\tworkers\tchips/s\tvs decode")
        let rows = try benchmark.run()
        for row in rows {
            let decode = rows.first { $0.size == row.size && $0.variant == "decode" }!.chipsPerSecond
            print("\(row.size)\t\(row.variant)\t\(row.workers)\t\(String(format: "%.0f", row.chipsPerSecond))\t\(String(format: "%.2f", row.chipsPerSecond / decode))")
        }
        if json {
            for row in rows {
                print(jsonLine(row))
            }
        }
    }
}

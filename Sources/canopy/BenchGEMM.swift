import ArgumentParser
import Benchmarks
import Foundation
import Tensor

/// `canopy bench gemm`: few-column (or few-row) products on one thread, whole against in blocks.
struct BenchGEMM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gemm",
        abstract: "Products of few columns (or few rows) on one thread: one cblas_sgemm call against the blocks OpenBLAS multiplies without packing.",
        discussion: "Each pass multiplies about 8 MB of different A matrices by one B (as a layer's weights come from memory); each round times both ways, alternating which goes first; the table shows medians. Shapes are MxKxN, with a trailing t where A is stored transposed."
    )

    @Option(help: "Timed rounds.") var rounds = 7
    @Option(name: .customLong("shape"), help: "A shape MxKxN[t] (repeatable; default: the engine's measured set).")
    var shapes: [String] = []

    func validate() throws {
        guard rounds > 0 else { throw ValidationError("rounds > 0") }
        for text in shapes where GEMMBlocksBenchmark.Shape(text) == nil {
            throw ValidationError("shape '\(text)': expected MxKxN or MxKxNt with positive sizes, e.g. 512x512x32")
        }
    }

    func run() throws {
        let chosen = shapes.isEmpty ? GEMMBlocksBenchmark.defaultShapes : shapes.compactMap(GEMMBlocksBenchmark.Shape.init)
        print("sgemm on 1 thread, medians of \(rounds) rounds (GFLOP/s)")
        print(["MxKxN", "A matrices", "one call", "in blocks", "blocks / one"].joined(separator: "\t"))
        for row in GEMMBlocksBenchmark(shapes: chosen, rounds: rounds).run() {
            print([row.shape.name, "\(row.matrices)", String(format: "%.1f", row.wholeGflops), String(format: "%.1f", row.blocksGflops),
                   String(format: "%.2fx", row.blocksGflops / row.wholeGflops)].joined(separator: "\t"))
        }
    }
}

import ArgumentParser

/// `canopy bench ...`: side-by-side speed measurements (ratios in one run, never absolute timings).
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks that put Canopy beside a reference in the same run.",
        subcommands: [BenchTrain.self, BenchInfer.self, BenchLoader.self, BenchDecode.self, BenchKernels.self, BenchGEMM.self, BenchAllreduce.self]
    )
}

import ArgumentParser
import Benchmarks
import Foundation
import Tensor

/// `canopy bench kernels`: convolution GFLOP/s beside plain sgemm on the same GEMM shapes.
struct BenchKernels: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "Convolution forward/backward GFLOP/s beside cblas_sgemm on the same GEMM shapes (ResNet-18 convolutions).",
        discussion: "Each round times every variant once, rotating the order; the table shows medians. 'per-image' is the forward pass done one image per GEMM, as an NCHW engine would."
    )

    @Option(help: "Input size in pixels.") var size = 128
    @Option(help: "Batch size.") var batch = 32
    @Option(help: "OpenBLAS threads.") var threads = 2
    @Option(help: "Timed rounds.") var rounds = 5
    @Option(help: "Unfolded-input buffer a GEMM group aims for, in MB (default: the engine's).") var groupMb: Int?
    @Option(help: "Fewest GEMM columns per group (default: the engine's).") var minimumColumns: Int?
    @Option(help: "Winograd's transformed input and output per group, in MB (default: the engine's).") var winogradMb: Int?
    @Option(help: "Fewest channels each way for Winograd (default: the engine's).") var winogradChannels: Int?
    @Option(help: "Fewest output pixels per image for Winograd (default: the engine's).") var winogradPixels: Int?
    @Option(help: "Winograd algorithm (default: the engine's; 'fwd direct', 'bwd direct' and 'bwd by fold' use neither it nor the small-map GEMM).") var winograd: WinogradChoice?
    @Option(help: "Only shapes whose name starts with this (e.g. conv1, layer3).") var only: String?
    @Flag(help: "One JSON object per shape after the table.") var json = false

    func validate() throws {
        guard size >= 32, batch > 0, threads > 0, rounds > 0 else { throw ValidationError("size >= 32, batch, threads and rounds > 0") }
    }

    func run() throws {
        if !MemoryPolicy.keepLargeBuffersInHeap() { print("note: allocator tuning unavailable") }
        BLAS.threads = threads
        var settings = EngineSettings()
        settings.workers = threads
        if let groupMb { settings.convolution.targetGroupFloats = groupMb << 18 }
        if let minimumColumns { settings.convolution.minimumGroupColumns = minimumColumns }
        if let winogradMb { settings.winograd.targetGroupFloats = winogradMb << 18 }
        if let winogradChannels { settings.winograd.minimumChannels = winogradChannels }
        if let winogradPixels { settings.winograd.minimumOutputPixels = winogradPixels }
        winograd?.apply(to: &settings)
        try EngineSettings.with(settings) { try measure() }
    }

    private func measure() throws {
        let shapes = KernelBenchmark.resNet18Shapes(size: size, batch: batch).filter { only == nil || $0.name.hasPrefix(only!) }
        let benchmark = KernelBenchmark(shapes: shapes, rounds: rounds)
        print("ResNet-18 convolutions at \(size) px, batch \(batch), \(threads) threads, medians of \(rounds) rounds (GFLOP/s)")
        let header = ["shape", "GEMM MxNxK", "fwd", "fwd sgemm", "fwd %", "bwd", "bwd sgemm", "bwd %", "per-image fwd", "bwd by fold", "fwd direct", "bwd direct"]
        print(header.joined(separator: "\t"))
        let rows = benchmark.run()
        for row in rows {
            let g = row.shape.geometry, (ho, wo) = row.shape.output
            let gemmShape = "\(g.outChannels)x\(row.shape.batch * ho * wo)x\(g.patchSize)"
            print([row.shape.name, gemmShape, fmt(row.forwardGflops), fmt(row.forwardSgemmGflops),
                   percent(row.forwardGflops / row.forwardSgemmGflops), fmt(row.backwardGflops), fmt(row.backwardSgemmGflops),
                   percent(row.backwardGflops / row.backwardSgemmGflops), fmt(row.perImageForwardGflops),
                   fmt(row.foldBackwardGflops), fmt(row.directForwardGflops), fmt(row.directBackwardGflops)].joined(separator: "\t"))
        }
        if json {
            for row in rows {
                print(jsonLine(row))
            }
        }
    }

    private func fmt(_ value: Double) -> String { String(format: "%.1f", value) }
    private func percent(_ value: Double) -> String { String(format: "%.0f%%", value * 100) }
}

/// `--winograd` of the bench commands: an algorithm, or off.
enum WinogradChoice: String, CaseIterable, ExpressibleByArgument {
    case off, f2x2, f4x4

    /// Makes it `settings`' choice.
    func apply(to settings: inout EngineSettings) {
        switch self {
        case .off: settings.winograd.enabled = false
        case .f2x2: (settings.winograd.enabled, settings.winograd.variant) = (true, .f2x2)
        case .f4x4: (settings.winograd.enabled, settings.winograd.variant) = (true, .f4x4)
        }
    }
}

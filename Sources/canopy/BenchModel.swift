import ArgumentParser
import Benchmarks
import Foundation
import Tensor

/// The flags `canopy bench train` and `canopy bench infer` share.
extension ModelBenchmark.OptimizerChoice: ExpressibleByArgument {}

struct ModelBenchmarkOptions: ParsableArguments {
    @Option(help: "Backbone (see canopy models).") var model = "resnet18"
    @Option(help: "Input size in pixels.") var size = 128
    @Option(help: "Batch size.") var batch = 32
    @Option(help: "Bands (3 or 4).") var bands = 3
    @Option(help: "Threads (OpenBLAS and Canopy's kernels).") var threads = 2
    @Option(help: "Timed steps (the median is reported).") var steps = 10
    @Option(help: "Untimed warm-up steps.") var warmup = 2
    @Flag(help: "A last line of JSON: images_per_second, gflops, peak_rss_mb, ...") var json = false
    @Flag(help: "After the timed steps, as many more with every layer timed; prints where a step's time goes.") var profile = false
    @Option(help: "Winograd algorithm for 3x3 stride-1 convolutions (default: the engine's).") var winograd: WinogradChoice?
    @Option(help: "Small-map convolutions (3x3 on 2x2 or 1x1 maps, strided ones to 8x8 inputs, stride-1 4x4 maps in training) by their taps' GEMMs, or by Winograd and the unfolded GEMM (default: on).")
    var smallMaps = Switch.on
    @Option(help: "Inference: batch norm, ReLU, residual sum (and a stem's max pool) in the convolution's output pass, or each layer's own pass (default: on).")
    var fusedEpilogues = Switch.on
    @Option(help: "On one thread, products of few columns (or few rows) in blocks that OpenBLAS multiplies without packing, or each in one call (default: on).")
    var gemmBlocks = Switch.on
    @Option(help: "Training's optimiser: sgd (momentum 0.9, as the peers' benchmarks) or adam (as the shipped recipes).")
    var optimizer = ModelBenchmark.OptimizerChoice.sgd

    func validate() throws {
        guard size >= 32, batch > 0, threads > 0, steps > 0, warmup >= 0, [3, 4].contains(bands) else {
            throw ValidationError("size >= 32; batch, threads, steps > 0; warm-up >= 0; bands 3 or 4")
        }
    }

    func run(_ mode: String, _ body: (ModelBenchmark) throws -> ModelBenchmark.Result) throws {
        BLAS.threads = threads
        var settings = EngineSettings()
        settings.workers = threads
        winograd?.apply(to: &settings)
        settings.smallMaps.enabled = smallMaps == .on
        settings.fusedInferenceEpilogues = fusedEpilogues == .on
        settings.gemmBlocks = gemmBlocks == .on
        var benchmark = ModelBenchmark(model: model, size: size, batch: batch, bands: bands, steps: steps, warmup: warmup)
        benchmark.profile = profile
        benchmark.optimizer = optimizer
        let result = try EngineSettings.with(settings) { try body(benchmark) }
        if !result.profile.isEmpty { printProfile(result, training: mode == "train") }
        print(String(format: "%@ %@ at %d px, batch %d, %d threads: %.1f images/s, %.1f GFLOP/s, peak RSS %.0f MB (median of %d steps)",
                     model, mode, size, batch, threads, result.imagesPerSecond, result.gflops, result.peakRSSMegabytes, steps))
        if json {
            print(jsonLine(ModelBenchmarkJSON(mode: mode, model: model, size: size, batch: batch, threads: threads,
                                              imagesPerSecond: result.imagesPerSecond, gflops: result.gflops, peakRssMb: result.peakRSSMegabytes)))
        }
    }
}

/// A flag's on or off.
enum Switch: String, CaseIterable, ExpressibleByArgument {
    case on, off
}

/// The per-layer table of `--profile`: milliseconds per step, forward and backward, and the share of
/// the step; rows under 0.5% are summed into one line.
func printProfile(_ result: ModelBenchmark.Result, training: Bool) {
    let steps = Double(result.profiledSteps), step = result.profiledSeconds / steps * 1000
    print(String(format: "profile: %d steps, %.1f ms per step (timing every layer adds a little)", result.profiledSteps, step))
    print("layer (kind, channels or kernel, input → output size)            per step  forward ms  backward ms   share  kept MB")
    var small = (count: 0, forward: 0.0, backward: 0.0)
    var leaves = 0.0
    for row in result.profile {
        let forward = row.forwardSeconds / steps * 1000, backward = row.backwardSeconds / steps * 1000
        leaves += forward + backward
        if (forward + backward) / step < 0.005 {
            small = (small.count + 1, small.forward + forward, small.backward + backward)
            continue
        }
        print(String(format: "%@ %8d  %10.2f  %11.2f  %5.1f%%  %7.1f", row.name.padding(toLength: 64, withPad: " ", startingAt: 0),
                     row.calls / result.profiledSteps, forward, backward, (forward + backward) / step * 100,
                     Double(row.forwardHeapGrowth) / steps / 1_048_576))
    }
    if small.count > 0 {
        print(String(format: "%@ %8@  %10.2f  %11.2f  %5.1f%%", "\(small.count) more rows under 0.5% each".padding(toLength: 64, withPad: " ", startingAt: 0),
                     "", small.forward, small.backward, (small.forward + small.backward) / step * 100))
    }
    let optimizer = result.optimizerSeconds / steps * 1000
    if training {
        print(String(format: "%@ %8@  %23.2f  %5.1f%%", "optimiser step".padding(toLength: 64, withPad: " ", startingAt: 0),
                     "", optimizer, optimizer / step * 100))
    }
    let outside = training ? "not in a layer: sums, concatenation, loss, zeroing the gradients" : "not in a layer: residual sums, concatenation, sigmoid"
    print(String(format: "%@ %8@  %23.2f  %5.1f%%", outside.padding(toLength: 64, withPad: " ", startingAt: 0),
                 "", step - leaves - optimizer, (step - leaves - optimizer) / step * 100))
    if let peak = result.peakHeapInUse, let held = result.heapSize {
        print(String(format: "memory: at most %.0f MB in allocated blocks, after %@; the allocator holds %.0f MB",
                     Double(peak.bytes) / 1_048_576, peak.after, Double(held) / 1_048_576))
    }
}

struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "train", abstract: "Training steps per second of a backbone on random data (BCE, SGD with momentum).")
    @OptionGroup var options: ModelBenchmarkOptions
    func run() throws { try options.run("train") { try $0.train() } }
}

struct BenchInfer: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "infer", abstract: "Inference (no TTA) images per second of a backbone on random data.")
    @OptionGroup var options: ModelBenchmarkOptions
    func run() throws { try options.run("predict") { try $0.infer() } }
}

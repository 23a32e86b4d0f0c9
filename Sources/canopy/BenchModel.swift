import ArgumentParser
import Benchmarks
import Foundation
import Tensor

/// The flags `canopy bench train` and `canopy bench infer` share.
struct ModelBenchmarkOptions: ParsableArguments {
    @Option(help: "Backbone (see canopy models).") var model = "resnet18"
    @Option(help: "Input size in pixels.") var size = 128
    @Option(help: "Batch size.") var batch = 32
    @Option(help: "Bands (3 or 4).") var bands = 3
    @Option(help: "Threads (OpenBLAS and Canopy's kernels).") var threads = 2
    @Option(help: "Timed steps (the median is reported).") var steps = 10
    @Option(help: "Untimed warm-up steps.") var warmup = 2
    @Flag(help: "A last line of JSON: images_per_second, gflops, peak_rss_mb, ...") var json = false

    func validate() throws {
        guard size >= 32, batch > 0, threads > 0, steps > 0, warmup >= 0, [3, 4].contains(bands) else {
            throw ValidationError("size >= 32; batch, threads, steps > 0; warm-up >= 0; bands 3 or 4")
        }
    }

    func run(_ mode: String, _ body: (ModelBenchmark) throws -> ModelBenchmark.Result) throws {
        BLAS.threads = threads
        Parallel.workers = threads
        let benchmark = ModelBenchmark(model: model, size: size, batch: batch, bands: bands, steps: steps, warmup: warmup)
        let result = try body(benchmark)
        print(String(format: "%@ %@ at %d px, batch %d, %d threads: %.1f images/s, %.1f GFLOP/s, peak RSS %.0f MB (median of %d steps)",
                     model, mode, size, batch, threads, result.imagesPerSecond, result.gflops, result.peakRSSMegabytes, steps))
        if json {
            print("{\"framework\":\"canopy\",\"mode\":\"\(mode)\",\"model\":\"\(model)\",\"size\":\(size),\"batch\":\(batch),\"threads\":\(threads),\"images_per_second\":\(result.imagesPerSecond),\"gflops\":\(result.gflops),\"peak_rss_mb\":\(result.peakRSSMegabytes)}")
        }
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

import ArgumentParser
import Foundation
import Pipeline
import Tensor

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a pipeline's trained networks as ONNX models (opset 17), with serving.json for serving them elsewhere.",
        discussion: """
            Reads the results (runs no stage): every trained fold's best weights and the refit's (folds.refit) become \
            OUT/MODEL-fold-K.onnx (OUT/MODEL-refit.onnx): input `input` [N, C, H, W] normalised as the pipeline does, \
            output `probabilities` [N, 17]. OUT/serving.json has the bands, input size, per-band mean and std, the labels \
            in output order, the tuned decision (thresholds.json), the TTA and how folds and models combine. With \
            --check-images, each network's input and Canopy's probabilities for the first --check-count chips of that \
            folder go to OUT/MODEL-fold-K.check.safetensors (scripts/onnx-check.sh compares onnxruntime with them).
            """)
    @Argument(help: "Pipeline file (YAML), e.g. pipelines/quickstart.yaml, or a results folder's config.json.") var pipeline: String
    @Option(name: .customLong("set"), help: "Override a value: --set models.0.epochs=3 (repeatable), as the run had it.") var overrides: [String] = []
    @Option(help: "Results folder (default results/NAME).") var results: String?
    @Option(help: "Only this model (its pipeline name).") var model: String?
    @Option(help: "Only this fold: a trained fold's number, or refit.") var fold: String?
    @Option(help: "Output folder.") var out: String
    @Option(help: "A folder of chips (NAME.jpg, or NAME.tif for TIFF bands) to write check inputs and outputs from.") var checkImages: String?
    @Option(help: "How many chips of --check-images, in name order.") var checkCount = 16
    @Option(help: "Compute threads for the check predictions (default every core).") var threads: Int?
    @Flag(help: "Print nothing but errors.") var quiet = false

    func validate() throws {
        if let fold, fold != "refit", Int(fold).map({ $0 >= 0 }) != true { throw ValidationError("--fold takes a fold number or refit, not \(fold)") }
        if !(1...1024).contains(checkCount) { throw ValidationError("--check-count must be between 1 and 1024") }
        if checkImages == nil && checkCount != 16 { throw ValidationError("--check-count goes with --check-images") }
        if let threads, !(1...1024).contains(threads) { throw ValidationError("--threads must be between 1 and 1024") }
    }

    func run() throws {
        let config = try PipelineConfig.load(pipeline, overrides: overrides)
        let folder = results ?? "results/\(config.name)"
        let runner = PipelineRunner(config: config, source: pipeline, results: folder)
        if let count = threads ?? config.threads {
            BLAS.threads = count
            runner.engine.workers = count
        }
        let exported = try runner.exportONNX(ExportRequest(out: out, model: model, fold: fold, checkImages: checkImages,
                                                           checkCount: checkCount, producerVersion: Canopy.version))
        guard !quiet else { return }
        for network in exported {
            print(String(format: "%@ %@: %@ (%.1f MB, %d nodes)%@", network.model, network.unit, network.file,
                         Double(network.bytes) / 1e6, network.nodes, network.check.map { ", check \($0)" } ?? ""))
        }
        print("wrote \(exported.count) networks and \(out)/serving.json")
    }
}

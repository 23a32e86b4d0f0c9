import ArgumentParser
import Cluster
import Foundation
import Pipeline
import Tensor

/// What every pipeline command takes: the file, overrides, the results folder, --force.
struct PipelineOptions: ParsableArguments {
    @Argument(help: "Pipeline file (YAML), e.g. pipelines/quickstart.yaml.") var pipeline: String
    @Option(name: .customLong("set"), help: "Override a value: --set models.0.epochs=3 (repeatable).") var overrides: [String] = []
    @Option(help: "Results folder (default results/NAME).") var results: String?
    @Flag(help: "Redo the stages even when their outputs are up to date (training starts over).") var force = false
    @Flag(help: "No progress output.") var quiet = false
    @Option(help: "Compute threads (OpenBLAS and the kernels; default: the pipeline's threads: key, else every core). Changes no result.")
    var threads: Int?
    @Option(help: "Winograd algorithm for 3x3 stride-1 convolutions (default: the engine's, f4x4). Changes no result beyond float rounding.")
    var winograd: WinogradChoice?

    func validate() throws {
        if let threads, !(1...1024).contains(threads) { throw ValidationError("--threads must be between 1 and 1024") }
    }

    /// Runs the pipeline's stages up to and including `stage`; returns the runner (its dataset and
    /// statistics loaded) for more work on the results.
    @discardableResult
    func run(through stage: PipelineRunner.Stage) throws -> PipelineRunner {
        let config = try PipelineConfig.load(pipeline, overrides: overrides)
        let folder = results ?? "results/\(config.name)"
        // Started by mpirun: this process is one rank of the job (docs/DISTRIBUTED.md); else a world of one.
        let cluster = try Cluster.join()
        cluster.timeoutSeconds = config.distributed?.timeoutSeconds ?? DistributedConfig.defaultTimeoutSeconds
        // Under mpirun every rank's output goes to the launcher's terminal, interleaved: plain lines, not bars.
        let progress = ProgressPrinter(logPath: cluster.isRoot ? folder + "/train_log.csv" : PipelineRunner.workerLogPath(results: folder, rank: cluster.rank),
                                       isTerminal: !cluster.isDistributed && isatty(STDOUT_FILENO) != 0)
        progress.quiet = quiet
        if cluster.isDistributed { progress.linePrefix = "[rank \(cluster.rank)] " }
        let runner = PipelineRunner(config: config, source: pipeline, results: folder, progress: progress)
        runner.cluster = cluster
        runner.force = force
        runner.trackingFallbackURI = ProcessInfo.processInfo.environment["MLFLOW_TRACKING_URI"]
        if let count = threads ?? config.threads {
            BLAS.threads = count  // OpenBLAS's own threads: the process's
            runner.engine.workers = count
            if !quiet {
                print("compute threads: \(count)")
                fflush(nil)
            }
        }
        winograd?.apply(to: &runner.engine)
        let started = Date()
        // The runner checks everything, then creates the folder: a run refused leaves it as it was.
        try runner.run(through: stage)
        if !quiet { print(progress.linePrefix + String(format: "done in %.0f s: %@", Date().timeIntervalSince(started), folder)) }
        return runner
    }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a pipeline file end to end: folds, training, predictions, ensemble, thresholds, submission, report.",
        discussion: "Stages whose inputs have not changed are skipped; an interrupted run resumes where it stopped.")
    @OptionGroup var options: PipelineOptions
    func run() throws { try options.run(through: .report) }
}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run a pipeline through training: every model on every fold, with its out-of-fold and test probabilities.")
    @OptionGroup var options: PipelineOptions
    func run() throws { try options.run(through: .train) }
}

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a pipeline through predictions: each model's out-of-fold table and its test table averaged over folds.",
        discussion: """
            With --images DIR, predict any folder of chips with the pipeline's trained models instead (the stages \
            through tune run first, or are up to date): every fold of every model with the pipeline's TTA, combined \
            as its ensemble, tagged by its tuned decision rule. One pass, memory flat in the number of chips. \
            The CSV has image_name, tags and the 17 probabilities.
            """)
    @OptionGroup var options: PipelineOptions
    @Option(help: "A folder of chips (NAME.jpg, or NAME.tif for TIFF bands) to predict with the trained models.") var images: String?
    @Option(help: "Where --images writes its CSV (default RESULTS/predictions/images-FOLDER.csv).") var out: String?

    func run() throws {
        guard let images else {
            guard out == nil else { throw ValidationError("--out goes with --images") }
            try options.run(through: .predict)
            return
        }
        let runner = try options.run(through: .tune)
        let folderName = URL(fileURLWithPath: images).standardizedFileURL.lastPathComponent
        let output = out ?? runner.results + "/predictions/images-\(folderName).csv"
        let started = Date()
        let summary = try runner.predictImages(in: images, to: output)
        guard runner.cluster.isRoot else { return }  // rank 0 wrote the file and says so
        for chip in summary.skipped { runner.progress.note("skipped \(chip.name): \(chip.error)") }
        if !options.quiet {
            print(String(format: "wrote %@: %d of %d chips, tags by %@, in %.0f s", output, summary.written, summary.chips,
                         summary.decision, Date().timeIntervalSince(started)))
        }
    }
}

struct EnsembleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ensemble", abstract: "Run a pipeline through the ensemble of its models.")
    @OptionGroup var options: PipelineOptions
    func run() throws { try options.run(through: .ensemble) }
}

struct Tune: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run a pipeline through decision tuning (thresholds.json): every rule scored out of fold.")
    @OptionGroup var options: PipelineOptions
    func run() throws { try options.run(through: .tune) }
}

struct Submit: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run a pipeline through the submission CSV.")
    @OptionGroup var options: PipelineOptions
    func run() throws { try options.run(through: .submit) }
}

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "report", abstract: "Run a pipeline through its report (Markdown, CSV, JSON, HTML).")
    @OptionGroup var options: PipelineOptions
    func run() throws { try options.run(through: .report) }
}

import ArgumentParser
import Foundation
import Pipeline

/// What every pipeline command takes: the file, overrides, the results folder, --force.
struct PipelineOptions: ParsableArguments {
    @Argument(help: "Pipeline file (YAML), e.g. pipelines/quickstart.yaml.") var pipeline: String
    @Option(name: .customLong("set"), help: "Override a value: --set models.0.epochs=3 (repeatable).") var overrides: [String] = []
    @Option(help: "Results folder (default results/NAME).") var results: String?
    @Flag(help: "Redo the stages even when their outputs are up to date (training starts over).") var force = false
    @Flag(help: "No progress output.") var quiet = false

    /// Runs the pipeline's stages up to and including `stage`.
    func run(through stage: PipelineRunner.Stage) throws {
        let config = try PipelineConfig.load(pipeline, overrides: overrides)
        let folder = results ?? "results/\(config.name)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let progress = ProgressPrinter(logPath: folder + "/train_log.csv")
        progress.quiet = quiet
        let runner = PipelineRunner(config: config, source: pipeline, results: folder, progress: progress)
        runner.force = force
        let started = Date()
        try runner.run(through: stage)
        if !quiet { print(String(format: "done in %.0f s: %@", Date().timeIntervalSince(started), folder)) }
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
    static let configuration = CommandConfiguration(abstract: "Run a pipeline through predictions: each model's out-of-fold table and its test table averaged over folds.")
    @OptionGroup var options: PipelineOptions
    func run() throws { try options.run(through: .predict) }
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

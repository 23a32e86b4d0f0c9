import ArgumentParser

@main
struct Canopy: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "canopy",
        abstract: "Planet chips in, a ranked Kaggle submission and a per-label report out.",
        subcommands: [Run.self, Train.self, Predict.self, EnsembleCommand.self, Tune.self, Submit.self, ReportCommand.self,
                      Inspect.self, Stats.self, Folds.self, Synth.self, Models.self, Bench.self]
    )
}

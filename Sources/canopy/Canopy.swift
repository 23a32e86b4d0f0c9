import ArgumentParser

@main
struct Canopy: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "canopy",
        abstract: "Planet chips in, a ranked Kaggle submission and a per-label report out.",
        subcommands: [Inspect.self, Models.self, Bench.self]
    )
}

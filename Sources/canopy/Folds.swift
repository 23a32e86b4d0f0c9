import ArgumentParser
import Foundation
import PlanetData

/// `canopy folds ROOT --k 5 --seed 1`: stratified folds written to folds.csv, with their balance.
struct Folds: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "K folds by iterative stratification of the training labels, written to a folds.csv.",
        discussion: "Prints each label's count per fold. Pipelines write their own folds.csv in the results folder."
    )

    @OptionGroup var dataset: DatasetOptions
    @Option(name: .customLong("k"), help: "Number of folds.") var folds = 5
    @Option(help: "Seed of the split.") var seed: UInt64 = 1
    @Option(help: "Where to write the folds.") var out = "folds.csv"

    func validate() throws {
        guard folds >= 2 else { throw ValidationError("--k must be at least 2") }
    }

    func run() throws {
        let data = try dataset.open()
        let chips = data.train.map { LabeledChip(name: $0.name, labels: $0.labels ?? LabelSet()) }
        guard chips.count >= folds else { throw ValidationError("\(chips.count) chips cannot fill \(folds) folds") }
        let assignment = FoldAssignment.stratified(chips, folds: folds, seed: seed)
        try assignment.write(to: out)
        let counts = IterativeStratification.labelCounts(chips.map(\.labels), assignment: chips.map { assignment.foldOf[$0.name]! }, folds: folds)
        print("label".padding(toLength: 18, withPad: " ", startingAt: 0) + (0..<folds).map { "fold \($0)".leftPadded(9) }.joined())
        for (label, perFold) in counts.enumerated() {
            print(PlanetLabels.names[label].padding(toLength: 18, withPad: " ", startingAt: 0) + perFold.map { "\($0)".leftPadded(9) }.joined())
        }
        var sizes = [Int](repeating: 0, count: folds)
        for name in assignment.names { sizes[assignment.foldOf[name]!] += 1 }
        print("chips".padding(toLength: 18, withPad: " ", startingAt: 0) + sizes.map { "\($0)".leftPadded(9) }.joined())
        print("wrote \(out)")
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}

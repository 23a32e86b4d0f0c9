/// The time left in a run, from measured rates: what the train stage will do (epochs of each (model,
/// fold) it trains, prediction views of each it predicts) and, per model, the seconds an epoch took
/// per training chip (validation included). A prediction view (one chip under one TTA symmetry) is
/// counted as a third of a training chip-epoch (inference has no backward pass). A model not measured
/// yet is assumed as fast per chip as the mean of those measured; before any epoch there is no
/// estimate. The stages after training take seconds and are not counted.
struct RunEstimate {
    struct Unit {
        var model: String
        var fold: Int
        var epochs: Int
        var trainingChips: Int
        var predictionViews: Int
        var epochsDone = 0
        var predicted = false
    }

    static let predictionShare = 1.0 / 3
    private(set) var units: [Unit]
    private(set) var secondsPerChipEpoch: [String: Double] = [:]

    init(units: [Unit]) { self.units = units }

    mutating func epochEnded(model: String, fold: Int, seconds: Double) {
        guard let i = units.firstIndex(where: { $0.model == model && $0.fold == fold }) else { return }
        units[i].epochsDone += 1
        secondsPerChipEpoch[model] = seconds / Double(max(units[i].trainingChips, 1))
    }

    mutating func predicted(model: String, fold: Int) {
        guard let i = units.firstIndex(where: { $0.model == model && $0.fold == fold }) else { return }
        units[i].epochsDone = units[i].epochs
        units[i].predicted = true
    }

    /// Seconds of training and fold prediction left, or nil before any model is measured.
    var remainingSeconds: Double? {
        guard !secondsPerChipEpoch.isEmpty else { return nil }
        let fallback = secondsPerChipEpoch.values.reduce(0, +) / Double(secondsPerChipEpoch.count)
        return units.reduce(0) { total, unit in
            let rate = secondsPerChipEpoch[unit.model] ?? fallback
            let epochs = Double(max(unit.epochs - unit.epochsDone, 0)) * Double(unit.trainingChips)
            let views = unit.predicted ? 0 : Double(unit.predictionViews) * Self.predictionShare
            return total + rate * (epochs + views)
        }
    }

    var epochsDone: Int { units.reduce(0) { $0 + min($1.epochsDone, $1.epochs) } }
    var epochsPlanned: Int { units.reduce(0) { $0 + $1.epochs } }
}

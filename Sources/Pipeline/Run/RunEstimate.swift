/// The time left in a run, from measured rates: what the train stage will do (epochs of each (model,
/// fold) it trains, prediction views of each it predicts) and, per model, the seconds an epoch took
/// per training chip (validation included), at the model's input size (an epoch of progressive
/// resizing at a smaller size is scaled up by its pixels). A prediction view (one chip under one TTA symmetry) is
/// counted as a third of a training chip-epoch (inference has no backward pass). A model not measured
/// yet is assumed as fast per chip as the mean of those measured; before any epoch there is no
/// estimate. The stages after training take seconds and are not counted.
struct RunEstimate {
    struct Unit {
        var model: String
        var fold: Int
        /// Each epoch's cost against one at the model's input size: its pixels, (size / input size)²,
        /// so that the small first epochs of progressive resizing do not set the rate of the rest.
        var epochCosts: [Double]
        var trainingChips: Int
        var predictionViews: Int
        var epochsDone = 0
        /// The last epoch that ended (from 1; 0 before one has, including when a fold resumes).
        var lastEpoch = 0
        var predicted = false
        var epochs: Int { epochCosts.count }

        /// `relativeSize`: an epoch's (from 0) input size over the model's.
        init(model: String, fold: Int, epochs: Int, trainingChips: Int, predictionViews: Int, relativeSize: (_ epoch: Int) -> Double = { _ in 1 }) {
            (self.model, self.fold, self.trainingChips, self.predictionViews) = (model, fold, trainingChips, predictionViews)
            epochCosts = (0..<epochs).map { relativeSize($0) * relativeSize($0) }
        }
    }

    static let predictionShare = 1.0 / 3
    private(set) var units: [Unit]
    private(set) var secondsPerChipEpoch: [String: Double] = [:]

    init(units: [Unit]) { self.units = units }

    /// Epoch `epoch` (from 1) of the model's fold took `seconds`.
    mutating func epochEnded(model: String, fold: Int, epoch: Int, seconds: Double) {
        guard let i = units.firstIndex(where: { $0.model == model && $0.fold == fold }) else { return }
        units[i].epochsDone += 1
        units[i].lastEpoch = epoch
        let cost = units[i].epochCosts.indices.contains(epoch - 1) ? units[i].epochCosts[epoch - 1] : 1
        secondsPerChipEpoch[model] = seconds / (Double(max(units[i].trainingChips, 1)) * cost)
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
            let epochs = unit.epochCosts.dropFirst(unit.predicted ? unit.epochs : unit.lastEpoch).reduce(0, +) * Double(unit.trainingChips)
            let views = unit.predicted ? 0 : Double(unit.predictionViews) * Self.predictionShare
            return total + rate * (epochs + views)
        }
    }

    var epochsDone: Int { units.reduce(0) { $0 + min($1.epochsDone, $1.epochs) } }
    var epochsPlanned: Int { units.reduce(0) { $0 + $1.epochs } }
}

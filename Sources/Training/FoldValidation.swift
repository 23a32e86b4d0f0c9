import Evaluation
import NN
import PlanetData

extension FoldTrainer {
    /// 0.05, 0.10, ..., 0.95: coarse, as befits a per-epoch figure.
    static let validationGrid: [Float] = (1...19).map { Float($0) * 0.05 }

    /// Mean BCE (unweighted, whatever the training loss) and mean F2 (at the best threshold of
    /// `validationGrid`) on the validation chips that decode.
    func validate(_ model: Layer) throws -> (loss: Double, meanF2: Double, threshold: Float) {
        let predictor = Predictor(bands: bands, statistics: statistics, inputSize: spec.inputSize, batchSize: spec.batchSize,
                                  workers: loaderWorkers, onBadImage: onBadImage)
        let loss = BinaryCrossEntropy()
        var lossSum = 0.0, count = 0
        let result = try predictor.predictReportingSkips(model, chips: validation, tta: .none, eachBatch: { logits, batch in
            if let targets = batch.targets {
                lossSum += Double(loss.lossAndGradient(logits: logits, targets: targets).loss) * Double(batch.count)
                count += batch.count
            }
        })
        // A chip that did not decode (on_bad_image: skip) has no prediction: it is left out of the F2.
        let left = Set(result.skipped.map(\.name))
        let kept = validation.indices.filter { !left.contains(validation[$0].name) }
        let probabilities = kept.map { result.probabilities[$0] }
        let truth = kept.map { validation[$0].labels ?? LabelSet() }
        let best = ThresholdSearch.global(probabilities: probabilities, truth: truth, grid: Self.validationGrid)
        return (lossSum / Double(max(count, 1)), best.meanF2, best.threshold)
    }
}

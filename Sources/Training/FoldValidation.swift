import Evaluation
import NN
import PlanetData
import Tensor

extension FoldTrainer {
    /// 0.05, 0.10, ..., 0.95: coarse, as befits a per-epoch figure.
    static let validationGrid: [Float] = (1...19).map { Float($0) * 0.05 }

    /// Mean BCE (unweighted, whatever the training loss) and mean F2 (at the best threshold of
    /// `validationGrid`) on the validation chips that decode, at `inputSize` (the model's unless
    /// said: under `progressive_resizing` an epoch is validated at the size it trained at, which is
    /// cheaper and what the network has just learnt to see).
    func validate(_ model: Layer, inputSize: Int? = nil) throws -> (loss: Double, meanF2: Double, threshold: Float) {
        let predictor = Predictor(bands: bands, statistics: statistics, inputSize: inputSize ?? spec.inputSize, batchSize: spec.batchSize,
                                  workers: loaderWorkers, onBadImage: onBadImage)
        let loss = BinaryCrossEntropy()
        var lossSum = 0.0, count = 0
        let eachBatch = { (logits: Tensor, batch: Batch) in
            if let targets = batch.targets {
                lossSum += Double(loss.lossAndGradient(logits: logits, targets: targets).loss) * Double(batch.count)
                count += batch.count
            }
        }
        if let cluster = dataParallel?.cluster, cluster.isDistributed {
            // mode: data: each rank validates its batches, rank 0 scores them all, every rank gets the figures.
            let result = try predictor.predictShared(model, chips: validation, tta: .none, over: cluster, eachBatch: eachBatch)
            let sums = try cluster.allreduceSum([lossSum, Double(count)], "the validation loss")
            let score = cluster.isRoot ? Self.score(result, validation) : (meanF2: 0, threshold: 0)
            let figures = try cluster.broadcast([score.meanF2, Double(score.threshold)], "the validation F2")
            return (sums[0] / max(sums[1], 1), figures[0], Float(figures[1]))
        }
        let result = try predictor.predictReportingSkips(model, chips: validation, tta: .none, eachBatch: eachBatch)
        let score = Self.score(result, validation)
        return (lossSum / Double(max(count, 1)), score.meanF2, score.threshold)
    }

    /// Mean F2 at the best threshold of `validationGrid`, over the chips that decoded.
    static func score(_ result: (probabilities: [[Float]], skipped: [SkippedChip]), _ validation: [DatasetChip]) -> (meanF2: Double, threshold: Float) {
        // A chip that did not decode (on_bad_image: skip) has no prediction: it is left out of the F2.
        let left = Set(result.skipped.map(\.name))
        let kept = validation.indices.filter { !left.contains(validation[$0].name) }
        let probabilities = kept.map { result.probabilities[$0] }
        let truth = kept.map { validation[$0].labels ?? LabelSet() }
        let best = ThresholdSearch.global(probabilities: probabilities, truth: truth, grid: Self.validationGrid)
        return (best.meanF2, best.threshold)
    }
}

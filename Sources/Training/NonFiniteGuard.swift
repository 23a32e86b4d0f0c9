import NN
import Tensor

/// What a training step whose loss or gradient is not finite does (`on_non_finite`): under `stop`
/// the run ends with an error naming the model, fold, epoch, batch and tensor; under `skip_batch` the
/// batch is left out (no optimiser step), until a run that keeps producing them — `maximumSkipped`
/// skipped batches — is taken for diverging and stopped.
struct NonFiniteGuard {
    let policy: ModelSpec.NonFinitePolicy
    /// "<model> fold <fold>", the start of every message.
    let place: String
    /// Batches skipped so far in this call of the trainer.
    private(set) var skipped = 0

    /// A run that keeps producing non-finite values is diverging: stop after this many skipped batches.
    static let maximumSkipped = 20

    /// A step that cannot be taken (`problem` says why) at batch `batch` of epoch `epoch` (both from 0):
    /// throws under `stop` or past `maximumSkipped`; otherwise counts it and returns the line to report.
    mutating func skip(_ problem: String, epoch: Int, batch: Int) throws -> String {
        let at = "\(place): \(problem) at epoch \(epoch + 1), batch \(batch + 1)"
        guard policy == .skipBatch, skipped < Self.maximumSkipped else {
            throw TrainingError(at + (policy == .skipBatch ? " (\(skipped) batches skipped already)" : "")
                                + "; lower the learning rate or clip gradients")
        }
        skipped += 1
        return at + ": batch skipped"
    }

    /// Why a step with this loss cannot be taken (naming the first weight that is not finite, if any);
    /// nil when the loss is finite.
    static func lossProblem(_ loss: Float, model: Layer) -> String? {
        guard !loss.isFinite else { return nil }
        return "the loss became \(loss)" + (firstNonFiniteValue(model).map { " (\($0) is not finite)" } ?? "")
    }

    /// The first gradient that is not finite, as a problem; nil when all are finite.
    static func gradientProblem(_ model: Layer) -> String? {
        for (name, parameter) in model.namedParameters where !parameter.gradient.allFinite {
            return "the gradient of \(name) is not finite"
        }
        return nil
    }

    /// The first of the model's parameters and buffers that is not finite.
    static func firstNonFiniteValue(_ model: Layer) -> String? {
        for (name, entry) in model.state(prefix: "") where !entry.value.allFinite { return name }
        return nil
    }
}

/// The backward pass with each layer's parameter gradients checked for NaN/inf as the layer's
/// backward ends, while they are still in the cache, instead of read back from memory after the pass
/// (ResNet-18: 45 MB a step). A parameter no leaf reported (a model that is itself one layer) is
/// checked after the pass.
final class FiniteGradientWatch: BackwardObserver, @unchecked Sendable {
    private var checked = Set<ObjectIdentifier>()
    private var finite = true

    /// Runs `model.backward(gradient)`: whether every parameter gradient is finite after it.
    static func backward(_ model: Layer, _ gradient: Tensor) -> Bool {
        let watch = FiniteGradientWatch()
        _ = BackwardObserverScope.observe(watch) { model.backward(gradient) }
        return watch.finite && model.parameters.allSatisfy { watch.checked.contains(ObjectIdentifier($0)) || $0.gradient.allFinite }
    }

    func backwardFinished(_ layer: Layer) {
        // Checked at each layer that reports it (a parameter two layers share gets both layers' sums).
        for parameter in layer.parameters {
            checked.insert(ObjectIdentifier(parameter))
            if finite && !parameter.gradient.allFinite { finite = false }
        }
    }
}

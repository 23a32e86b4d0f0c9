import Tensor

/// Counts what a forward pass costs: multiply-add FLOPs (2 per multiply-add) of convolutions and
/// dense layers, and the activations a training step keeps for backward (every leaf layer's output,
/// plus the tensors containers make: concatenations and residual sums). Active only inside `measure`;
/// the engine runs one layer at a time, so a single global meter is enough (not for concurrent models).
public final class CostMeter {
    public private(set) var flops: Double = 0
    public private(set) var activationFloats: Int = 0

    nonisolated(unsafe) static var active: CostMeter?

    /// Runs `body` with a fresh meter active and returns it.
    public static func measure(_ body: () -> Void) -> CostMeter {
        let meter = CostMeter()
        let previous = active
        active = meter
        defer { active = previous }
        body()
        return meter
    }

    static func addFlops(_ value: Double) { active?.flops += value }

    /// Records `output` as kept for backward, unless `layer` is a container (whose output is its last
    /// child's, already recorded).
    static func recordOutput(_ output: Tensor, of layer: Layer) {
        guard let meter = active, !layer.isContainer else { return }
        meter.activationFloats += output.count
    }

    static func recordContainerOutput(_ output: Tensor) { active?.activationFloats += output.count }
}

import Tensor

/// Counts what a forward pass costs: multiply-add FLOPs (2 per multiply-add) of convolutions and
/// dense layers, and the activations a training step keeps for backward (every leaf layer's output,
/// plus the tensors containers make: concatenations and residual sums). Active only inside `measure`,
/// for the code that runs in it (a task-local: another network running meanwhile is not counted).
/// Unchecked Sendable: a meter is written only by the thread running the measured network, one layer
/// at a time, and read after `measure` returns.
public final class CostMeter: @unchecked Sendable {
    public private(set) var flops: Double = 0
    public private(set) var activationFloats: Int = 0

    @TaskLocal static var active: CostMeter?

    /// Runs `body` with a fresh meter active and returns it.
    public static func measure(_ body: () -> Void) -> CostMeter {
        let meter = CostMeter()
        $active.withValue(meter, operation: body)
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

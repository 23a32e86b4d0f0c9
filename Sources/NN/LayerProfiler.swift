import Foundation
import Tensor

/// Where a training step spends its time, leaf layer by leaf layer (`canopy bench train --profile`).
/// Containers time each leaf child's forward and backward while a profiler is active (only inside
/// `record`, for the code that runs in it: a task-local, as for `CostMeter`). Leaves with the same kind and the same input and output shapes share a row: a
/// ResNet-18 at 128 px has a few dozen. What no leaf accounts for (residual sums, concatenations,
/// the loss, zeroing gradients, the optimiser) is the step minus the leaves.
/// Unchecked Sendable: a profiler is written only by the thread running the recorded network, one
/// layer at a time, and read after `record` returns.
public final class LayerProfiler: @unchecked Sendable {
    public struct Row: Sendable {
        /// Kind and shapes, e.g. "conv 3x3/1 64→64, 32x32 → 32x32".
        public var name: String
        /// Layers in the row times the steps recorded.
        public var calls: Int
        public var forwardSeconds: Double
        public var backwardSeconds: Double
        /// Bytes the allocator's blocks grew by across the row's forward passes (what those layers
        /// keep for their backward pass, and their outputs), summed over the calls; 0 where the
        /// allocator does not tell.
        public var forwardHeapGrowth: Int = 0
        public var totalSeconds: Double { forwardSeconds + backwardSeconds }
    }

    @TaskLocal static var active: LayerProfiler?

    private var rows: [String: Row] = [:]
    private var order: [String] = []
    /// Each leaf's row, fixed by its forward pass (its backward sees only gradients).
    private var rowOfLayer: [ObjectIdentifier: String] = [:]

    /// The most the allocator held in allocated blocks after any leaf's forward or backward pass
    /// (`MemoryPolicy.heapInUse`), and after which: where a step's live memory peaks. Nil where the
    /// allocator does not tell.
    public private(set) var peakHeapInUse: (bytes: Int, after: String)?

    public init() {}

    /// Runs `body` with this profiler active.
    public func record(_ body: () throws -> Void) rethrows {
        try Self.$active.withValue(self, operation: body)
    }

    /// The rows, slowest first.
    public var table: [Row] { order.map { rows[$0]! }.sorted { $0.totalSeconds > $1.totalSeconds } }

    /// A child's forward, timed when a profiler is active and the child is a leaf.
    @inline(__always)
    static func forward(_ layer: Layer, _ input: Tensor, mode: Mode) -> Tensor {
        forward(layer, input) { layer.forward(input, mode: mode) }
    }

    /// A leaf's forward that `body` computes (fused with its container's work, as a residual sum with
    /// its ReLU), timed as the leaf's.
    @inline(__always)
    static func forward(_ layer: Layer, _ input: Tensor, _ body: () -> Tensor) -> Tensor {
        guard let profiler = active, !layer.isContainer else { return body() }
        let heapBefore = MemoryPolicy.heapInUse()
        let start = DispatchTime.now().uptimeNanoseconds
        let output = body()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let key = describe(layer, input: input, output: output)
        profiler.rowOfLayer[ObjectIdentifier(layer)] = key
        profiler.add(key, forward: seconds, backward: 0, call: true)
        let heapAfter = profiler.sampleHeap(after: "the forward pass of " + key)
        if let heapBefore, let heapAfter { profiler.rows[key]!.forwardHeapGrowth += heapAfter - heapBefore }
        return output
    }

    /// A child's backward, timed when a profiler is active and the child is a leaf.
    @inline(__always)
    /// Then tells the `BackwardObserver`, if one is active, that a leaf's gradients are final.
    static func backward(_ layer: Layer, _ outputGradient: Tensor) -> Tensor {
        guard !layer.isContainer else { return layer.backward(outputGradient) }
        defer { BackwardObserverScope.active?.backwardFinished(layer) }
        guard let profiler = active else { return layer.backward(outputGradient) }
        let start = DispatchTime.now().uptimeNanoseconds
        let inputGradient = layer.backward(outputGradient)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let key = profiler.rowOfLayer[ObjectIdentifier(layer)] ?? "\(type(of: layer)) (backward only)"
        profiler.add(key, forward: 0, backward: seconds, call: false)
        profiler.sampleHeap(after: "the backward pass of " + key)
        return inputGradient
    }

    /// The heap in use now, kept as the peak when it is one.
    @discardableResult
    private func sampleHeap(after moment: @autoclosure () -> String) -> Int? {
        guard let bytes = MemoryPolicy.heapInUse() else { return nil }
        if bytes > peakHeapInUse?.bytes ?? -1 { peakHeapInUse = (bytes, moment()) }
        return bytes
    }

    private func add(_ key: String, forward: Double, backward: Double, call: Bool) {
        if rows[key] == nil {
            rows[key] = Row(name: key, calls: 0, forwardSeconds: 0, backwardSeconds: 0)
            order.append(key)
        }
        rows[key]!.forwardSeconds += forward
        rows[key]!.backwardSeconds += backward
        if call { rows[key]!.calls += 1 }
    }

    /// Activations are feature-major `[C, N, H, W]` (or `[F, N]`).
    static func describe(_ layer: Layer, input: Tensor, output: Tensor) -> String {
        func spatial(_ t: Tensor) -> String { t.shape.count == 4 ? "\(t.shape[2])x\(t.shape[3])" : "\(t.shape[0])" }
        let shapes = "\(spatial(input)) → \(spatial(output))"
        switch layer {
        case let conv as Convolution2D:
            let g = conv.geometry
            return "conv \(g.kernel.height)x\(g.kernel.width)/\(g.stride.height) \(g.inChannels)→\(g.outChannels), \(shapes)"
        default:
            let kind = String(describing: type(of: layer))
            let channels = input.shape.count == 4 ? " \(input.shape[0])" : ""
            return "\(kind)\(channels), \(shapes)"
        }
    }
}

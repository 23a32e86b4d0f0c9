import Tensor

/// Parallel branches on the same input, outputs joined along channels (Inception modules).
/// Backward splits the gradient by each branch's channel count and sums the input gradients.
public final class ConcatenatedBranches: Layer {
    public var isContainer: Bool { true }
    public let branches: [(name: String, layer: Layer)]
    public var children: [Layer] { branches.map(\.layer) }
    private var channels: [Int] = []

    public init(named branches: [(String, Layer)]) {
        self.branches = branches.map { (name: $0.0, layer: $0.1) }
    }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        let outputs = branches.map { branch in
            let output = LayerProfiler.forward(branch.layer, x, mode: mode)
            CostMeter.recordOutput(output, of: branch.layer)
            return output
        }
        channels = outputs.map { $0.shape[0] }
        let joined = TensorPlumbing.concatenateChannels(outputs)
        CostMeter.recordContainerOutput(joined)
        return joined
    }

    public func backward(_ dy: Tensor) -> Tensor {
        let parts = TensorPlumbing.splitChannels(dy, channels: channels)
        var dx = LayerProfiler.backward(branches[0].layer, parts[0])
        for (branch, part) in zip(branches.dropFirst(), parts.dropFirst()) {
            dx = TensorPlumbing.add(dx, LayerProfiler.backward(branch.layer, part))
        }
        return dx
    }

    public func state(prefix: String) -> [(name: String, entry: StateEntry)] {
        branches.flatMap { $0.layer.state(prefix: prefix + $0.name + ".") }
    }
}

/// y = activation(body(x) + shortcut(x)), the shortcut being the identity or a projection (ResNet),
/// the activation optional (torchvision's blocks apply ReLU after the sum).
/// The body's state is named at this level (torchvision's `layer1.0.conv1.weight`), the projection
/// under `shortcutName` (`layer2.0.downsample.0.weight`).
public final class Residual: Layer {
    public var isContainer: Bool { true }
    public let body: Layer
    public let shortcut: Layer?
    public let shortcutName: String
    public let activation: Layer?
    public var children: [Layer] { [body, shortcut, activation].compactMap { $0 } }
    /// The body's last convolution, which folds the batch norm after it (`fuseInferenceEpilogues`): in
    /// inference the shortcut runs first and that convolution adds it, and applies the ReLU, as it writes.
    public internal(set) var fusedTail: Convolution2D?

    public init(body: Layer, shortcut: Layer? = nil, shortcutName: String = "downsample", activation: Layer? = nil) {
        self.body = body
        self.shortcut = shortcut
        self.shortcutName = shortcutName
        self.activation = activation
    }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        if mode == .inference, let tail = fusedTail, EngineSettings.current.fusedInferenceEpilogues {
            tail.pendingResidual = (shortcut.map { LayerProfiler.forward($0, x, mode: mode) } ?? x, activation != nil)
            let output = LayerProfiler.forward(body, x, mode: mode)
            CostMeter.recordContainerOutput(output)
            return output
        }
        let main = LayerProfiler.forward(body, x, mode: mode), side = shortcut.map { LayerProfiler.forward($0, x, mode: mode) } ?? x
        if let relu = activation as? ReLU {
            // The sum and the ReLU in one pass (timed as the ReLU's).
            let output = LayerProfiler.forward(relu, main) { relu.forward(sumOf: main, and: side, mode: mode) }
            CostMeter.recordContainerOutput(output)
            return output
        }
        let sum = TensorPlumbing.add(main, side)
        CostMeter.recordContainerOutput(sum)
        guard let activation else { return sum }
        let output = LayerProfiler.forward(activation, sum, mode: mode)
        CostMeter.recordOutput(output, of: activation)
        return output
    }

    public func backward(_ dy: Tensor) -> Tensor {
        let dSum = activation.map { LayerProfiler.backward($0, dy) } ?? dy
        return TensorPlumbing.add(LayerProfiler.backward(body, dSum), shortcut.map { LayerProfiler.backward($0, dSum) } ?? dSum)
    }

    public func state(prefix: String) -> [(name: String, entry: StateEntry)] {
        body.state(prefix: prefix) + (shortcut?.state(prefix: prefix + shortcutName + ".") ?? [])
    }
}

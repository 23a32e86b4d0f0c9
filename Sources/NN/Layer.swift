import Tensor

/// Whether a forward pass trains (batch statistics, dropout on, caches kept for backward) or infers.
public enum Mode: Sendable, Equatable {
    case training
    case inference
}

/// A trainable tensor and the gradient that backward passes accumulate into it (`+=`, as in llm.c:
/// call `zeroGradient()` before each step).
public final class Parameter {
    /// Every change (an optimiser step, a checkpoint load, an in-place edit) bumps `version`, so a
    /// layer can keep something derived from the value (Winograd's transformed weights) until it changes.
    public var value: Tensor { didSet { version &+= 1 } }
    public var gradient: Tensor
    public private(set) var version = 0

    public init(_ value: Tensor) {
        self.value = value
        self.gradient = Tensor(shape: value.shape)
    }

    public func zeroGradient() { gradient.zero() }
}

/// A named piece of a model's state, as it appears in a checkpoint: torchvision's state_dict names
/// (`conv1.weight`, `layer1.0.bn1.running_mean`, `fc.bias`).
public enum StateEntry {
    /// Trained by the optimiser.
    case parameter(Parameter)
    /// Carried along but not trained (batch norm's running statistics).
    case buffer(Buffer)
}

/// A non-trainable tensor a layer updates itself (running mean and variance), or a counter
/// (`num_batches_tracked`, stored as int64 by PyTorch).
public final class Buffer {
    public enum Kind: Sendable { case float32, int64 }
    public var value: Tensor
    public let kind: Kind

    public init(_ value: Tensor, kind: Kind = .float32) {
        self.value = value
        self.kind = kind
    }
}

/// A layer of a network: a forward pass, and a backward pass written next to it that takes the
/// gradient of the loss with respect to the output and returns the one with respect to the input,
/// accumulating parameter gradients on the way.
///
/// Layers are reference types: they hold their parameters and what the last training forward pass
/// cached for backward. `backward` must follow a `forward(_:mode: .training)` of the same input, once:
/// it releases what that pass cached (as PyTorch frees a graph's saved tensors), so a step's memory
/// falls through the backward pass instead of holding every activation until the next forward pass
/// (a ResNet-18 training step at 128 px, batch 32, peaked at 784 MB before, 672 MB after).
public protocol Layer: AnyObject {
    func forward(_ input: Tensor, mode: Mode) -> Tensor
    func backward(_ outputGradient: Tensor) -> Tensor

    /// Every named parameter and buffer, names prefixed with `prefix` (which ends in "." or is empty).
    func state(prefix: String) -> [(name: String, entry: StateEntry)]

    /// The layers directly inside this one, in order (none for a leaf): what walking a network
    /// (`forEachLayer`) follows, so a new container needs no list of container types updated.
    var children: [Layer] { get }

    /// Made of other layers: its cost (`CostMeter`) and its time (`LayerProfiler`) are its children's.
    var isContainer: Bool { get }
}

extension Layer {
    /// A leaf layer has no children.
    public var children: [Layer] { [] }

    /// A layer with children is a container (the containers also say so themselves, as one with no
    /// children, an empty `Sequential`, is still one).
    public var isContainer: Bool { !children.isEmpty }

    /// Stateless layers have no parameters or buffers.
    public func state(prefix: String) -> [(name: String, entry: StateEntry)] { [] }

    /// Calls `body` on this layer, then on every layer inside it (depth first, in `children` order).
    public func forEachLayer(_ body: (Layer) -> Void) {
        body(self)
        for child in children { child.forEachLayer(body) }
    }

    /// The trainable parameters, in state order.
    public var parameters: [Parameter] {
        state(prefix: "").compactMap { if case .parameter(let p) = $0.entry { return p } else { return nil } }
    }

    /// Named parameters only (what an optimiser keys its state by).
    public var namedParameters: [(name: String, parameter: Parameter)] {
        state(prefix: "").compactMap { if case .parameter(let p) = $0.entry { return ($0.name, p) } else { return nil } }
    }

    public func zeroGradients() { for parameter in parameters { parameter.zeroGradient() } }

    /// Total trainable scalars.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.count } }
}

extension Layer {
    /// Per-label probabilities: the sigmoid of the logits of an inference pass (models output logits,
    /// which training's loss takes directly).
    public func probabilities(_ input: Tensor) -> Tensor {
        Activation.sigmoidForward(forward(input, mode: .inference))
    }
}

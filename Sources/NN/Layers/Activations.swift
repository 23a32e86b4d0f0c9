import Tensor

/// max(x, 0). A training pass keeps where its output was positive (`PositiveMask`, a bit a value),
/// not the output: the layers after it free that as soon as they are done with it.
public final class ReLU: Layer {
    private var mask: PositiveMask?
    /// The batch norm before this layer applies it (`fuseBatchNormReLU`): values and gradients pass through.
    public internal(set) var isFused = false
    public init() {}

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        if isFused { return x }
        let y = Activation.reluForward(x)
        mask = mode == .training ? PositiveMask(y) : nil
        return y
    }

    /// max(a + b, 0), for a residual block's sum and its ReLU in one pass; backward as usual.
    public func forward(sumOf a: Tensor, and b: Tensor, mode: Mode) -> Tensor {
        precondition(!isFused, "a fused ReLU follows a batch norm, not a sum")
        guard mode == .training else {
            mask = nil
            return TensorPlumbing.addReLU(a, b)
        }
        let (y, mask) = PositiveMask.addReLU(a, b)
        self.mask = mask
        return y
    }

    public func backward(_ dy: Tensor) -> Tensor {
        if isFused { return dy }
        guard let mask else { preconditionFailure("ReLU.backward without a training forward pass") }
        self.mask = nil
        return mask.masking(dy)
    }
}

/// The logistic function: turns logits into per-label probabilities.
public final class Sigmoid: Layer {
    private var output: Tensor?
    public init() {}

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        let y = Activation.sigmoidForward(x)
        output = mode == .training ? y : nil
        return y
    }

    public func backward(_ dy: Tensor) -> Tensor {
        guard let output else { preconditionFailure("Sigmoid.backward without a training forward pass") }
        self.output = nil
        return Activation.sigmoidBackward(dy, output: output)
    }
}

/// Inverted dropout with its own seeded generator; the identity in inference.
public final class Dropout: Layer {
    public let probability: Float
    private var random: SeededRandom
    private var mask: Tensor?

    public init(probability: Float = 0.5, random: inout SeededRandom) {
        self.probability = probability
        self.random = random.split()
    }

    /// Restarts the mask stream from `seed`: a trainer reseeds at each epoch, so a run resumed from
    /// an epoch's checkpoint draws the same masks as one that never stopped.
    public func reseed(_ seed: UInt64) { random = SeededRandom(seed: seed) }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        guard mode == .training, probability > 0 else {
            mask = nil
            return x
        }
        let (y, mask) = Activation.dropoutForward(x, probability: probability, random: &random)
        self.mask = mask
        return y
    }

    public func backward(_ dy: Tensor) -> Tensor {
        guard let mask else { return dy }
        return Activation.dropoutBackward(dy, mask: mask)
    }
}

/// Local response normalisation across channels (AlexNet's original).
public final class LocalResponseNorm: Layer {
    public let parameters: LocalResponseNormalization.Parameters
    private var cache: (input: Tensor, scale: Tensor)?

    public init(_ parameters: LocalResponseNormalization.Parameters = .init()) {
        self.parameters = parameters
    }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        let (y, scale) = LocalResponseNormalization.forward(x, parameters)
        cache = mode == .training ? (x, scale) : nil
        return y
    }

    public func backward(_ dy: Tensor) -> Tensor {
        guard let cache else { preconditionFailure("LocalResponseNorm.backward without a training forward pass") }
        self.cache = nil
        return LocalResponseNormalization.backward(dy, input: cache.input, scale: cache.scale, parameters)
    }
}

/// [C, N, H, W] → [C·H·W, N] in PyTorch's per-image (c, h, w) order.
public final class Flatten: Layer {
    private var inputShape: [Int] = []
    public init() {}

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        inputShape = x.shape
        return x.rank == 2 ? x : TensorPlumbing.flatten(x)
    }

    public func backward(_ dy: Tensor) -> Tensor {
        inputShape.count == 2 ? dy : TensorPlumbing.unflatten(dy, to: inputShape)
    }
}

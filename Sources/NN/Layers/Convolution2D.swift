import Synchronization
import Tensor

/// Scratch memory for unfolded convolution inputs, shared by the convolutions of one model: layers run
/// one at a time, so one buffer sized for the largest layer serves them all.
public final class Workspace {
    var buffer: [Float] = []
    public init() {}
}

/// 2-D convolution (groups = 1) on [C, N, H, W]; weight [Co, Ci, kh, kw] as PyTorch stores it.
public final class Convolution2D: Layer {
    public let geometry: ConvolutionGeometry
    public let weight: Parameter
    public let bias: Parameter?
    private let workspace: Workspace
    private var input: Tensor?
    /// False for a network's first layer: its input is the image, whose gradient nobody uses, so
    /// backward skips it and returns an empty tensor.
    public var computesInputGradient = true

    /// Weights drawn with PyTorch's default for convolutions (uniform ±1/√fan_in), bias likewise.
    public init(_ geometry: ConvolutionGeometry, bias: Bool = true, workspace: Workspace = Workspace(),
                random: inout SeededRandom) {
        self.geometry = geometry
        let g = geometry
        let fanIn = g.patchSize
        weight = Parameter(torchDefaultUniform(shape: [g.outChannels, g.inChannels, g.kernel.height, g.kernel.width],
                                               fanIn: fanIn, random: &random))
        self.bias = bias ? Parameter(torchDefaultUniform(shape: [g.outChannels], fanIn: fanIn, random: &random)) : nil
        self.workspace = workspace
    }

    public convenience init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
                            bias: Bool = true, workspace: Workspace = Workspace(), random: inout SeededRandom) {
        self.init(ConvolutionGeometry(inChannels: inChannels, outChannels: outChannels, kernel: kernel, stride: stride,
                                      padding: padding),
                  bias: bias, workspace: workspace, random: &random)
    }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        input = mode == .training ? x : nil
        let (ho, wo) = geometry.outputSize(height: x.shape[2], width: x.shape[3])
        CostMeter.addFlops(2 * Double(geometry.outChannels * geometry.patchSize) * Double(x.shape[1] * ho * wo))
        let prepared = preparedWeights(outputPixels: ho * wo)
        guard mode == .training else {
            keptInput = nil
            return Convolution.forward(x, weight: weight.value, bias: bias?.value, geometry: geometry, prepared: prepared,
                                       workspace: &workspace.buffer)
        }
        return Convolution.forward(x, weight: weight.value, bias: bias?.value, geometry: geometry, prepared: prepared,
                                   keeping: &keptInput, workspace: &workspace.buffer)
    }

    /// Winograd's transformed input from the last training forward pass, for the weight gradient (its
    /// buffer reused from step to step; dropped by an inference pass).
    private var keptInput: Winograd.KeptInput?

    /// Winograd's transformed weights U while the weight is unchanged (`Parameter.version`) and the
    /// variant current, within `PreparedWeightsBudget`: across inference passes, and in training from
    /// the forward pass to the backward pass's input gradient (every optimiser step changes the
    /// weight, so the next forward pass makes U again, in the same buffer).
    private var prepared: (version: Int, weights: Winograd.PreparedWeights)?

    private func preparedWeights(outputPixels: Int) -> Winograd.PreparedWeights? {
        guard Winograd.applies(to: geometry, outputPixels: outputPixels) else {
            dropPreparedWeights()
            return nil
        }
        if let prepared, prepared.version == weight.version, prepared.weights.variant == Winograd.variant {
            return prepared.weights
        }
        var old = prepared?.weights
        let heldBytes = old?.byteCount ?? 0
        prepared = nil
        let weights = Winograd.prepare(weight.value, for: geometry, reusing: &old)
        // The layer's share of the budget follows U's size (the variant's).
        if weights.byteCount == heldBytes || PreparedWeightsBudget.reserve(weights.byteCount - heldBytes) {
            prepared = (weight.version, weights)
        } else {
            PreparedWeightsBudget.release(heldBytes)
        }
        return weights
    }

    private func dropPreparedWeights() {
        guard let prepared else { return }
        PreparedWeightsBudget.release(prepared.weights.byteCount)
        self.prepared = nil
    }

    deinit { dropPreparedWeights() }

    public func backward(_ dy: Tensor) -> Tensor {
        guard let input else { preconditionFailure("Convolution2D.backward without a training forward pass") }
        var biasGradient = bias?.gradient
        let current = prepared.flatMap { $0.version == weight.version ? $0.weights : nil }
        let dx = Convolution.backward(dy, input: input, weight: weight.value, geometry: geometry,
                                      weightGradient: &weight.gradient, biasGradient: &biasGradient,
                                      workspace: &workspace.buffer, inputGradient: computesInputGradient, prepared: current,
                                      kept: keptInput)
        if let biasGradient { bias?.gradient = biasGradient }
        self.input = nil
        keptInput = nil
        return dx
    }

    public func state(prefix: String) -> [(name: String, entry: StateEntry)] {
        var entries: [(name: String, entry: StateEntry)] = [(prefix + "weight", .parameter(weight))]
        if let bias { entries.append((prefix + "bias", .parameter(bias))) }
        return entries
    }
}

/// What the layers of a process may hold of weights kept in a derived form between inference passes
/// (Winograd's transformed weights, four times a 3x3 weight's size with F(4x4)): 150 MB for a
/// ResNet-18. Past it a layer transforms its weights on every pass, as in training, so a command that
/// holds many networks at once (`canopy predict --images` over every fold of every model) does not
/// multiply its memory.
public enum PreparedWeightsBudget {
    /// In bytes (512 MB: three ResNet-18s).
    nonisolated(unsafe) public static var limit = 512 << 20
    private static let used = Mutex(0)

    /// The bytes held now.
    public static var held: Int { used.withLock { $0 } }

    static func reserve(_ bytes: Int) -> Bool {
        used.withLock { used in
            guard used + bytes <= limit else { return false }
            used += bytes
            return true
        }
    }

    static func release(_ bytes: Int) {
        used.withLock { $0 -= bytes }
    }
}

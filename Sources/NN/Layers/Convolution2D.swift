import Tensor

/// 2-D convolution (groups = 1) on [C, N, H, W]; weight [Co, Ci, kh, kw] as PyTorch stores it.
public final class Convolution2D: Layer {
    public let geometry: ConvolutionGeometry
    public let weight: Parameter
    public let bias: Parameter?
    /// The path each call takes and what it keeps between calls (workspace, transformed weights and
    /// input, the saved input).
    private let plan: ConvolutionPlan
    /// False for a network's first layer: its input is the image, whose gradient nobody uses, so
    /// backward skips it and returns an empty tensor.
    public var computesInputGradient = true
    /// The batch norm right after this layer (`fuseInferenceEpilogues`): in inference this layer applies
    /// it (and the ReLU fused into it) as it writes its output, and the batch norm passes values through.
    public internal(set) var foldedBatchNorm: BatchNorm?
    /// The max pool after that batch norm (and its ReLU), which this layer then applies too.
    public internal(set) var foldedMaxPool: MaxPool2D?
    /// Set by a residual block just before an inference pass of its body, whose last convolution this
    /// is: the shortcut to add in the output pass, and whether the block's ReLU follows.
    var pendingResidual: (shortcut: Tensor, relu: Bool)?

    /// Weights drawn with PyTorch's default for convolutions (uniform ±1/√fan_in), bias likewise.
    public init(_ geometry: ConvolutionGeometry, bias: Bool = true, workspace: Workspace = Workspace(),
                random: inout SeededRandom) {
        self.geometry = geometry
        let g = geometry
        let fanIn = g.patchSize
        weight = Parameter(torchDefaultUniform(shape: [g.outChannels, g.inChannels, g.kernel.height, g.kernel.width],
                                               fanIn: fanIn, random: &random))
        self.bias = bias ? Parameter(torchDefaultUniform(shape: [g.outChannels], fanIn: fanIn, random: &random)) : nil
        plan = ConvolutionPlan(geometry, workspace: workspace)
    }

    public convenience init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
                            bias: Bool = true, workspace: Workspace = Workspace(), random: inout SeededRandom) {
        self.init(ConvolutionGeometry(inChannels: inChannels, outChannels: outChannels, kernel: kernel, stride: stride,
                                      padding: padding),
                  bias: bias, workspace: workspace, random: &random)
    }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        let (ho, wo) = geometry.outputSize(height: x.shape[2], width: x.shape[3])
        CostMeter.addFlops(2 * Double(geometry.outChannels * geometry.patchSize) * Double(x.shape[1] * ho * wo))
        let residual = pendingResidual
        pendingResidual = nil
        if mode == .inference, let batchNorm = foldedBatchNorm, EngineSettings.current.fusedInferenceEpilogues {
            let epilogue = ConvolutionEpilogue(batchNorm: batchNorm.weight.value, beta: batchNorm.bias.value,
                                               runningMean: batchNorm.runningMean.value, runningVariance: batchNorm.runningVariance.value,
                                               epsilon: batchNorm.epsilon, convolutionBias: bias?.value, residual: residual?.shortcut,
                                               relu: residual?.relu ?? batchNorm.appliesReLU, pooling: foldedMaxPool?.geometry)
            return plan.forward(x, weight: weight.value, weightVersion: weight.version, bias: nil, training: false, epilogue: epilogue)
        }
        precondition(residual == nil, "a residual for a convolution that does not fold its batch norm")
        return plan.forward(x, weight: weight.value, weightVersion: weight.version, bias: bias?.value, training: mode == .training)
    }

    public func backward(_ dy: Tensor) -> Tensor {
        var biasGradient = bias?.gradient
        let dx = plan.backward(dy, weight: weight.value, weightVersion: weight.version, weightGradient: &weight.gradient,
                               biasGradient: &biasGradient, inputGradient: computesInputGradient)
        if let biasGradient { bias?.gradient = biasGradient }
        return dx
    }

    public func state(prefix: String) -> [(name: String, entry: StateEntry)] {
        var entries: [(name: String, entry: StateEntry)] = [(prefix + "weight", .parameter(weight))]
        if let bias { entries.append((prefix + "bias", .parameter(bias))) }
        return entries
    }
}

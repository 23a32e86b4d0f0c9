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
        return Convolution.forward(x, weight: weight.value, bias: bias?.value, geometry: geometry, workspace: &workspace.buffer)
    }

    public func backward(_ dy: Tensor) -> Tensor {
        guard let input else { preconditionFailure("Convolution2D.backward without a training forward pass") }
        var biasGradient = bias?.gradient
        let dx = Convolution.backward(dy, input: input, weight: weight.value, geometry: geometry,
                                      weightGradient: &weight.gradient, biasGradient: &biasGradient,
                                      workspace: &workspace.buffer, inputGradient: computesInputGradient)
        if let biasGradient { bias?.gradient = biasGradient }
        return dx
    }

    public func state(prefix: String) -> [(name: String, entry: StateEntry)] {
        var entries: [(name: String, entry: StateEntry)] = [(prefix + "weight", .parameter(weight))]
        if let bias { entries.append((prefix + "bias", .parameter(bias))) }
        return entries
    }
}

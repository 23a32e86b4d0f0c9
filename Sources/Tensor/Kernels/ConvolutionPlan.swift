/// Scratch memory for unfolded convolution inputs, shared by the convolutions of one model: layers run
/// one at a time, so one buffer sized for the largest layer serves them all.
public final class Workspace {
    var buffer: [Float] = []
    public init() {}
}

/// A convolution's weights in the form its path multiplies by, which a layer keeps while the weights
/// are unchanged: Winograd's U or the small-map tap matrices.
public enum PreparedConvolutionWeights: Sendable {
    case winograd(Winograd.PreparedWeights)
    case smallMap(SmallMapConvolution.PreparedWeights)

    public var winograd: Winograd.PreparedWeights? {
        if case .winograd(let u) = self { u } else { nil }
    }

    public var smallMap: SmallMapConvolution.PreparedWeights? {
        if case .smallMap(let taps) = self { taps } else { nil }
    }

    public var byteCount: Int {
        switch self {
        case .winograd(let u): u.byteCount
        case .smallMap(let taps): taps.byteCount
        }
    }

    /// The form the path that runs `g` on `height` x `width` inputs under `settings` multiplies by, or
    /// nil where that path is the unfolded GEMM on the weights themselves.
    static func wanted(for g: ConvolutionGeometry, height: Int, width: Int, training: Bool, settings: EngineSettings) -> Kind? {
        let (ho, wo) = g.outputSize(height: height, width: width)
        if settings.smallMaps.applies(to: g, height: height, width: width, training: training) { return .smallMap }
        return settings.winograd.applies(to: g, outputPixels: ho * wo) ? .winograd : nil
    }

    enum Kind { case winograd, smallMap }

    /// Whether these weights serve `kind` for `g` on `height` x `width` inputs under `settings`.
    func fits(_ kind: Kind, _ g: ConvolutionGeometry, height: Int, width: Int, settings: EngineSettings) -> Bool {
        switch (self, kind) {
        case (.winograd(let u), .winograd): u.geometry == g && u.variant == settings.winograd.variant
        case (.smallMap(let taps), .smallMap): taps.fits(g, height: height, width: width)
        default: false
        }
    }

    /// `kind`'s form of `weight`, in `old`'s buffer when it is of the same kind and size; `old` is emptied.
    static func prepare(_ kind: Kind, _ weight: Tensor, for g: ConvolutionGeometry, height: Int, width: Int,
                        reusing old: inout PreparedConvolutionWeights?) -> PreparedConvolutionWeights {
        switch kind {
        case .winograd:
            var u = old?.winograd
            old = nil
            return .winograd(Winograd.prepare(weight, for: g, reusing: &u))
        case .smallMap:
            var taps = old?.smallMap
            old = nil
            return .smallMap(SmallMapConvolution.prepare(weight, for: g, height: height, width: width, reusing: &taps))
        }
    }
}

/// What one convolution keeps from call to call, and the choice of path for each: the shared
/// workspace, the weights as its path multiplies them (Winograd's U, the small-map tap matrices)
/// while they are unchanged, and from a training forward pass to its backward pass the input and
/// Winograd's transformed input V. The path and its sizes follow `EngineSettings.current` at each
/// call (a change of variant makes U again).
public final class ConvolutionPlan {
    public let geometry: ConvolutionGeometry
    private let workspace: Workspace
    /// The last training forward pass's input, until its backward pass; let go where the backward pass
    /// needs only V (`Convolution.needsInput(keeping:)`), so the activation is freed as soon as no
    /// other layer holds it.
    private var input: Tensor?
    /// V from the last training forward pass, for the weight gradient (its buffer reused from step to
    /// step; dropped by an inference pass).
    private var keptInput: Winograd.KeptInput?
    /// U or the tap matrices while the weights' version is unchanged and the path current, within the
    /// settings' budget (`PreparedWeightsBudget`, charged here and released to the same budget): across inference
    /// passes, and in training from the forward pass to the backward pass's input gradient (every
    /// optimiser step changes the weights, so the next forward pass makes U again, in the same buffer).
    private var prepared: (version: Int, weights: PreparedConvolutionWeights, budget: PreparedWeightsBudget)?

    /// Whether the plan holds its last training forward pass's input (else its backward pass needs V alone).
    public var holdsInput: Bool { input != nil }

    public init(_ geometry: ConvolutionGeometry, workspace: Workspace = Workspace()) {
        self.geometry = geometry
        self.workspace = workspace
    }

    deinit { dropPreparedWeights() }

    /// y = conv(x); `weightVersion` changes whenever the weights do (U is remade then). A training
    /// pass keeps what its backward pass needs.
    /// `epilogue`: inference only (`Convolution.forward`).
    public func forward(_ x: Tensor, weight: Tensor, weightVersion: Int, bias: Tensor?, training: Bool,
                        epilogue: ConvolutionEpilogue? = nil) -> Tensor {
        precondition(epilogue == nil || !training, "an epilogue replaces layers' inference passes only")
        input = training ? x : nil
        let prepared = preparedWeights(weight, version: weightVersion, height: x.shape[2], width: x.shape[3], training: training)
        guard training else {
            keptInput = nil
            return Convolution.forward(x, weight: weight, bias: bias, geometry: geometry, prepared: prepared, epilogue: epilogue,
                                       workspace: &workspace.buffer)
        }
        let y = Convolution.forward(x, weight: weight, bias: bias, geometry: geometry, prepared: prepared,
                                    keeping: &keptInput, workspace: &workspace.buffer)
        if !Convolution.needsInput(keeping: keptInput) { input = nil }
        return y
    }

    /// Returns dx (empty without `inputGradient`); accumulates into `weightGradient` and `biasGradient`.
    public func backward(_ dy: Tensor, weight: Tensor, weightVersion: Int, weightGradient: inout Tensor,
                         biasGradient: inout Tensor?, inputGradient: Bool) -> Tensor {
        let current = prepared.flatMap { $0.version == weightVersion ? $0.weights : nil }
        let dx = if let input {
            Convolution.backward(dy, input: input, weight: weight, geometry: geometry, weightGradient: &weightGradient,
                                 biasGradient: &biasGradient, workspace: &workspace.buffer, inputGradient: inputGradient,
                                 prepared: current, kept: keptInput)
        } else if let keptInput {
            Convolution.backward(dy, keptOnly: keptInput, weight: weight, geometry: geometry, weightGradient: &weightGradient,
                                 biasGradient: &biasGradient, workspace: &workspace.buffer, inputGradient: inputGradient,
                                 prepared: current)
        } else {
            preconditionFailure("convolution backward without a training forward pass")
        }
        self.input = nil
        keptInput = nil
        return dx
    }

    /// U, or the small-map tap matrices, made once a training step for the forward pass and the input gradient.
    private func preparedWeights(_ weight: Tensor, version: Int, height: Int, width: Int, training: Bool) -> PreparedConvolutionWeights? {
        let settings = EngineSettings.current
        guard let kind = PreparedConvolutionWeights.wanted(for: geometry, height: height, width: width, training: training,
                                                           settings: settings) else {
            dropPreparedWeights()
            return nil
        }
        if let prepared, prepared.version == version, prepared.weights.fits(kind, geometry, height: height, width: width, settings: settings),
           prepared.budget === settings.preparedWeights {
            return prepared.weights
        }
        var old = prepared?.weights
        if let prepared, prepared.budget !== settings.preparedWeights {
            prepared.budget.release(prepared.weights.byteCount)
            self.prepared = nil
        }
        let heldBytes = self.prepared?.weights.byteCount ?? 0
        self.prepared = nil
        let weights = PreparedConvolutionWeights.prepare(kind, weight, for: geometry, height: height, width: width, reusing: &old)
        // The share of the budget follows the size of what is kept (the path's, the variant's).
        if weights.byteCount == heldBytes || settings.preparedWeights.reserve(weights.byteCount - heldBytes) {
            self.prepared = (version, weights, settings.preparedWeights)
        } else {
            settings.preparedWeights.release(heldBytes)
        }
        return weights
    }

    private func dropPreparedWeights() {
        guard let prepared else { return }
        prepared.budget.release(prepared.weights.byteCount)
        self.prepared = nil
    }
}

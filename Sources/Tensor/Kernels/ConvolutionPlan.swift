/// Scratch memory for unfolded convolution inputs, shared by the convolutions of one model: layers run
/// one at a time, so one buffer sized for the largest layer serves them all.
public final class Workspace {
    var buffer: [Float] = []
    public init() {}
}

/// What one convolution keeps from call to call, and the choice of path for each: the shared
/// workspace, Winograd's transformed weights U while the weights are unchanged, and from a training
/// forward pass to its backward pass the input and Winograd's transformed input V. The path and its
/// sizes follow `EngineSettings.current` at each call (a change of variant makes U again).
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
    /// U while the weights' version is unchanged and the variant current, within the settings' budget
    /// (`PreparedWeightsBudget`, charged here and released to the same budget): across inference
    /// passes, and in training from the forward pass to the backward pass's input gradient (every
    /// optimiser step changes the weights, so the next forward pass makes U again, in the same buffer).
    private var prepared: (version: Int, weights: Winograd.PreparedWeights, budget: PreparedWeightsBudget)?

    /// Whether the plan holds its last training forward pass's input (else its backward pass needs V alone).
    public var holdsInput: Bool { input != nil }

    public init(_ geometry: ConvolutionGeometry, workspace: Workspace = Workspace()) {
        self.geometry = geometry
        self.workspace = workspace
    }

    deinit { dropPreparedWeights() }

    /// y = conv(x); `weightVersion` changes whenever the weights do (U is remade then). A training
    /// pass keeps what its backward pass needs.
    public func forward(_ x: Tensor, weight: Tensor, weightVersion: Int, bias: Tensor?, training: Bool) -> Tensor {
        input = training ? x : nil
        let (ho, wo) = geometry.outputSize(height: x.shape[2], width: x.shape[3])
        let prepared = preparedWeights(weight, version: weightVersion, outputPixels: ho * wo)
        guard training else {
            keptInput = nil
            return Convolution.forward(x, weight: weight, bias: bias, geometry: geometry, prepared: prepared,
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

    private func preparedWeights(_ weight: Tensor, version: Int, outputPixels: Int) -> Winograd.PreparedWeights? {
        let settings = EngineSettings.current
        guard settings.winograd.applies(to: geometry, outputPixels: outputPixels) else {
            dropPreparedWeights()
            return nil
        }
        if let prepared, prepared.version == version, prepared.weights.variant == settings.winograd.variant,
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
        let weights = Winograd.prepare(weight, for: geometry, reusing: &old)
        // The share of the budget follows U's size (the variant's).
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

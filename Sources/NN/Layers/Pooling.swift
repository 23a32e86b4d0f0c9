import Tensor

/// Max pooling (kernel, stride, padding, ceil mode as PyTorch's MaxPool2d).
public final class MaxPool2D: Layer {
    public let geometry: PoolingGeometry
    private var cache: (argmax: [Int32], inputShape: [Int])?
    /// The convolution before this layer pools its own output in inference (`fuseInferenceEpilogues`):
    /// values pass through then.
    public internal(set) var isFoldedIntoConvolution = false

    public init(kernel: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false) {
        geometry = PoolingGeometry(kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode)
    }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        if mode == .inference && isFoldedIntoConvolution && EngineSettings.current.fusedInferenceEpilogues {
            cache = nil
            return x
        }
        let (y, argmax) = MaxPooling.forward(x, geometry: geometry, recordingArgmax: mode == .training)
        cache = mode == .training ? (argmax, x.shape) : nil
        return y
    }

    public func backward(_ dy: Tensor) -> Tensor {
        guard let cache else { preconditionFailure("MaxPool2D.backward without a training forward pass") }
        self.cache = nil
        return MaxPooling.backward(dy, argmax: cache.argmax, inputShape: cache.inputShape)
    }
}

/// Average pooling (PyTorch's AvgPool2d, count_include_pad by default).
public final class AvgPool2D: Layer {
    public let geometry: PoolingGeometry
    public let countIncludePad: Bool
    private var inputShape: [Int] = []

    public init(kernel: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false, countIncludePad: Bool = true) {
        geometry = PoolingGeometry(kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode)
        self.countIncludePad = countIncludePad
    }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        inputShape = x.shape
        return AveragePooling.forward(x, geometry: geometry, countIncludePad: countIncludePad)
    }

    public func backward(_ dy: Tensor) -> Tensor {
        AveragePooling.backward(dy, inputShape: inputShape, geometry: geometry, countIncludePad: countIncludePad)
    }
}

/// Adaptive average pooling to a fixed size; `AdaptiveAvgPool2D(1, 1)` is global average pooling.
public final class AdaptiveAvgPool2D: Layer {
    public let outputHeight: Int
    public let outputWidth: Int
    private var inputShape: [Int] = []

    public init(_ outputHeight: Int, _ outputWidth: Int) {
        self.outputHeight = outputHeight
        self.outputWidth = outputWidth
    }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        inputShape = x.shape
        return AdaptiveAveragePooling.forward(x, outputHeight: outputHeight, outputWidth: outputWidth)
    }

    public func backward(_ dy: Tensor) -> Tensor {
        AdaptiveAveragePooling.backward(dy, inputShape: inputShape)
    }
}

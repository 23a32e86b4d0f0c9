import Tensor
import XCTest

/// Every parallel kernel split into as many chunks as there are workers, even on tiny inputs, and
/// compared with its one-worker result: the split must not change a single value. Run under
/// ThreadSanitizer (scripts/sanitize.sh thread TensorTests), this is the data-race check.
final class ParallelKernelTests: XCTestCase {
    private var random = SeededRandom(seed: 77)

    private func randomTensor(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in random.nextNormal() })
    }

    /// Runs `body` with one worker and with four forced splits; both results must be identical.
    private func assertSplitInvariant(_ label: String, _ body: () -> [Tensor]) {
        let serial = EngineSettings.adjusting({ $0.workers = 1 }, body)
        let split = EngineSettings.adjusting({ ($0.workers, $0.minimumWorkPerChunk) = (4, 1) }, body)
        XCTAssertEqual(serial, split, label)
    }

    func testKernelsGiveTheSameResultSplitAcrossThreads() {
        let x = randomTensor([3, 4, 9, 8]), dyShape = [5, 4, 9, 8]
        let weight = randomTensor([5, 3, 3, 3]), bias = randomTensor([5]), dy = randomTensor(dyShape)
        let g = ConvolutionGeometry(inChannels: 3, outChannels: 5, kernel: 3, stride: 1, padding: 1)
        assertSplitInvariant("convolution") {
            var workspace: [Float] = []
            let y = Convolution.forward(x, weight: weight, bias: bias, geometry: g, workspace: &workspace)
            var dw = Tensor(shape: weight.shape)
            var db: Tensor? = Tensor(shape: [5])
            let dx = Convolution.backward(dy, input: x, weight: weight, geometry: g, weightGradient: &dw, biasGradient: &db,
                                          workspace: &workspace)
            return [y, dx, dw, db!]
        }
        let strided = ConvolutionGeometry(inChannels: 3, outChannels: 5, kernel: 3, stride: 2, padding: 1)
        assertSplitInvariant("strided convolution") {
            var workspace: [Float] = []
            let y = Convolution.forward(x, weight: weight, bias: nil, geometry: strided, workspace: &workspace)
            var dw = Tensor(shape: weight.shape)
            var db: Tensor? = nil
            let dx = Convolution.backward(randomTensorSeeded(y.shape), input: x, weight: weight, geometry: strided,
                                          weightGradient: &dw, biasGradient: &db, workspace: &workspace)
            return [y, dx, dw]
        }
        assertSplitInvariant("pooling") {
            let pool = PoolingGeometry(kernel: 3, stride: 2, padding: 1)
            let (y, argmax) = MaxPooling.forward(x, geometry: pool)
            let dx = MaxPooling.backward(y, argmax: argmax, inputShape: x.shape)
            let adaptive = AdaptiveAveragePooling.forward(x, outputHeight: 2, outputWidth: 3)
            return [y, dx, adaptive, AdaptiveAveragePooling.backward(adaptive, inputShape: x.shape)]
        }
        assertSplitInvariant("batch norm") {
            var mean = Tensor(shape: [3]), variance = Tensor(shape: [3], repeating: 1)
            var dGamma = Tensor(shape: [3]), dBeta = Tensor(shape: [3])
            let gamma = Tensor(shape: [3], scalars: [1, 0.5, 2]), beta = Tensor(shape: [3], scalars: [0, 1, -1])
            let (y, statistics) = BatchNormalization.forwardTraining(x, gamma: gamma, beta: beta, runningMean: &mean,
                                                                     runningVariance: &variance, momentum: 0.1, epsilon: 1e-5)
            let dx = BatchNormalization.backward(y, input: x, gamma: gamma, statistics: statistics, gammaGradient: &dGamma,
                                                 betaGradient: &dBeta)
            return [y, dx, dGamma, dBeta, mean, variance]
        }
        assertSplitInvariant("LRN, activations, plumbing") {
            let p = LocalResponseNormalization.Parameters(size: 5, alpha: 0.1, beta: 0.75, k: 2)
            let (y, scale) = LocalResponseNormalization.forward(x, p)
            let dx = LocalResponseNormalization.backward(y, input: x, scale: scale, p)
            let relu = Activation.reluForward(x)
            let flat = TensorPlumbing.flatten(x)
            return [y, dx, relu, Activation.reluBackward(x, output: relu), Activation.sigmoidForward(x), flat,
                    TensorPlumbing.unflatten(flat, to: x.shape)]
        }
    }

    private func randomTensorSeeded(_ shape: [Int]) -> Tensor {
        var local = SeededRandom(seed: 5)
        return Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in local.nextNormal() })
    }
}

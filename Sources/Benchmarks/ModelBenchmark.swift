import Backbones
import Foundation
import NN
import Support
import Tensor

/// Training and inference speed of one backbone on random data (17 sigmoid outputs, BCE, SGD with
/// momentum), as the peer scripts in benchmarks/reference measure PyTorch and Keras: warm-up steps
/// excluded, images/s over the timed steps, and the process's peak resident memory.
public struct ModelBenchmark {
    public struct Result: Sendable {
        public var imagesPerSecond: Double
        /// Forward GFLOPs per image x 3 for a training step (forward, and backward's two products), x 1 for inference.
        public var gflops: Double
        public var peakRSSMegabytes: Double
        public var secondsPerStep: [Double]
        /// With `profile`: per-layer times summed over `profiledSteps` further steps.
        public var profile: [LayerProfiler.Row] = []
        public var profiledSeconds: Double = 0
        public var profiledSteps: Int = 0
        /// With `profile`: the most the allocator held in allocated blocks after any layer, and after
        /// which (`LayerProfiler.peakHeapInUse`); and what it held from the system at the end.
        public var peakHeapInUse: (bytes: Int, after: String)?
        public var heapSize: Int?
        /// With `profile`: the optimiser's steps' seconds, summed over the profiled steps.
        public var optimizerSeconds: Double = 0
    }

    /// The training step's optimiser: SGD with momentum 0.9 (the peers' benchmark scripts), or Adam
    /// (what the shipped recipes train with).
    public enum OptimizerChoice: String, CaseIterable, Sendable {
        case sgd, adam
    }

    public var model: String
    public var size: Int
    public var batch: Int
    public var bands: Int
    public var steps: Int
    public var warmup: Int
    /// After the timed steps, as many again with every leaf layer timed (`LayerProfiler`).
    public var profile = false
    public var optimizer = OptimizerChoice.sgd

    public init(model: String, size: Int, batch: Int, bands: Int = 3, steps: Int = 10, warmup: Int = 2) {
        self.model = model
        self.size = size
        self.batch = batch
        self.bands = bands
        self.steps = steps
        self.warmup = warmup
    }

    func makeModel() throws -> Layer {
        var random = SeededRandom(seed: 1)
        guard let network = BackboneRegistry.make(model, bands: bands, random: &random) else {
            throw BenchmarkError("unknown model \(model); known: \(BackboneRegistry.names.joined(separator: ", "))")
        }
        return network
    }

    func randomBatch() -> (Tensor, Tensor) {
        var random = SeededRandom(seed: 2)
        let input = Tensor(shape: [bands, batch, size, size], scalars: (0..<(bands * batch * size * size)).map { _ in random.nextNormal() })
        let targets = Tensor(shape: [17, batch], scalars: (0..<(17 * batch)).map { _ in random.nextUniform() < 0.3 ? 1 : 0 })
        return (input, targets)
    }

    /// Forward GFLOPs per image (2 per multiply-add), counted by running one image.
    func forwardGflopsPerImage(_ network: Layer) -> Double {
        let one = Tensor(shape: [bands, 1, size, size])
        return CostMeter.measure { _ = network.forward(one, mode: .inference) }.flops / 1e9
    }

    /// Seconds of each of `steps` runs of `step`, after `warmup` untimed ones.
    func timedSteps(_ step: () -> Void) -> [Double] {
        for _ in 0..<warmup { step() }
        return (0..<steps).map { _ in timed(step) }
    }

    public func train() throws -> Result {
        let network = try makeModel()
        let optimizer: Optimizer = switch self.optimizer {
        case .sgd: SGD(learningRate: 0.01, momentum: 0.9)
        case .adam: Adam(learningRate: 1e-3)
        }
        let (input, targets) = randomBatch()
        var optimizerSeconds = 0.0
        func step() {
            let logits = network.forward(input, mode: .training)
            let (_, gradient) = BinaryCrossEntropy().lossAndGradient(logits: logits, targets: targets)
            network.zeroGradients()
            _ = network.backward(gradient)
            optimizerSeconds += timed { optimizer.step(network.namedParameters) }
        }
        let times = timedSteps(step)
        let perStep = median(times)
        var result = Result(imagesPerSecond: Double(batch) / perStep, gflops: 3 * forwardGflopsPerImage(network) * Double(batch) / perStep,
                            peakRSSMegabytes: peakResidentMegabytes(), secondsPerStep: times)
        if profile {
            optimizerSeconds = 0
            record(&result, step)
            result.optimizerSeconds = optimizerSeconds
        }
        return result
    }

    /// `profile`: as many more steps with every layer timed, into `result`.
    private func record(_ result: inout Result, _ step: () -> Void) {
        let profiler = LayerProfiler()
        result.profiledSeconds = timed { profiler.record { for _ in 0..<steps { step() } } }
        result.profile = profiler.table
        result.profiledSteps = steps
        result.peakHeapInUse = profiler.peakHeapInUse
        result.heapSize = MemoryPolicy.heapSize()
    }

    public func infer() throws -> Result {
        let network = try makeModel()
        let (input, _) = randomBatch()
        func step() { blackHole(network.probabilities(input).count) }
        let times = timedSteps(step)
        let perStep = median(times)
        var result = Result(imagesPerSecond: Double(batch) / perStep, gflops: forwardGflopsPerImage(network) * Double(batch) / perStep,
                            peakRSSMegabytes: peakResidentMegabytes(), secondsPerStep: times)
        if profile { record(&result, step) }
        return result
    }
}

public struct BenchmarkError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

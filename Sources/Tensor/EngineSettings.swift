import Foundation
import Synchronization

/// How the engine computes: which convolution algorithm runs where, how work is grouped and split
/// over the cores, and how much memory kernels may keep. A value, scoped to the code that runs under
/// it (`EngineSettings.with(settings) { ... }`, a task-local): two networks in one process can run at
/// the same time under different settings, and a call under no scope gets the defaults (measured best
/// on 2 cores with `canopy bench kernels`). Settings choose the algorithm, never the result beyond
/// float rounding.
public struct EngineSettings: Sendable, Equatable {
    /// Winograd convolution for 3x3 stride-1 layers (`Winograd`).
    public struct WinogradSettings: Sendable, Equatable {
        /// Off: every convolution takes the unfold + GEMM path (`canopy bench kernels` compares both).
        public var enabled = true
        /// The algorithm used where Winograd applies.
        public var variant = Winograd.Variant.f4x4
        /// Floats of V + M a tile group aims at (32 MB: a ResNet-18's layer3 at 128 px, batch 32, in one group).
        public var targetGroupFloats = 8 << 20
        /// Fewest channels each way, and fewest output pixels per image, for Winograd to be used; the
        /// weight gradient needs more pixels (its GEMMs sum over the tiles).
        public var minimumChannels = 64
        public var minimumOutputPixels = 16
        public var minimumWeightGradientPixels = 64
        /// The α² GEMMs of a group split across the workers, each running OpenBLAS on one thread,
        /// rather than one after another on OpenBLAS's threads (which meet after every GEMM).
        public var gemmsAcrossWorkers = true
        /// Where V is not kept (inference), each worker takes its own images through the whole pass
        /// (input transform, α² GEMMs with OpenBLAS on one thread, output transform) in groups of
        /// about `workerGroupFloats` of V + M, so a group stays in its core's cache from step to step.
        public var groupsAcrossWorkers = true
        public var workerGroupFloats = 1 << 18

        public init() {}

        /// 3x3, stride 1, padding at most 2, and where it measured faster than the direct path
        /// (`canopy bench kernels`, ResNet-18 at 128 px, batch 32, 2 threads, F(4x4)): at least 64
        /// channels each way, on maps of 4x4 or more (1.4x on layer4's 4x4 maps, 1.9-2.2x on 8x8 to 32x32).
        public func applies(to g: ConvolutionGeometry, outputPixels: Int) -> Bool {
            enabled && g.kernel == (3, 3) && g.stride == (1, 1) && g.padding.height <= 2 && g.padding.width <= 2
                && g.inChannels >= minimumChannels && g.outChannels >= minimumChannels && outputPixels >= minimumOutputPixels
        }

        /// Where the weight gradient goes through Winograd too: maps of 8x8 or more (on 4x4 maps a batch
        /// of 32 has 32 tiles, and GEMMs summing over 32 run at a fraction of the direct path's speed).
        public func appliesToWeightGradient(of g: ConvolutionGeometry, outputPixels: Int) -> Bool {
            applies(to: g, outputPixels: outputPixels) && outputPixels >= minimumWeightGradientPixels
        }
    }

    /// The unfold + GEMM path of every other convolution (`Convolution`).
    public struct ConvolutionSettings: Sendable, Equatable {
        /// Largest unfolded buffer, in floats (64 Mi floats = 256 MB).
        public var workspaceLimit = 64 << 20
        /// Whether stride-1 convolutions take their input gradient by the transposed convolution (else
        /// by fold); `canopy bench kernels` times both.
        public var transposedInputGradient = true
        /// Unfolded buffer a group aims for, in floats: small enough to stay in cache between the
        /// unfold that writes it and the GEMM that reads it.
        public var targetGroupFloats = 1 << 20
        /// Fewest GEMM columns per group: below this the GEMM itself loses more than the cache saves.
        public var minimumGroupColumns = 8192
        /// The forward pass's image groups split across the workers, each unfolding into its own
        /// buffer and multiplying with OpenBLAS on one thread, so a group stays in its core's cache:
        /// groups of `workerGroupFloats` unfolded floats (1 MB), but at least `minimumWorkerColumns`
        /// GEMM columns (a one-thread GEMM on fewer runs slower than the pair).
        public var groupsAcrossWorkers = true
        public var workerGroupFloats = 1 << 18
        public var minimumWorkerColumns = 512
        /// Where one image's unfolded input is over `workerGroupFloats`, each worker's group is a band
        /// of that image's output rows (`Convolution.workerBandRows`).
        public var bandsAcrossWorkers = true
        /// A convolution whose epilogue max-pools (`ConvolutionEpilogue.pooling`) pools each image while
        /// it is in cache where the batch's unpooled output is at least this many floats (16 MB: a
        /// ResNet's stem at 128 px writes 32 MB and gains; at 64 px, 8 MB that stay in the L3, it did not).
        public var pooledInCacheFloats = 4 << 20

        public init() {}
    }

    /// Convolutions on small maps by their taps' GEMMs (`SmallMapConvolution`), which skip the
    /// products of the padding: where those are a large share of the direct path's.
    public struct SmallMapSettings: Sendable, Equatable {
        public var enabled = true
        /// Largest share of the direct path's products (output pixels × kernel taps) for the taps'
        /// GEMMs: always where it is at most `share` (a 3x3 kernel on 2x2 or 1x1 maps: 0.44 and 0.11);
        /// strided convolutions up to `stridedShare` (0.69 from 4x4 to 2x2, 0.84 from 8x8 to 4x4; 0.92
        /// from 16x16 to 8x8 measured no faster); stride-1 convolutions, which Winograd takes otherwise,
        /// in training up to `trainingShare` (4x4 maps, 0.69: as fast as Winograd, whose transformed
        /// weights are 4 times the taps'; 6x6 maps, 0.79: 54 against 74 ms a step for layer3 at 96 px;
        /// 8x8 maps, 0.84, are twice as slow as Winograd).
        /// `canopy bench train|infer --profile`, ResNet-18 at 64, 96 and 128 px.
        public var share = 0.5
        public var stridedShare = 0.9
        public var trainingShare = 0.8

        public init() {}

        /// Whether `g` on `height` x `width` inputs takes the taps' GEMMs (`training`: a training
        /// step's forward and backward passes).
        public func applies(to g: ConvolutionGeometry, height: Int, width: Int, training: Bool = false) -> Bool {
            let (ho, wo) = g.outputSize(height: height, width: width)
            guard enabled && ho > 0 && wo > 0 && g.kernel != (1, 1) else { return false }
            let share = productShare(of: g, height: height, width: width)
            if share <= self.share { return true }
            if g.stride != (1, 1) { return share <= stridedShare }
            return training && share <= trainingShare
        }

        /// The products of every (output pixel, input pixel) pair a tap joins, over the direct path's
        /// (every output pixel times every tap, padding included).
        public func productShare(of g: ConvolutionGeometry, height: Int, width: Int) -> Double {
            let (ho, wo) = g.outputSize(height: height, width: width)
            func pairs(outputs: Int, inputs: Int, kernel: Int, stride: Int, padding: Int) -> Int {
                (0..<outputs).reduce(0) { sum, o in
                    let first = o * stride - padding
                    return sum + max(0, min(inputs, first + kernel) - max(0, first))
                }
            }
            let rows = pairs(outputs: ho, inputs: height, kernel: g.kernel.height, stride: g.stride.height, padding: g.padding.height)
            let columns = pairs(outputs: wo, inputs: width, kernel: g.kernel.width, stride: g.stride.width, padding: g.padding.width)
            return Double(rows * columns) / Double(ho * wo * g.kernel.height * g.kernel.width)
        }
    }

    public var winograd = WinogradSettings()
    public var smallMaps = SmallMapSettings()
    /// In inference, the batch norm after a convolution (with its ReLU), and a residual block's sum and
    /// ReLU after its last one, applied in the convolution's output pass (`ConvolutionEpilogue`, set up
    /// by `fuseInferenceEpilogues`); off, each layer makes its own pass.
    public var fusedInferenceEpilogues = true
    /// On one thread, a product of few columns in blocks of rows, or of few rows and a short sum in
    /// blocks of columns, that OpenBLAS multiplies without packing (`BLAS.gemm`); off, one call.
    public var gemmBlocks = true
    public var convolution = ConvolutionSettings()
    /// How many chunks parallel work is split into (`Parallel`): the machine's cores unless set.
    public var workers = max(1, ProcessInfo.processInfo.activeProcessorCount)
    /// Below this much work (`count × costPerItem`) a parallel loop runs inline: waking threads costs more.
    public var minimumWorkPerChunk = 32_768
    /// What layers may keep of weights in a derived form between passes (Winograd's U), shared by
    /// every network that runs under these settings.
    public var preparedWeights = PreparedWeightsBudget.process

    public init() {}

    /// A copy with `change` applied: `EngineSettings.current.with { $0.winograd.enabled = false }`.
    public func with(_ change: (inout EngineSettings) -> Void) -> EngineSettings {
        var copy = self
        change(&copy)
        return copy
    }

    /// The settings of the code running now: those of the innermost `with(_:_:)`, else the defaults.
    @TaskLocal public static var current = EngineSettings()

    /// Runs `body` under `settings`, on this thread and on every worker `Parallel` gives its chunks to.
    public static func with<R>(_ settings: EngineSettings, _ body: () throws -> R) rethrows -> R {
        try $current.withValue(settings, operation: body)
    }

    /// Runs `body` under the current settings with `change` applied.
    public static func adjusting<R>(_ change: (inout EngineSettings) -> Void, _ body: () throws -> R) rethrows -> R {
        try with(current.with(change), body)
    }

    /// The same for asynchronous work.
    public static func with<R>(_ settings: EngineSettings, _ body: () async throws -> R) async rethrows -> R {
        try await $current.withValue(settings, operation: body)
    }
}

/// A cap on the bytes layers hold of weights kept in a derived form between passes (Winograd's
/// transformed weights, four times a 3x3 weight's size with F(4x4)): 150 MB for a ResNet-18. Past it a
/// layer transforms its weights on every pass, as in training, so a command that holds many networks
/// at once (`canopy predict --images` over every fold of every model) does not multiply its memory.
public final class PreparedWeightsBudget: Sendable, Equatable {
    /// The process's budget unless settings name another: 512 MB, three ResNet-18s.
    public static let process = PreparedWeightsBudget(limit: 512 << 20)

    /// In bytes.
    public let limit: Int
    private let used = Mutex(0)

    public init(limit: Int) {
        precondition(limit >= 0)
        self.limit = limit
    }

    /// The bytes held now.
    public var held: Int { used.withLock { $0 } }

    /// Takes `bytes` more if they fit (a negative count gives some back); false leaves it unchanged.
    public func reserve(_ bytes: Int) -> Bool {
        used.withLock { used in
            guard used + bytes <= limit else { return false }
            used += bytes
            return true
        }
    }

    public func release(_ bytes: Int) {
        used.withLock { $0 -= bytes }
    }

    public static func == (a: PreparedWeightsBudget, b: PreparedWeightsBudget) -> Bool { a === b }
}

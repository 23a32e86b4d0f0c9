import Foundation
import ImageIO
import Tensor

/// What the loader does with a chip that will not decode.
public enum BadImagePolicy: String, Codable, Sendable, CaseIterable {
    /// Stop: the batch that holds it throws, naming the file.
    case fail
    /// Leave it out of its batch, record it (`ChipLoader.skipped`) for the run's report, go on.
    case skip
}

/// How batches are made.
public struct LoaderOptions: Sendable {
    public var batchSize: Int
    /// Side of the square input the model takes.
    public var inputSize: Int
    /// Threads that decode and augment.
    public var workers: Int
    /// Ready batches kept ahead of the consumer: with the batches in the workers' hands, the bound on
    /// the loader's memory.
    public var prefetch: Int
    public var shuffle: Bool
    /// Drop the last batch when it is short (training); keep it otherwise.
    public var dropLast: Bool
    public var seed: UInt64
    public var augmentation: Augmentation
    /// Applied after augmentation; nil leaves values in [0, 1].
    public var normalization: NormalizationStatistics?
    public var onBadImage: BadImagePolicy
    /// A fixed symmetry applied to every chip after augmentation (test-time augmentation passes).
    public var symmetry: Symmetry
    /// This process's part of every batch, when the ranks of a data-parallel job share each batch:
    /// the epoch's order and each chip's augmentation stay those of the whole batch.
    public var shard: BatchShard?
    /// Chips an epoch draws: the first `epochChips` of the epoch's (shuffled) order; nil draws them
    /// all. With chips repeated in the list (rare-label oversampling), an epoch keeps a fixed length.
    public var epochChips: Int?
    /// Bytes of decoded chips kept from epoch to epoch (`DecodedChipCache`); 0 decodes every chip every time.
    public var cacheBytes: Int

    public init(batchSize: Int = 32, inputSize: Int = 128, workers: Int = 2, prefetch: Int = 4, shuffle: Bool = false,
                dropLast: Bool = false, seed: UInt64 = 0, augmentation: Augmentation = .none,
                normalization: NormalizationStatistics? = nil, onBadImage: BadImagePolicy = .fail, symmetry: Symmetry = .identity,
                shard: BatchShard? = nil, epochChips: Int? = nil, cacheBytes: Int = 0) {
        self.batchSize = batchSize
        self.inputSize = inputSize
        self.workers = workers
        self.prefetch = prefetch
        self.shuffle = shuffle
        self.dropLast = dropLast
        self.seed = seed
        self.augmentation = augmentation
        self.normalization = normalization
        self.onBadImage = onBadImage
        self.symmetry = symmetry
        self.shard = shard
        self.epochChips = epochChips
        self.cacheBytes = cacheBytes
    }
}

/// Rank `rank` of `ranks`' part of each batch: the chips at positions ⌊n·rank/ranks⌋ ..< ⌊n·(rank + 1)/ranks⌋
/// of a batch of n (parts differ by at most one chip, and together are the batch in order).
public struct BatchShard: Sendable, Equatable {
    public var rank: Int
    public var ranks: Int

    public init(rank: Int, ranks: Int) {
        precondition(ranks > 0 && (0..<ranks).contains(rank), "rank \(rank) of \(ranks)")
        self.rank = rank
        self.ranks = ranks
    }

    /// This rank's positions in a batch of `count`.
    public func range(of count: Int) -> Range<Int> { count * rank / ranks..<count * (rank + 1) / ranks }
}

extension Range where Bound == Int {
    func shifted(by offset: Int) -> Range<Int> { (lowerBound + offset)..<(upperBound + offset) }
}

/// The chips of a list one rank of several predicts (`predict --images`, and `mode: data`'s
/// predictions and validation): batch b (of `batchSize` chips, in the folder's order) is
/// rank b mod `ranks`'s, so in round k the ranks hold batches k·ranks ..< (k + 1)·ranks, in rank order.
public struct ImageShard: Equatable, Sendable {
    /// This rank's chips, by index in the folder's order (whole batches; the last may be short).
    public var chipIndices: [Int]
    /// Batches every rank takes in turn: the folder's batches over the ranks, rounded up.
    public var rounds: Int

    public init(chips: Int, batchSize: Int, rank: Int, ranks: Int) {
        let batches = (chips + batchSize - 1) / batchSize
        rounds = (batches + ranks - 1) / ranks
        chipIndices = stride(from: rank, to: batches, by: ranks).flatMap { b in b * batchSize..<min(chips, (b + 1) * batchSize) }
    }
}

/// A batch ready for the network.
public struct Batch: Sendable {
    /// Position in the epoch (0, 1, ...).
    public var index: Int
    /// Feature-major `[bands, N, size, size]`.
    public var input: Tensor
    /// `[17, N]` 0/1 targets; nil when the chips have no labels (test chips of the real competition).
    public var targets: Tensor?
    /// Indices into the loader's chips, and their names, in batch order.
    public var chipIndices: [Int]
    public var names: [String]

    public var count: Int { chipIndices.count }
}

/// A chip left out under `on_bad_image: skip`.
public struct SkippedChip: Sendable, Equatable, Codable {
    public var name: String
    public var error: String

    public init(name: String, error: String) {
        self.name = name
        self.error = error
    }
}

/// Streams batches from disk: worker threads read, decode (DCT-scaled), augment and normalise chips
/// into a bounded queue of ready batches that the training loop takes in order. With a cache
/// (`LoaderOptions.cacheBytes`) later epochs take the decoded files from memory.
///
/// Determinism: an epoch's order is a seeded shuffle of (seed, epoch); each chip's augmentation draws
/// from a generator seeded by (seed, epoch, chip). Which worker builds which batch therefore changes
/// nothing: one worker or eight give identical batches. Memory: at most `prefetch` ready batches
/// plus one per worker exist at a time, whatever the dataset's size, and the cache's `cacheBytes`.
public final class ChipLoader: @unchecked Sendable {
    public let chips: [DatasetChip]
    public let bands: BandSource
    public let options: LoaderOptions
    /// The decoded chips kept across epochs, when `options.cacheBytes` allows any.
    public let cache: DecodedChipCache?

    private let skippedLock = NSLock()
    private var skippedChips: [SkippedChip] = []

    public init(chips: [DatasetChip], bands: BandSource, options: LoaderOptions) {
        precondition(options.batchSize > 0 && options.inputSize > 0 && options.workers > 0 && options.prefetch > 0, "positive loader sizes")
        self.chips = chips
        self.bands = bands
        self.options = options
        cache = options.cacheBytes > 0 ? DecodedChipCache(limit: options.cacheBytes) : nil
    }

    public var batchesPerEpoch: Int {
        options.dropLast ? drawnPerEpoch / options.batchSize : (drawnPerEpoch + options.batchSize - 1) / options.batchSize
    }

    /// Chips an epoch draws (`epochChips`, at most every chip).
    public var drawnPerEpoch: Int { min(options.epochChips ?? chips.count, chips.count) }

    /// Chips skipped so far (under `.skip`), in the order they were met.
    public var skipped: [SkippedChip] {
        skippedLock.lock(); defer { skippedLock.unlock() }
        return skippedChips
    }

    /// The chip order of `epoch`: a seeded shuffle, or the chips' own order, cut to `drawnPerEpoch`.
    public func order(epoch: Int) -> [Int] {
        var order = Array(chips.indices)
        if options.shuffle {
            var random = SeededRandom(seed: Self.mix(options.seed, UInt64(epoch), 0x5348_5546))
            order.shuffle(using: &random)
        }
        order.removeSubrange(drawnPerEpoch...)
        return order
    }

    /// Starts the workers on `epoch`'s batches; take them with `next()`. Dropping the returned
    /// value stops the workers.
    public func epoch(_ epoch: Int) -> EpochBatches {
        EpochBatches(loader: self, epoch: epoch)
    }

    /// Builds batch `index` of an epoch whose chip order is `order` (what the workers call).
    func buildBatch(_ index: Int, order: [Int], epoch: Int, reader: ChipReader) -> Result<Batch, DataError> {
        let size = options.inputSize, bandCount = bands.bandCount, plane = size * size
        var members = order[(index * options.batchSize)..<min((index + 1) * options.batchSize, order.count)]
        if let shard = options.shard { members = members[shard.range(of: members.count).shifted(by: members.startIndex)] }
        var chipsInBatch: [(Int, ChipPlanes)] = []
        chipsInBatch.reserveCapacity(members.count)
        for chipIndex in members {
            let chip = chips[chipIndex]
            do {
                var planes = if let cache {
                    try cache.decoded(chip.name) { () throws(ImageIOError) in try reader.decode(chip, minimumSide: size) }.planes()
                } else {
                    try reader.read(chip, minimumSide: size)
                }
                var random = SeededRandom(seed: Self.mix(options.seed, UInt64(epoch), UInt64(chipIndex)))
                planes = options.augmentation.apply(planes, size: size, random: &random)
                if options.symmetry != .identity { planes = options.symmetry.apply(planes) }
                options.normalization?.normalize(&planes)
                chipsInBatch.append((chipIndex, planes))
            } catch {
                switch options.onBadImage {
                case .fail: return .failure(DataError(file: error.file, problem: String(error.description.dropFirst(error.file.count + 2))))
                case .skip:
                    skippedLock.lock()
                    skippedChips.append(SkippedChip(name: chip.name, error: error.description))
                    skippedLock.unlock()
                }
            }
        }
        let n = chipsInBatch.count
        // [C, N, H, W]: band c of image i goes to (c·N + i)·H·W.
        let input = Tensor(shape: [bandCount, n, size, size]) { buffer in
            for (i, (_, planes)) in chipsInBatch.enumerated() {
                planes.values.withUnsafeBufferPointer { source in
                    for band in 0..<bandCount {
                        (buffer.baseAddress! + (band * n + i) * plane).update(from: source.baseAddress! + band * plane, count: plane)
                    }
                }
            }
        }
        var targets: Tensor?
        if chipsInBatch.allSatisfy({ chips[$0.0].labels != nil }) {
            var values = [Float](repeating: 0, count: PlanetLabels.count * n)
            for (i, (chipIndex, _)) in chipsInBatch.enumerated() {
                for label in chips[chipIndex].labels!.indices { values[label * n + i] = 1 }
            }
            targets = Tensor(shape: [PlanetLabels.count, n], scalars: values)
        }
        let indices = chipsInBatch.map(\.0)
        return .success(Batch(index: index, input: input, targets: targets, chipIndices: indices, names: indices.map { chips[$0].name }))
    }

    /// SplitMix-style mixing of several words into one seed.
    public static func mix(_ words: UInt64...) -> UInt64 {
        var random = SeededRandom(seed: 0x243F_6A88_85A3_08D3)
        var state: UInt64 = 0
        for word in words {
            state ^= word &+ random.next()
            var scrambler = SeededRandom(seed: state)
            state = scrambler.next()
        }
        return state
    }
}

/// One epoch's batches, built ahead by worker threads, handed out in order by `next()`. The workers
/// hold only the epoch's shared state, never this handle, so dropping the handle (say, training
/// stopped halfway through an epoch) cancels them and waits for them to end.
public final class EpochBatches: @unchecked Sendable {
    private let state: EpochState
    public let count: Int
    /// Seconds `next()` spent waiting for a batch that was not ready.
    public var waitSeconds: Double { state.waitSeconds }

    init(loader: ChipLoader, epoch: Int) {
        let state = EpochState(loader: loader, epoch: epoch)
        self.state = state
        self.count = state.count
        for _ in 0..<loader.options.workers {
            let thread = Thread {
                Thread.current.name = EpochBatches.workerThreadName  // the OS name too, set by the thread itself
                state.work()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    deinit { state.cancel() }

    /// The name the workers' threads carry (in `top -H`, `perf`, /proc/PID/task/TID/comm).
    public static let workerThreadName = "canopy-loader"

    /// Stops the workers after the batches they are building; later `next()` calls return nil.
    public func cancel() { state.cancel() }

    /// The next batch in order, nil after the last; throws the error of a chip that failed to decode
    /// under `on_bad_image: fail`.
    public func next() throws(DataError) -> Batch? { try state.next() }
}

/// What an epoch's workers and its consumer share.
private final class EpochState: @unchecked Sendable {
    private let loader: ChipLoader
    private let epoch: Int
    private let order: [Int]
    let count: Int

    private let condition = NSCondition()
    private var nextToBuild = 0
    private var handedOut = 0
    private var ready: [Int: Result<Batch, DataError>] = [:]
    private var cancelled = false
    private var runningWorkers = 0
    private(set) var waitSeconds: Double = 0

    init(loader: ChipLoader, epoch: Int) {
        self.loader = loader
        self.epoch = epoch
        self.order = loader.order(epoch: epoch)
        self.count = loader.batchesPerEpoch
        runningWorkers = loader.options.workers
    }

    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        while runningWorkers > 0 { condition.wait() }
        condition.unlock()
    }

    func work() {
        let reader = ChipReader(bands: loader.bands)
        let depth = loader.options.prefetch
        while true {
            condition.lock()
            while !cancelled && nextToBuild < count && nextToBuild >= handedOut + depth { condition.wait() }
            if cancelled || nextToBuild >= count {
                runningWorkers -= 1
                condition.broadcast()
                condition.unlock()
                return
            }
            let index = nextToBuild
            nextToBuild += 1
            condition.unlock()

            let batch = loader.buildBatch(index, order: order, epoch: epoch, reader: reader)

            condition.lock()
            ready[index] = batch
            condition.broadcast()
            condition.unlock()
        }
    }

    func next() throws(DataError) -> Batch? {
        condition.lock()
        defer { condition.unlock() }
        guard handedOut < count, !cancelled else { return nil }
        var start: DispatchTime?
        while ready[handedOut] == nil {
            if start == nil { start = .now() }
            condition.wait()
        }
        if let start { waitSeconds += Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9 }
        let result = ready.removeValue(forKey: handedOut)!
        handedOut += 1
        condition.broadcast()
        return try result.get()
    }
}

import PlanetData
import Tensor

/// A model's `mixup:`: with probability `probability`, a training batch is replaced by convex
/// combinations of its own chips. λ ~ Beta(α, α) is drawn once for the batch, each chip i is paired
/// with chip π(i) of a random permutation π of the batch (possibly itself), and
///   input_i = λ·x_i + (1 − λ)·x_π(i),   targets_i = λ·y_i + (1 − λ)·y_π(i)
/// (soft targets, which BCE, its positive weights and soft F2 take as they are). Validation and
/// prediction never mix.
public struct Mixup: Codable, Sendable, Equatable, ValidatedSettings {
    public var alpha: Float = 0.2
    public var probability: Float = 1

    public init(alpha: Float = 0.2, probability: Float = 1) {
        self.alpha = alpha
        self.probability = probability
    }

    enum CodingKeys: String, SettingKeys { case alpha, probability }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        alpha = try c.setting(.alpha) ?? alpha
        probability = try c.setting(.probability) ?? probability
    }

    public func validate() throws(SettingError) {
        try SettingError.check(alpha, in: 0.01...100, "alpha")
        try SettingError.check(probability, in: 0...1, "probability")
    }
}

/// Applies a `Mixup` to training batches. Every draw comes from a generator seeded by (seed, fold,
/// epoch, batch position, a constant of its own), so a fixed seed, and a run resumed at an epoch,
/// mix exactly the same batches with the same λ and partners; the constant keeps these draws apart
/// from dropout's, which are seeded by (seed, fold, epoch, layer).
public struct BatchMixer: Sendable {
    public let mixup: Mixup
    public let seed: UInt64
    public let fold: Int

    /// How one batch is mixed: the weight λ of each chip itself and the partner `partners[i]` of chip i.
    public struct Draw: Equatable, Sendable {
        public var lambda: Float
        public var partners: [Int]

        public init(lambda: Float, partners: [Int]) {
            self.lambda = lambda
            self.partners = partners
        }
    }

    /// "mixup" in ASCII: the last word of every key.
    static let stream: UInt64 = 0x6D_6978_7570

    public init(_ mixup: Mixup, seed: UInt64, fold: Int) {
        self.mixup = mixup
        self.seed = seed
        self.fold = fold
    }

    /// The draw for batch `index` (its position in the epoch, from 0) of `epoch`, holding `count`
    /// chips; nil when this batch is left as it is (probability 1 − `probability`). The order of the
    /// draws: the coin, then λ, then the permutation (Fisher–Yates, last position first).
    public func draw(epoch: Int, index: Int, count: Int) -> Draw? {
        var random = SeededRandom(seed: ChipLoader.mix(seed, UInt64(fold), UInt64(epoch), UInt64(index), Self.stream))
        guard random.nextOpenUniform() <= Double(mixup.probability) else { return nil }  // in (0, 1]: 0 never, 1 always
        let alpha = Double(mixup.alpha)
        let lambda = Float(random.nextBeta(alpha, alpha))
        var partners = Array(0..<count)
        for i in stride(from: count - 1, to: 0, by: -1) {
            partners.swapAt(i, Int(random.next() % UInt64(i + 1)))
        }
        return Draw(lambda: lambda, partners: partners)
    }

    /// `batch` mixed by this mixer's draw for it (at `batch.index` of `epoch`), or as it is.
    public func mix(_ batch: Batch, epoch: Int) -> Batch {
        guard let draw = draw(epoch: epoch, index: batch.index, count: batch.count) else { return batch }
        return Self.mix(batch, draw)
    }

    /// `batch` with each chip i (input and targets) replaced by λ·chip i + (1 − λ)·chip partners[i].
    /// Chip i's values are at [·, i, ...] of the feature-major input `[bands, N, H, W]` and targets `[17, N]`.
    public static func mix(_ batch: Batch, _ draw: Draw) -> Batch {
        precondition(draw.partners.count == batch.count, "\(draw.partners.count) partners for \(batch.count) chips")
        var mixed = batch
        mixed.input = mix(batch.input, draw)
        mixed.targets = batch.targets.map { mix($0, draw) }
        return mixed
    }

    /// `tensor` (axis 1 the batch) with each item i replaced by λ·item i + (1 − λ)·item partners[i].
    public static func mix(_ tensor: Tensor, _ draw: Draw) -> Tensor {
        precondition(tensor.rank >= 2 && tensor.shape[1] == draw.partners.count, "mixing \(tensor.shape) over \(draw.partners.count) chips")
        let outer = tensor.shape[0], n = tensor.shape[1], inner = tensor.count / max(outer * n, 1)
        let lambda = draw.lambda, rest = 1 - draw.lambda
        var out = tensor
        tensor.scalars.withUnsafeBufferPointer { x in
            out.scalars.withUnsafeMutableBufferPointer { y in
                for o in 0..<outer {
                    for i in 0..<n {
                        let at = (o * n + i) * inner, partner = (o * n + draw.partners[i]) * inner
                        for k in 0..<inner { y[at + k] = lambda * x[at + k] + rest * x[partner + k] }
                    }
                }
            }
        }
        return out
    }
}

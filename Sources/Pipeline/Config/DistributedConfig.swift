import Training

/// `distributed:` in a pipeline file: how the run spreads over the ranks when started by `mpirun`
/// (docs/DISTRIBUTED.md). Started without a launcher, a pipeline runs in one process whatever this
/// says; started by one without this section, it runs `mode: folds`.
///
/// `folds` changes no result (each (model, fold) job trains exactly as in one process, on the rank
/// it is given), so no stage's key reads it.
public struct DistributedConfig: Codable, Sendable, Equatable, ValidatedSettings {
    public enum Mode: String, SettingChoice {
        /// The (model, fold) training jobs spread over the ranks, longest first, each rank training its
        /// own with its own threads; every later stage runs once, on rank 0.
        case folds
        /// Every rank holds the whole model and takes its share of each step's batch; gradients are
        /// summed over the ranks.
        case data
    }

    public var mode: Mode = .folds
    /// `mode: data`: batch-norm statistics over the whole global batch (summed over the ranks in each
    /// batch-norm layer) rather than each rank's share.
    public var syncBatchNorm = false
    /// Longest any exchange between ranks may wait for the others, in seconds (a rank waiting for the
    /// others' training jobs waits as long as they take: their death is noticed by the launcher).
    public var timeoutSeconds: Double = DistributedConfig.defaultTimeoutSeconds
    /// `mode: data`: start summing each bucket of gradients as soon as its layers' backward is done,
    /// overlapping the layers below (false: after the whole backward pass; for measuring the overlap).
    /// Changes no result.
    public var overlap = true
    /// `mode: data`: the largest bucket of gradients summed in one allreduce, in MB (25, as PyTorch's DDP).
    public var bucketMegabytes: Double = 25

    public static let defaultTimeoutSeconds = 600.0

    public init(mode: Mode = .folds) { self.mode = mode }

    enum CodingKeys: String, SettingKeys {
        case mode
        case syncBatchNorm = "sync_batch_norm"
        case timeoutSeconds = "timeout_seconds"
        case overlap
        case bucketMegabytes = "bucket_mb"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        mode = try c.setting(.mode) ?? mode
        syncBatchNorm = try c.setting(.syncBatchNorm) ?? syncBatchNorm
        timeoutSeconds = try c.setting(.timeoutSeconds) ?? timeoutSeconds
        overlap = try c.setting(.overlap) ?? overlap
        bucketMegabytes = try c.setting(.bucketMegabytes) ?? bucketMegabytes
    }

    public func validate() throws(SettingError) {
        guard (1...86_400).contains(timeoutSeconds) else { throw SettingError(["timeout_seconds"], "\(timeoutSeconds) is out of range 1...86400") }
        guard (0.01...4096).contains(bucketMegabytes) else { throw SettingError(["bucket_mb"], "\(bucketMegabytes) is out of range 0.01...4096") }
        if syncBatchNorm && mode != .data { throw SettingError(["sync_batch_norm"], "goes with mode: data (in mode: folds each rank trains whole batches)") }
    }
}

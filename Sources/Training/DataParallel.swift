import Cluster
import Foundation
import NN
import PlanetData
import Tensor

/// `distributed: {mode: data}`: every rank holds the whole model and trains on its part of each
/// step's batch (`BatchShard`: the epoch's order and each chip's augmentation are those of one
/// process). A step is then, on every rank:
///
///  1. the chips each rank decoded, summed (a step any rank cannot take is skipped by all);
///  2. forward and loss on its part; the loss gradient scaled by its part of the global batch
///     (n_rank / N), so that summed over the ranks the gradient is the global batch's mean's;
///  3. the loss and whether it is finite, summed (every rank takes the same decision);
///  4. backward, each bucket of gradients summed over the ranks as soon as its layers are done
///     (`GradientBuckets`), overlapping the layers below;
///  5. the same clipping, checks and optimiser step on every rank, on the same summed gradient.
///
/// Weights and buffers start from rank 0's; batch-norm statistics are each rank's own unless
/// `syncBatchNorm` (then the global batch's, `BatchNorm.replicaSum`), and rank 0's running
/// statistics are given to every rank after each epoch, before validation and checkpoints.
public struct DataParallel: @unchecked Sendable {
    public let cluster: Cluster
    public var syncBatchNorm: Bool
    /// Largest bucket of gradients summed in one allreduce, in floats (25 MB, as PyTorch's DDP).
    public var bucketFloats = 25 << 18
    /// Start each bucket's sum as soon as its gradients are final (false: all after backward, for
    /// measuring what the overlap saves).
    public var overlap = true

    public init(cluster: Cluster, syncBatchNorm: Bool) {
        self.cluster = cluster
        self.syncBatchNorm = syncBatchNorm
    }

    /// This rank's part of every batch.
    public var shard: BatchShard { BatchShard(rank: cluster.rank, ranks: cluster.size) }

    /// The sum over the ranks batch norm uses with `syncBatchNorm`. An exchange that fails ends the
    /// job (a batch norm cannot throw): the message names this rank.
    var replicaSum: BatchNormalization.ReplicaSum {
        let cluster = self.cluster
        return BatchNormalization.ReplicaSum { values in
            do { values = try cluster.allreduceSum(values, "synchronised batch norm") } catch {
                cluster.abort("\(error)")
            }
        }
    }

    /// Every parameter and buffer of `model` set to rank 0's.
    func broadcastState(of model: Layer, buffersOnly: Bool = false) throws {
        for (name, entry) in model.state(prefix: "") {
            switch entry {
            case .parameter(let parameter) where !buffersOnly:
                try parameter.value.scalars.withUnsafeMutableBufferPointer { try cluster.broadcast($0, "the weights (\(name))") }
            case .buffer(let buffer):
                try buffer.value.scalars.withUnsafeMutableBufferPointer { try cluster.broadcast($0, "the buffers (\(name))") }
            default: break
            }
        }
    }
}

/// A model's parameter gradients in buckets, summed over the ranks of a data-parallel job: the
/// parameters in reverse order (the order backward finishes them), each bucket up to
/// `bucketFloats`. During a backward pass under `observe`, a bucket's allreduce starts when the last
/// of its layers finishes; `finish()` starts any left, waits for all and writes the sums back.
/// The buckets start in the same order on every rank (same network, same backward order), as MPI
/// requires of collectives.
final class GradientBuckets: BackwardObserver, @unchecked Sendable {
    private struct Bucket {
        var parameters: [Parameter]
        var buffer: UnsafeMutableBufferPointer<Float>
        var waitingFor = 0
        var pending: PendingReduction?
    }

    private let cluster: Cluster
    private let overlap: Bool
    private var buckets: [Bucket] = []
    /// Each leaf layer's (bucket, parameters in it) pairs.
    private var bucketsOfLayer: [ObjectIdentifier: [(bucket: Int, count: Int)]] = [:]
    private var nextToStart = 0
    private var failure: Error?
    /// Seconds `finish()` waited for sums not yet done (the communication the overlap did not hide),
    /// and exchanges, since the last `takeEpochTotals()`.
    private var exposedSeconds = 0.0
    private var exchanges = 0

    /// The exchanges and the seconds they waited since the last call.
    func takeEpochTotals() -> (exchanges: Int, exposedSeconds: Double) {
        defer { (exchanges, exposedSeconds) = (0, 0) }
        return (exchanges, exposedSeconds)
    }

    init(model: Layer, parallel: DataParallel) {
        cluster = parallel.cluster
        overlap = parallel.overlap
        var owners: [(layer: ObjectIdentifier, parameter: Parameter)] = []
        model.forEachLayer { layer in
            guard !layer.isContainer else { return }
            for parameter in layer.parameters { owners.append((ObjectIdentifier(layer), parameter)) }
        }
        var current: [(layer: ObjectIdentifier, parameter: Parameter)] = []
        var floats = 0
        func close() {
            guard !current.isEmpty else { return }
            let index = buckets.count
            buckets.append(Bucket(parameters: current.map(\.parameter), buffer: .allocate(capacity: floats)))
            for owner in current { bucketsOfLayer[owner.layer, default: []].append((index, 1)) }
            current = []
            floats = 0
        }
        for owner in owners.reversed() {
            if floats > 0 && floats + owner.parameter.value.count > parallel.bucketFloats { close() }
            current.append(owner)
            floats += owner.parameter.value.count
        }
        close()
    }

    deinit { for bucket in buckets { bucket.buffer.deallocate() } }

    var bucketCount: Int { buckets.count }

    /// Runs `backward` with the buckets started as their layers finish, then `finish()`.
    func exchange(during backward: () -> Void) throws {
        for index in buckets.indices {
            buckets[index].waitingFor = buckets[index].parameters.count
            buckets[index].pending = nil
        }
        nextToStart = 0
        failure = nil
        if overlap { BackwardObserverScope.observe(self, backward) } else { backward() }
        try finish()
    }

    func backwardFinished(_ layer: Layer) {
        guard failure == nil, let entries = bucketsOfLayer[ObjectIdentifier(layer)] else { return }
        for entry in entries { buckets[entry.bucket].waitingFor -= entry.count }
        // In order only: a bucket ready before an earlier one waits for it (every rank starts them alike).
        while nextToStart < buckets.count && buckets[nextToStart].waitingFor <= 0 {
            start(nextToStart)
            nextToStart += 1
        }
        // Moves the sums under way on (MPI progresses inside its calls).
        for index in 0..<nextToStart { _ = try? buckets[index].pending?.isDone() }
    }

    private func start(_ index: Int) {
        var offset = 0
        for parameter in buckets[index].parameters {
            parameter.gradient.scalars.withUnsafeBufferPointer { gradient in
                (buckets[index].buffer.baseAddress! + offset).update(from: gradient.baseAddress!, count: gradient.count)
            }
            offset += parameter.gradient.count
        }
        do { buckets[index].pending = try cluster.startAllreduceSum(buckets[index].buffer, "gradient bucket \(index + 1) of \(buckets.count)") } catch {
            failure = error
        }
    }

    private func finish() throws {
        while failure == nil && nextToStart < buckets.count {
            start(nextToStart)
            nextToStart += 1
        }
        if let failure { throw failure }
        let started = DispatchTime.now().uptimeNanoseconds
        for index in buckets.indices {
            try buckets[index].pending?.wait()
            var offset = 0
            for parameter in buckets[index].parameters {
                let count = parameter.gradient.count
                parameter.gradient.scalars.withUnsafeMutableBufferPointer { gradient in
                    gradient.baseAddress!.update(from: buckets[index].buffer.baseAddress! + offset, count: count)
                }
                offset += count
            }
        }
        exposedSeconds += Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        exchanges += 1
    }
}

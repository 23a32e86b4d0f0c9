import Cluster
import NN
import PlanetData
import Tensor

extension Predictor {
    /// `chips` predicted by every rank of `cluster` together: each takes whole batches in turn
    /// (`ImageShard`: the same batches as one process, so the same probabilities), and rank 0 gathers
    /// the rows in the chips' order; the other ranks get no rows. `eachBatch` sees this rank's batches.
    public func predictShared(_ model: Layer, chips: [DatasetChip], tta: TestTimeAugmentation, over cluster: Cluster,
                              progress: ((Int, Int) -> Void)? = nil,
                              eachBatch: ((Tensor, Batch) -> Void)? = nil) throws -> (probabilities: [[Float]], skipped: [SkippedChip]) {
        let shard = ImageShard(chips: chips.count, batchSize: batchSize, rank: cluster.rank, ranks: cluster.size)
        let mine = try predictReportingSkips(model, chips: shard.chipIndices.map { chips[$0] }, tta: tta, progress: progress, eachBatch: eachBatch)
        let rows = try cluster.gather(mine.probabilities.flatMap { $0 }.withUnsafeBytes { Array($0) }, "predictions")
        let skipped = try cluster.gather(mine.skipped, "chips skipped in predictions")
        guard cluster.isRoot else { return ([], []) }
        var probabilities = [[Float]](repeating: [], count: chips.count)
        for (rank, bytes) in rows.enumerated() {
            let values = bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            let indices = ImageShard(chips: chips.count, batchSize: batchSize, rank: rank, ranks: cluster.size).chipIndices
            guard values.count == indices.count * PlanetLabels.count else {
                throw ClusterError.inconsistent(operation: "predictions", rank: cluster.rank,
                                                detail: "rank \(rank) sent \(values.count) values for \(indices.count) chips")
            }
            for (j, chip) in indices.enumerated() { probabilities[chip] = Array(values[j * PlanetLabels.count..<(j + 1) * PlanetLabels.count]) }
        }
        let skippedByName = Dictionary(skipped.joined().map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        return (probabilities, chips.compactMap { skippedByName[$0.name] })
    }
}

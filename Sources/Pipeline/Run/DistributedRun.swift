import Cluster
import Foundation
import NN
import PlanetData
import Support
import Training

/// A pipeline over the ranks of an `mpirun` job (`distributed:`; docs/DISTRIBUTED.md).
///
/// Rank 0 runs the pipeline as one process would: it alone takes the results folder's lock, prepares
/// (folds, statistics, chip identities, the time budget) and writes every shared file. The other
/// ranks check the pipeline as rank 0 does, then wait for its orders: what prepare established, and
/// whether the train stage is to be redone. In `mode: folds` the train stage's (model, fold) jobs
/// are then spread over every rank, longest first; each rank writes only its jobs' folders (and its
/// own `train_log-rank-N.csv`, merged into `train_log.csv` by rank 0), and all meet when every job
/// is done (then again after the refits). The later stages run on rank 0 alone.
extension PipelineRunner {
    /// What a rank other than 0 needs from rank 0's prepare to train its share of the jobs.
    struct WorkerOrders: Codable {
        /// Whether the train stage is redone (false: it is up to date, or not reached).
        var train: Bool
        var force: Bool
        /// Each model's epochs (a time budget may have lowered them).
        var epochs: [Int]
        var statistics: NormalizationStatistics?
        var trainIdentity: [String]
        var testIdentity: [String]
    }

    var distributedMode: DistributedConfig.Mode { config.distributed?.mode ?? .folds }

    /// Rank 0: tells the other ranks what prepare established and whether they train (once a run).
    func sendOrders(train: Bool) throws {
        guard cluster.isDistributed, cluster.isRoot, !ordersSent else { return }
        ordersSent = true
        let orders = WorkerOrders(train: train, force: force, epochs: config.models.map(\.epochs), statistics: statistics,
                                  trainIdentity: cache.trainIdentity, testIdentity: cache.testIdentity)
        _ = try cluster.broadcast(orders, "the run's plan")
    }

    /// A rank other than 0: the pipeline's checks, rank 0's orders (waiting as long as its prepare
    /// takes), then its share of the train stage. Writes nothing outside its jobs' folders.
    func runAsWorker(through last: Stage) throws {
        try preflight()
        let orders = try cluster.broadcast(WorkerOrders(train: false, force: false, epochs: [], statistics: nil, trainIdentity: [], testIdentity: []),
                                           "the run's plan", waitingAtMost: .infinity)
        guard orders.epochs.count == config.models.count, let statistics = orders.statistics else {
            throw ClusterError.inconsistent(operation: "the run's plan", rank: cluster.rank,
                                            detail: "rank 0 has \(orders.epochs.count) models, this rank \(config.models.count): are all ranks running the same pipeline file?")
        }
        force = orders.force
        for index in config.models.indices { config.models[index].epochs = orders.epochs[index] }
        dataset = try openDataset()
        self.statistics = statistics
        folds = try FoldAssignment.read(path("folds.csv"), expectedFolds: config.folds.k)
        guard folds.names == dataset.train.map(\.name), orders.trainIdentity.count == dataset.train.count,
              orders.testIdentity.count == dataset.test.count else {
            throw ClusterError.inconsistent(operation: "the run's plan", rank: cluster.rank,
                                            detail: "this rank sees other chips in \(config.data.root) than rank 0 (the data must be the same on every machine)")
        }
        cache.trainIdentity = orders.trainIdentity
        cache.testIdentity = orders.testIdentity
        guard orders.train else { return progress.note("nothing to train: rank 0 runs the other stages") }
        CrashPoints.enter(stage: Stage.train.rawValue)
        try train()
    }

    /// Whether the ranks train each model together (`mode: data` over more than one rank).
    var isDataParallel: Bool { cluster.isDistributed && distributedMode == .data }

    /// What data-parallel training adds to a fold's training key: its ranks and batch-norm statistics.
    var dataParallelKey: String? {
        guard isDataParallel else { return nil }
        return "data over \(cluster.size) ranks, batch norm \(config.distributed?.syncBatchNorm == true ? "synchronised" : "per rank")"
    }

    /// `mode: data`: this process's part in training `trainer`'s model with the other ranks.
    func joinDataParallel(_ trainer: FoldTrainer) {
        guard isDataParallel else { return }
        var parallel = DataParallel(cluster: cluster, syncBatchNorm: config.distributed?.syncBatchNorm ?? false)
        parallel.overlap = config.distributed?.overlap ?? true
        parallel.bucketFloats = max(1, Int((config.distributed?.bucketMegabytes ?? 25) * 262_144))
        trainer.dataParallel = parallel
        trainer.writesFiles = cluster.isRoot
    }

    /// `mode: data`: the ranks follow rank 0's reading of the folds' records (which it alone then
    /// changes), so that they all train and predict the same jobs.
    func agreedPlans(_ plans: [[UnitPlan]]) throws -> [[UnitPlan]] {
        guard isDataParallel else { return plans }
        let flags = try cluster.broadcast(plans.map { $0.map { [$0.trainingReused, $0.predictionReused] } }, "the folds' plans")
        return zip(plans, flags).map { zip($0, $1).map { plan, flag in
            var plan = plan
            (plan.trainingReused, plan.predictionReused) = (flag[0], flag[1])
            return plan
        } }
    }

    /// The jobs of the train stage this rank runs, of `count` in all whose remaining work is `work`:
    /// every job in one process, and in `mode: data` (the ranks train each together); in `mode:
    /// folds`, longest first to the least loaded rank.
    func jobsOfThisRank(work: [Double]) -> [Int] {
        guard cluster.isDistributed, distributedMode == .folds else { return Array(work.indices) }
        let owners = Self.longestFirst(work, ranks: cluster.size)
        return work.indices.filter { owners[$0] == cluster.rank }
    }

    /// Longest processing time first: the jobs in decreasing `work` (ties in order), each to the rank
    /// with the least work so far (ties to the lowest rank). The owner rank of each job.
    static func longestFirst(_ work: [Double], ranks: Int) -> [Int] {
        var load = [Double](repeating: 0, count: ranks)
        var owner = [Int](repeating: 0, count: work.count)
        for job in work.indices.sorted(by: { work[$0] != work[$1] ? work[$0] > work[$1] : $0 < $1 }) {
            let rank = load.indices.min { load[$0] != load[$1] ? load[$0] < load[$1] : $0 < $1 }!
            owner[job] = rank
            load[rank] += work[job]
        }
        return owner
    }

    /// Every rank's jobs done (each rank waits as long as the others' jobs take); then rank 0 takes
    /// the other ranks' epochs into `train_log.csv`.
    func meetAfterTraining(_ what: String) throws {
        guard cluster.isDistributed else { return }
        try cluster.barrier(what, waitingAtMost: .infinity)
        guard cluster.isRoot else { return }
        for rank in 1..<cluster.size {
            let file = Self.workerLogPath(results: results, rank: rank)
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { continue }
            progress.mergeLogRows(text.split(separator: "\n").dropFirst().map(String.init))
            try? FileManager.default.removeItem(atPath: file)
        }
    }

    /// Where rank `rank` (not 0) logs its epochs.
    public static func workerLogPath(results: String, rank: Int) -> String { results + "/train_log-rank-\(rank).csv" }
}

import ArgumentParser
import Benchmarks
import Cluster
import Foundation

/// `mpirun -np N canopy bench allreduce`: the gradient exchange of a data-parallel step.
struct BenchAllreduce: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "allreduce",
        abstract: "Under mpirun: the time to sum a model's gradients over the ranks, in buckets as mode: data sums them.",
        discussion: """
            Run with mpirun -np N (over TCP: --mca btl tcp,self). Prints the median time of the whole exchange, the \
            gradient's megabytes per second, and the bus bandwidth (2(N-1)/N of it, what each rank's links carried in a ring). \
            Started without mpirun there is one rank and nothing to exchange.
            """)

    @Option(help: "Backbone whose gradient count is exchanged (see canopy models).") var model = "resnet18"
    @Option(help: "Floats to exchange instead of a model's gradient count.") var floats: Int?
    @Option(help: "Largest bucket, in MB (mode: data's distributed.bucket_mb).") var bucketMb = 25.0
    @Option(help: "Timed rounds (the median is reported; one more, untimed, checks the sums).") var rounds = 10
    @Flag(help: "A last line of JSON.") var json = false

    func validate() throws {
        guard rounds > 0, bucketMb > 0, (floats ?? 1) > 0 else { throw ValidationError("rounds, --bucket-mb and --floats must be positive") }
    }

    func run() throws {
        let cluster = try Cluster.join()
        let count = try floats ?? AllreduceBenchmark.gradientFloats(of: model)
        let benchmark = AllreduceBenchmark(cluster: cluster, floats: count, bucketFloats: max(1, Int(bucketMb * 262_144)), rounds: rounds)
        let result = try benchmark.run()
        guard cluster.isRoot else { return }
        print(String(format: "allreduce of %d floats (%.1f MB, %@) over %d ranks in %d buckets: %.2f ms, %.0f MB/s (bus %.0f MB/s), median of %d",
                     count, Double(count * 4) / 1e6, floats == nil ? model + "'s gradients" : "--floats", result.ranks, result.buckets,
                     result.seconds * 1000, result.megabytesPerSecond, result.busMegabytesPerSecond, rounds))
        if json { print(jsonLine(result)) }
    }
}

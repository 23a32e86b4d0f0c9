import Backbones
import Cluster
import Foundation
import NN
import Tensor

/// `mpirun -np N canopy bench allreduce`: what a data-parallel step's gradient exchange costs. A
/// model's gradient count in buckets of `bucketFloats` (as `mode: data` sums them), every bucket
/// started at once and all waited for, `rounds` times; the sums checked on the first round.
public struct AllreduceBenchmark {
    public struct Result: Sendable, Encodable {
        public var ranks: Int
        public var floats: Int
        public var buckets: Int
        /// Median seconds for the whole exchange.
        public var seconds: Double
        /// Bytes per second of the exchange (the gradient's bytes over its time; NCCL's "algorithm bandwidth").
        public var megabytesPerSecond: Double
        /// What each rank's links carried per second in a ring allreduce: 2(n − 1)/n of that (NCCL's "bus bandwidth").
        public var busMegabytesPerSecond: Double
    }

    public var cluster: Cluster
    public var floats: Int
    public var bucketFloats: Int
    public var rounds: Int

    public init(cluster: Cluster, floats: Int, bucketFloats: Int, rounds: Int) {
        self.cluster = cluster
        self.floats = floats
        self.bucketFloats = bucketFloats
        self.rounds = rounds
    }

    /// The trainable floats of a backbone with the 17-label head.
    public static func gradientFloats(of model: String, bands: Int = 3) throws -> Int {
        var random = SeededRandom(seed: 1)
        guard let network = BackboneRegistry.make(model, bands: bands, random: &random) else {
            throw BenchmarkError("unknown model \(model); known: \(BackboneRegistry.names.joined(separator: ", "))")
        }
        return network.parameterCount
    }

    public func run() throws -> Result {
        let sizes = stride(from: 0, to: floats, by: bucketFloats).map { min(bucketFloats, floats - $0) }
        let buffers = sizes.map { UnsafeMutableBufferPointer<Float>.allocate(capacity: $0) }
        defer { buffers.forEach { $0.deallocate() } }
        var times: [Double] = []
        for round in 0...rounds {
            for buffer in buffers { buffer.update(repeating: Float(cluster.rank + 1)) }
            try cluster.barrier("allreduce benchmark round \(round)")
            let started = DispatchTime.now().uptimeNanoseconds
            let pending = try buffers.enumerated().map { try cluster.startAllreduceSum($1, "bucket \($0 + 1)") }
            for reduction in pending { try reduction.wait() }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            if round == 0 {
                // Untimed: the sums checked (1 + 2 + ... + n on every element).
                let expected = Float(cluster.size * (cluster.size + 1) / 2)
                if let wrong = buffers.firstIndex(where: { $0.contains { $0 != expected } }) {
                    throw BenchmarkError("rank \(cluster.rank): bucket \(wrong + 1) does not hold the sum \(expected)")
                }
            } else {
                times.append(seconds)
            }
        }
        let median = times.sorted()[times.count / 2]
        let megabytes = Double(floats * 4) / 1e6
        let n = Double(cluster.size)
        return Result(ranks: cluster.size, floats: floats, buckets: sizes.count, seconds: median, megabytesPerSecond: megabytes / median,
                      busMegabytesPerSecond: megabytes / median * 2 * (n - 1) / n)
    }
}

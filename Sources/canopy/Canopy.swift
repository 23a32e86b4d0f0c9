import ArgumentParser
import Cluster
import Foundation
import Support
import Tensor

@main
struct Canopy: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "canopy",
        abstract: "Planet chips in, a ranked Kaggle submission and a per-label report out.",
        version: "canopy \(version)",
        subcommands: [Run.self, Train.self, Predict.self, EnsembleCommand.self, Tune.self, Submit.self, ReportCommand.self,
                      Export.self, Weights.self, Track.self, Inspect.self, Stats.self, Folds.self, Synth.self, Models.self, Bench.self]
    )

    /// The release, printed by `canopy --version`.
    static let version = "0.1.0"

    static func main() {
        // OpenBLAS's idle threads spin (sched_yield) for 2^28 cycles after each GEMM by default,
        // taking a core from the loader and the non-GEMM kernels between GEMMs: 2^4 lets them sleep.
        // Measured: ResNet-18 inference at 128 px +17% (median of 4 alternating pairs), training level.
        // glibc.malloc.hugetlb=1: the heap, which holds the activations (below), is advised for
        // transparent huge pages where the kernel leaves them to madvise (Debian's default): fewer
        // TLB misses in the kernels' strided walks. Measured alternating, 8 pairs of `bench infer
        // --size 128`: median 224.5 against 218.5 images/s; `bench train --size 128` 71.1-73.8
        // against 63.9-72.5, peak RSS the same.
        ProcessEnvironment.ensure([("OPENBLAS_THREAD_TIMEOUT", "4"), ("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1")])
        // Activations and chips over glibc's mmap threshold stay in the heap instead of being mapped,
        // page-faulted and zeroed afresh at every step (docs/ENGINE.md, "Memory").
        _ = MemoryPolicy.keepLargeBuffersInHeap()
        do {
            var command = try parseAsRoot(nil)
            try command.run()
        } catch {
            // One rank's error ends the whole mpirun job, with its rank named (no rank is left waiting).
            if let cluster = Cluster.joinedWorld, cluster.isDistributed, !(error is CleanExit) {
                cluster.abort("\(OneLineError.wrapping(error))")
            }
            Cluster.joinedWorld?.finish()
            exit(withError: OneLineError.wrapping(error))
        }
        Cluster.joinedWorld?.finish()
    }
}

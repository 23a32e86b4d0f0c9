import CMPI
import Foundation
import Synchronization

/// The processes of one job and this one's place among them.
///
/// Started by `mpirun` (or `mpiexec`, or Slurm's `srun` with PMIx), `Cluster.join()` initialises Open
/// MPI and returns the world: `rank` of `size`. Started any other way it returns `Cluster.single`, a
/// world of one in which every collective hands back what it was given and MPI is never initialised,
/// so `canopy` behaves exactly as it does without MPI.
///
/// Collectives (Collectives.swift) are started non-blocking and polled, so each waits at most
/// `timeoutSeconds` (or a time the caller names) before throwing `ClusterError.timeout`; the caller
/// then ends the job with `abort(_:)`. A rank that dies outright is noticed by the launcher, which
/// ends the others. MPI is called from one thread at a time (`MPI_THREAD_SERIALIZED`).
public final class Cluster: @unchecked Sendable {
    public let rank: Int
    public let size: Int
    /// Longest a collective waits for the other ranks, in seconds, unless the call names its own.
    public var timeoutSeconds: Double = 600
    /// Whether MPI was initialised (false for `single`).
    public let usesMPI: Bool

    public var isRoot: Bool { rank == 0 }
    public var isDistributed: Bool { size > 1 }

    /// A world of one, without MPI.
    public static let single = Cluster(rank: 0, size: 1, usesMPI: false)

    init(rank: Int, size: Int, usesMPI: Bool) {
        self.rank = rank
        self.size = size
        self.usesMPI = usesMPI
    }

    /// The environment variables an MPI launcher sets in the processes it starts (Open MPI's mpirun,
    /// PMIx under Slurm's srun, Hydra-style PMI).
    public static let launcherVariables = ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"]

    /// Whether this process was started by an MPI launcher.
    public static func launchedByMPI(environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        launcherVariables.contains { environment[$0] != nil }
    }

    private static let joined = Mutex<Cluster?>(nil)

    /// The world `join()` initialised MPI for, if it did.
    public static var joinedWorld: Cluster? { joined.withLock { $0 } }

    /// This process's world: under an MPI launcher, MPI is initialised (once; later calls return the
    /// same world) with errors returned rather than aborting; otherwise `single`.
    public static func join() throws(ClusterError) -> Cluster {
        guard launchedByMPI() else { return .single }
        let result: Result<Cluster, ClusterError> = joined.withLock { joined in
            if let joined { return .success(joined) }
            var provided: Int32 = 0
            var argc: Int32 = 0
            let code = MPI_Init_thread(&argc, nil, Int32(MPI_THREAD_SERIALIZED), &provided)
            guard code == MPI_SUCCESS else {
                return .failure(.unavailable("MPI_Init_thread failed (\(errorString(code))): was canopy started by mpirun?"))
            }
            let world = canopy_mpi_comm_world()
            MPI_Comm_set_errhandler(world, canopy_mpi_errors_return())
            var rank: Int32 = 0, size: Int32 = 0
            MPI_Comm_rank(world, &rank)
            MPI_Comm_size(world, &size)
            let cluster = Cluster(rank: Int(rank), size: Int(size), usesMPI: true)
            joined = cluster
            return .success(cluster)
        }
        return try result.get()
    }

    /// Ends MPI for this process (every rank calls it once, after its last collective). `single`: nothing.
    public func finish() {
        guard usesMPI else { return }
        var finalized: Int32 = 0
        MPI_Finalized(&finalized)
        if finalized == 0 { MPI_Finalize() }
    }

    /// Ends the whole job: `message` on standard error with this rank's name, then `MPI_Abort`, which
    /// the launcher turns into the end of every rank. Without MPI, the process exits with `code`.
    public func abort(_ message: String, code: Int32 = 1) -> Never {
        let line = usesMPI ? "canopy: rank \(rank) of \(size): \(message)\n" : "canopy: \(message)\n"
        FileHandle.standardError.write(Data(line.utf8))
        if usesMPI { MPI_Abort(canopy_mpi_comm_world(), code) }
        exit(code)
    }

    /// The host this rank runs on (for messages and the run's record).
    public var processorName: String {
        guard usesMPI else { return ProcessInfo.processInfo.hostName }
        var buffer = [CChar](repeating: 0, count: 1024)  // MPI_MAX_PROCESSOR_NAME is 256 in Open MPI
        var length: Int32 = 0
        MPI_Get_processor_name(&buffer, &length)
        return String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Throws unless `code` is `MPI_SUCCESS`.
    func check(_ code: Int32, _ call: String) throws(ClusterError) {
        guard code != MPI_SUCCESS else { return }
        throw .mpi(call: call, rank: rank, message: Self.errorString(code))
    }

    static func errorString(_ code: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: 512)
        var length: Int32 = 0
        guard MPI_Error_string(code, &buffer, &length) == MPI_SUCCESS else { return "MPI error \(code)" }
        return String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

import Foundation

/// What went wrong between the processes of a job. Each names the rank that saw it, so the one line a
/// failed job prints says where to look.
public enum ClusterError: Error, CustomStringConvertible, Equatable {
    /// An MPI call returned an error (the communicator returns errors rather than aborting).
    case mpi(call: String, rank: Int, message: String)
    /// A collective did not complete within its time: another rank is stuck, or gone without the
    /// launcher noticing.
    case timeout(operation: String, rank: Int, seconds: Double)
    /// The ranks disagree about something they must share (a buffer's length, a plan).
    case inconsistent(operation: String, rank: Int, detail: String)
    /// MPI is not there to start (no launcher, or a second start in one process).
    case unavailable(String)

    public var description: String {
        switch self {
        case let .mpi(call, rank, message): "rank \(rank): \(call) failed: \(message)"
        case let .timeout(operation, rank, seconds):
            "rank \(rank): \(operation) did not complete within \(Self.format(seconds)) s (another rank is stuck or gone; "
                + "distributed.timeout_seconds sets the wait)"
        case let .inconsistent(operation, rank, detail): "rank \(rank): \(operation): the ranks disagree: \(detail)"
        case let .unavailable(detail): detail
        }
    }

    static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(format: "%.1f", seconds)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Fault injection for the crash test (`scripts/kill-resume-test.sh`): the moments at which a
/// SIGKILL matters most are those between the steps of a durable write, and most of a pipeline's
/// stages last milliseconds, too short to hit with a timer. So every step of `AtomicFile.write`
/// (temporary file opened, data written, flushed, renamed) is a numbered *crash point* within the
/// pipeline stage that reaches it, and an environment variable picks one at which the process
/// kills itself with SIGKILL, exactly as `kill -9` from outside would:
///
///     CANOPY_CRASH_AT=tune:3     SIGKILL at the third crash point of the tune stage
///     CANOPY_CRASH_AT=list       print every crash point to standard error, kill nothing
///
/// Unset (always, outside that test), each point costs one load of a constant.
public enum CrashPoints {
    enum Mode: Equatable {
        case off
        case list
        case kill(stage: String, at: Int)
    }

    static let mode: Mode = {
        guard let value = getenv("CANOPY_CRASH_AT").map({ String(cString: $0) }), !value.isEmpty else { return .off }
        if value == "list" { return .list }
        let parts = value.split(separator: ":")
        guard parts.count == 2, let at = Int(parts[1]), at > 0 else {
            printError("canopy: CANOPY_CRASH_AT=\(value) is not STAGE:N or list; ignored")
            return .off
        }
        return .kill(stage: String(parts[0]), at: at)
    }()

    private static let state = Mutex<(stage: String, count: Int)>((stage: "", count: 0))

    /// The stage that the following crash points belong to; numbering restarts at 1.
    public static func enter(stage: String) {
        guard mode != .off else { return }
        state.withLock { $0 = (stage: stage, count: 0) }
    }

    /// One crash point: `what` says where (for the list).
    public static func reached(_ what: @autoclosure () -> String) {
        guard mode != .off else { return }
        let (stage, count) = state.withLock { current -> (String, Int) in
            current.count += 1
            return (current.stage, current.count)
        }
        switch mode {
        case .off: break
        case .list: printError("crash point \(stage):\(count) \(what())")
        case .kill(let target, let at):
            if target == stage && at == count {
                printError("crash point \(stage):\(count) \(what()): SIGKILL")
                kill(getpid(), SIGKILL)
            }
        }
    }

    private static func printError(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }
}

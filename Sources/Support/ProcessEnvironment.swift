#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Settings that a library reads from the environment only when it loads, before `main` runs.
public enum ProcessEnvironment {
    /// Makes sure each variable is set (values already set by the user win), re-executing the
    /// program once with them when any was missing. OpenBLAS, for one, reads
    /// `OPENBLAS_THREAD_TIMEOUT` in its load-time constructor.
    public static func ensure(_ variables: [(name: String, value: String)]) {
        let missing = variables.filter { getenv($0.name) == nil }
        guard !missing.isEmpty, getenv("CANOPY_REEXECUTED") == nil else { return }
        for variable in missing { setenv(variable.name, variable.value, 1) }
        setenv("CANOPY_REEXECUTED", "1", 1)
        // Only returns on failure, and then the program simply goes on with the library's defaults.
        execv("/proc/self/exe", CommandLine.unsafeArgv)
    }
}

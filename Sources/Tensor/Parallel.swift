import Dispatch

/// Splits `0..<count` into contiguous chunks run on all cores; `body` gets each chunk once.
/// Chunks never overlap, so a body that writes only inside its range cannot race. How many chunks,
/// and below how much work the loop runs inline, come from `EngineSettings.current`, and every chunk
/// runs under the caller's settings (Dispatch's threads do not inherit task-locals).
public enum Parallel {
    public static func forEachChunk(_ count: Int, costPerItem: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let settings = EngineSettings.current
        let chunks = min(settings.workers, max(1, count * max(costPerItem, 1) / settings.minimumWorkPerChunk), count)
        if chunks == 1 {
            body(0..<count)
            return
        }
        withoutActuallyEscaping(body) { escapable in
            // Chunks are disjoint ranges: callers write only inside theirs, which is what makes
            // sharing the closure (and the pointers it captures) across threads sound.
            nonisolated(unsafe) let work = escapable
            DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                let start = count * chunk / chunks, end = count * (chunk + 1) / chunks
                if start < end { EngineSettings.with(settings) { work(start..<end) } }
            }
        }
    }
}

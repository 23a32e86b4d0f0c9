import Dispatch

/// Splits `0..<count` into contiguous chunks run on all cores; `body` gets each chunk once.
/// Chunks never overlap, so a body that writes only inside its range cannot race.
public enum Parallel {
    /// How many chunks work is split into (the machine's cores unless set).
    nonisolated(unsafe) public static var workers = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// Below this much work (`count × costPerItem`) the loop runs inline: waking threads costs more.
    nonisolated(unsafe) public static var minimumWorkPerChunk = 32_768

    public static func forEachChunk(_ count: Int, costPerItem: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let chunks = min(workers, max(1, count * max(costPerItem, 1) / minimumWorkPerChunk), count)
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
                if start < end { work(start..<end) }
            }
        }
    }
}

import Foundation

internal import CMemory

/// How the process's allocator treats the engine's large activation buffers.
public enum MemoryPolicy {
    /// glibc serves blocks over its mmap threshold (adaptive, capped at 32 MiB) with fresh mappings, so
    /// every training step would page-fault its activations in again, zeroed by the kernel. Keeping
    /// large blocks in the heap lets each step reuse the memory the previous step freed. Call once,
    /// early, in programs that train or benchmark; memory is then kept for reuse rather than returned
    /// to the system between steps. Returns false where the allocator has no such setting.
    @discardableResult
    public static func keepLargeBuffersInHeap() -> Bool {
        canopy_keep_large_buffers_in_heap() == 1
    }

    /// Bytes in allocated blocks now (glibc's mallinfo2, which walks the arenas: for profiling, not for
    /// every call); nil where the allocator does not tell.
    public static func heapInUse() -> Int? {
        let bytes = canopy_heap_in_use()
        return bytes < 0 ? nil : Int(bytes)
    }

    /// Bytes the allocator holds from the system: the heap in use plus the free blocks it keeps.
    public static func heapSize() -> Int? {
        let bytes = canopy_heap_size()
        return bytes < 0 ? nil : Int(bytes)
    }
}

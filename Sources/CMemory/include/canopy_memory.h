// glibc's mallopt, which Swift's Glibc module does not export (malloc.h is not in its module map).
#ifndef CANOPY_MEMORY_H
#define CANOPY_MEMORY_H
/// Serves every block from the heap instead of fresh mmaps, and never trims the heap: freed
/// activation buffers are reused by the next step instead of being faulted in again. Returns 1 on
/// success, 0 where the allocator does not support it.
int canopy_keep_large_buffers_in_heap(void);
/// Bytes of allocated blocks (glibc's mallinfo2: in-use heap chunks plus mmapped blocks), -1 elsewhere.
long long canopy_heap_in_use(void);
/// Bytes the allocator holds from the system (heap arenas plus mmapped blocks), -1 elsewhere.
long long canopy_heap_size(void);
#endif

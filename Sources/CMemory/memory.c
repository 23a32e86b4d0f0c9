#include "canopy_memory.h"

#include <stdlib.h>  // defines __GLIBC__ where glibc is the C library

#if defined(__GLIBC__)
#include <malloc.h>
// glibc caps M_MMAP_THRESHOLD at 32 MiB, below one activation of a batch-32 stem convolution, so
// mmap is switched off instead (M_MMAP_MAX = 0): every block comes from the heap, which is never
// trimmed, and a freed activation is reused by the next step without page faults.
int canopy_keep_large_buffers_in_heap(void) {
  return mallopt(M_MMAP_MAX, 0) == 1 && mallopt(M_TRIM_THRESHOLD, 0x7fffffff) == 1;
}

long long canopy_heap_in_use(void) {
  struct mallinfo2 info = mallinfo2();
  return (long long)(info.uordblks + info.hblkhd);
}

long long canopy_heap_size(void) {
  struct mallinfo2 info = mallinfo2();
  return (long long)(info.arena + info.hblkhd);
}
#else
int canopy_keep_large_buffers_in_heap(void) { return 0; }
long long canopy_heap_in_use(void) { return -1; }
long long canopy_heap_size(void) { return -1; }
#endif

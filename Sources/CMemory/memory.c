#include "canopy_memory.h"

#if defined(__GLIBC__)
#include <malloc.h>
int canopy_keep_large_buffers_in_heap(void) {
  return mallopt(M_MMAP_THRESHOLD, 1 << 30) == 1 && mallopt(M_TRIM_THRESHOLD, 0x7fffffff) == 1;
}
#else
int canopy_keep_large_buffers_in_heap(void) { return 0; }
#endif

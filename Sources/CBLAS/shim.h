// Debian puts OpenBLAS's cblas.h in an include folder that pkg-config (openblas) adds to the path.
#include <cblas.h>

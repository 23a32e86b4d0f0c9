// libFuzzer's entry for programs that keep their own main (SwiftPM names an executable's main itself).
// Declared only: the symbol comes from libFuzzer when scripts/fuzz.sh links with -sanitize=fuzzer.
#ifndef CANOPY_FUZZ_DRIVER_H
#define CANOPY_FUZZ_DRIVER_H
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
#endif

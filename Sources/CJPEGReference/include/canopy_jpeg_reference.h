// Plain libjpeg-turbo, used the way its own example code and the peers' benchmark use it: one
// reused decompressor, the library's standard error manager, no Canopy logic. It exists so that
// `canopy bench decode` can put Canopy's decoder beside the bare library in the same run.
// Only for files already known to decode: libjpeg's standard error handler exits the process.
#ifndef CANOPY_JPEG_REFERENCE_H
#define CANOPY_JPEG_REFERENCE_H
#include <stddef.h>
#include <stdint.h>

typedef struct canopy_reference_jpeg canopy_reference_jpeg;
canopy_reference_jpeg *canopy_reference_jpeg_create(void);
void canopy_reference_jpeg_destroy(canopy_reference_jpeg *ctx);
/// Decodes at 1/scale_denom into `out` (interleaved, the library's own output components: RGB for
/// 3-component files, raw CMYK for 4-component ones). Returns the bytes written, 0 if `capacity` is short.
size_t canopy_reference_jpeg_decode(canopy_reference_jpeg *ctx, const uint8_t *data, size_t size,
                                    int scale_denom, uint8_t *out, size_t capacity);
#endif

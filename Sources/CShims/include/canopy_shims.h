// The little C that Swift cannot write: libjpeg and libpng report fatal errors by longjmp, which
// Swift frames must never be unwound by. Every libjpeg/libpng call lives here, inside a setjmp
// frame, and comes back to Swift as a status code plus a message. No libjpeg or libpng type appears
// in this header, so none leaks into Swift beyond the ImageIO module that imports it.
#ifndef CANOPY_SHIMS_H
#define CANOPY_SHIMS_H

#include <stddef.h>
#include <stdint.h>

/// Status codes shared by the JPEG and PNG shims.
enum {
  CANOPY_OK = 0,
  CANOPY_ERR_CORRUPT = 1,      ///< the stream is malformed
  CANOPY_ERR_TRUNCATED = 2,    ///< the stream ends before the image does
  CANOPY_ERR_UNSUPPORTED = 3,  ///< a valid stream in a layout Canopy does not decode
  CANOPY_ERR_NO_MEMORY = 4,    ///< the library could not allocate
  CANOPY_ERR_TOO_LARGE = 5,    ///< declared dimensions above the caller's limit
  CANOPY_ERR_USAGE = 6         ///< the shim was called out of order (a Canopy bug)
};

/// Colour spaces a JPEG declares (libjpeg's J_COLOR_SPACE, reduced to what Canopy distinguishes).
enum {
  CANOPY_JPEG_UNKNOWN = 0,
  CANOPY_JPEG_GRAY = 1,
  CANOPY_JPEG_RGB = 2,
  CANOPY_JPEG_YCBCR = 3,
  CANOPY_JPEG_CMYK = 4,
  CANOPY_JPEG_YCCK = 5
};

typedef struct canopy_jpeg_info {
  int width;
  int height;
  int components;      ///< components in the stream (1, 3 or 4 for supported files)
  int color_space;     ///< CANOPY_JPEG_*
  int saw_adobe;       ///< an Adobe APP14 marker was present
  int adobe_transform; ///< its transform flag (0 CMYK/RGB, 1 YCbCr, 2 YCCK)
  int saw_jfif;
  int progressive;
} canopy_jpeg_info;

typedef struct canopy_jpeg canopy_jpeg;

/// A reusable decompressor; NULL when out of memory.
canopy_jpeg *canopy_jpeg_create(void);
void canopy_jpeg_destroy(canopy_jpeg *ctx);

/// Reads the header of `data` (which must outlive the decode). Any earlier decode is abandoned.
int canopy_jpeg_read_header(canopy_jpeg *ctx, const uint8_t *data, size_t size, canopy_jpeg_info *info);

/// Starts decompression at 1/`scale_denom` (1, 2, 4 or 8) and reports the output size. Output is
/// gray (1 channel) for grayscale files and RGB (3 channels) for every other supported file; 4-component
/// files (CMYK, YCCK, or Planet's R,G,B,255 with no Adobe marker) become RGB as djpeg does:
/// r = c * k / 255, which is exact for Planet's constant k = 255.
int canopy_jpeg_start(canopy_jpeg *ctx, int scale_denom, int *out_width, int *out_height, int *out_channels);

/// Decodes every scanline into `out` (rows of `row_stride` bytes) and finishes the image.
int canopy_jpeg_read_image(canopy_jpeg *ctx, uint8_t *out, size_t row_stride);

/// Abandons a started decode (after a caller-side refusal); the context stays usable.
void canopy_jpeg_abort(canopy_jpeg *ctx);

/// The message of the last failure, or "" after success.
const char *canopy_jpeg_error_message(const canopy_jpeg *ctx);
/// Number of non-fatal warnings in the last decode, and the first one's message.
int canopy_jpeg_warning_count(const canopy_jpeg *ctx);
const char *canopy_jpeg_first_warning(const canopy_jpeg *ctx);

/// How canopy_jpeg_encode lays out the stream's components.
enum {
  CANOPY_JPEG_LAYOUT_YCBCR = 0,   ///< gray, or RGB stored as YCbCr 4:2:0, with a JFIF header
  CANOPY_JPEG_LAYOUT_PLANET4 = 1  ///< Planet's: R, G, B, 255 as 4 untransformed components, no JFIF or Adobe marker
};

/// Encodes 8-bit interleaved samples (`channels` 1 gray or 3 RGB; PLANET4 takes 3, RGB, and adds the
/// constant fourth component itself) at `quality` 1...100, inside a setjmp frame. On success `*out` is
/// a malloc'd buffer of `*out_size` bytes the caller frees with canopy_free; on failure nothing is
/// allocated and `message` (of `message_size` bytes) receives libjpeg's error. Reentrant: no shared state.
int canopy_jpeg_encode(const uint8_t *pixels, int width, int height, int channels, size_t row_stride,
                       int quality, int layout, uint8_t **out, size_t *out_size,
                       char *message, size_t message_size);

// ---- PNG -------------------------------------------------------------------------------------

typedef struct canopy_png_info {
  int width;
  int height;
  int channels;   ///< after expansion: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA
  int bit_depth;  ///< after expansion: 8 or 16 (16-bit samples come out in host byte order)
  int color_type; ///< the file's own PNG colour type
  int interlaced;
} canopy_png_info;

typedef struct canopy_png canopy_png;

/// Opens `data` (which must outlive the decode) and reads its header. Palette becomes RGB(A), gray
/// below 8 bits becomes 8-bit gray, tRNS becomes an alpha channel. Dimensions above `max_dimension`
/// are refused by libpng itself before any allocation. NULL only when out of memory; otherwise check
/// canopy_png_status.
canopy_png *canopy_png_open(const uint8_t *data, size_t size, uint32_t max_dimension, canopy_png_info *info);
int canopy_png_status(const canopy_png *ctx);
/// Decodes every row (interlaced or not) into `out` (rows of `row_stride` bytes).
int canopy_png_read_image(canopy_png *ctx, uint8_t *out, size_t row_stride);
const char *canopy_png_error_message(const canopy_png *ctx);
int canopy_png_warning_count(const canopy_png *ctx);
const char *canopy_png_first_warning(const canopy_png *ctx);
void canopy_png_close(canopy_png *ctx);

/// Encodes interleaved samples (8-bit, or 16-bit in host byte order) as a PNG in memory.
/// On success `*out` is a malloc'd buffer of `*out_size` bytes the caller frees with canopy_free.
/// `message` (of `message_size` bytes) receives libpng's error on failure.
int canopy_png_encode(const void *pixels, int width, int height, int channels, int bit_depth,
                      size_t row_stride, uint8_t **out, size_t *out_size,
                      char *message, size_t message_size);
void canopy_free(void *pointer);

/// Compression for canopy_tiff_encode.
enum { CANOPY_TIFF_COMPRESS_NONE = 0, CANOPY_TIFF_COMPRESS_DEFLATE = 1 };

/// Encodes interleaved samples (8-bit, or 16-bit in host byte order) as a single-image, contiguous,
/// strip-organised little-endian TIFF in memory, through libtiff's TIFFClientOpen over a growable
/// buffer. Photometric from `samples_per_pixel`: 1 MinIsBlack; 3 RGB; 4 RGB plus one unspecified
/// extra sample (Planet's analytic layout); any other count MinIsBlack plus unspecified extra samples.
/// Deflate uses the horizontal predictor. On success `*out` is a malloc'd buffer of `*out_size` bytes
/// the caller frees with canopy_free; on failure nothing is allocated and `message` receives libtiff's
/// error. Reentrant: errors go to per-handle handlers, no shared state.
int canopy_tiff_encode(const void *pixels, uint32_t width, uint32_t height, int samples_per_pixel,
                       int bits_per_sample, size_t row_stride, int compression, uint8_t **out,
                       size_t *out_size, char *message, size_t message_size);

// ---- TIFF ------------------------------------------------------------------------------------
// libtiff reports errors through handlers (no longjmp), but its tag getter is variadic and its
// handlers take a va_list, neither of which Swift can call or implement: so TIFF is read here too.

enum { CANOPY_TIFF_GRAY = 1, CANOPY_TIFF_RGB = 2, CANOPY_TIFF_OTHER = 0 };

typedef struct canopy_tiff_info {
  uint32_t width;
  uint32_t height;
  int samples_per_pixel;
  int bits_per_sample;
  int sample_format;     ///< TIFF's SampleFormat (1 unsigned integer)
  int photometric;       ///< TIFF's PhotometricInterpretation as stored
  int band_model;        ///< CANOPY_TIFF_GRAY, CANOPY_TIFF_RGB (incl. JPEG-YCbCr read as RGB), or OTHER
  int planar_separate;   ///< PlanarConfiguration = 2
  int tiled;
  int compression;
  int codec_configured;  ///< libtiff here can decode this compression
  int extra_samples;
  int first_extra_is_alpha;
  int directories_hint;  ///< 1 when more than one image directory follows (only the first is read)
} canopy_tiff_info;

typedef struct canopy_tiff canopy_tiff;

/// Opens a TIFF held in memory (`data` must outlive the handle). No libtiff allocation may exceed
/// `max_single_allocation` bytes. NULL only when out of memory; otherwise check canopy_tiff_status.
canopy_tiff *canopy_tiff_open(const uint8_t *data, size_t size, size_t max_single_allocation);
int canopy_tiff_status(const canopy_tiff *ctx);
int canopy_tiff_describe(canopy_tiff *ctx, canopy_tiff_info *info);
/// Reads the first image's pixels, strips or tiles, contiguous or separate planes, into `out`:
/// interleaved samples (band fastest), 8- or 16-bit in host order, `out_size` bytes exactly.
int canopy_tiff_read(canopy_tiff *ctx, uint8_t *out, size_t out_size);
const char *canopy_tiff_error_message(const canopy_tiff *ctx);
int canopy_tiff_warning_count(const canopy_tiff *ctx);
const char *canopy_tiff_first_warning(const canopy_tiff *ctx);
void canopy_tiff_close(canopy_tiff *ctx);

#endif

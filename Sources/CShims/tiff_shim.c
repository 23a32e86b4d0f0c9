// libtiff over a memory buffer, with errors and warnings routed to the caller: see canopy_shims.h.
#include "canopy_shims.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>

struct canopy_tiff {
  TIFF *tif;
  const uint8_t *data;
  size_t size;
  size_t offset;
  size_t max_single_allocation;
  int status;
  int warnings;
  char message[512];
  char first_warning[256];
};

static int classify(const char *text) {
  // libtiff spells it both ways: "Cannot read TIFF header", "Can not read TIFF directory count".
  if (strstr(text, "Read error") || strstr(text, "Cannot read") || strstr(text, "Can not read") || strstr(text, "past end") ||
      strstr(text, "Seek error") || strstr(text, "EOF") || strstr(text, "end of file") ||
      strstr(text, "Not enough data"))
    return CANOPY_ERR_TRUNCATED;
  if (strstr(text, "Maximum single memory allocation") || strstr(text, "too large"))
    return CANOPY_ERR_TOO_LARGE;
  if (strstr(text, "Out of memory") || strstr(text, "Failed to allocate") || strstr(text, "No space"))
    return CANOPY_ERR_NO_MEMORY;
  if (strstr(text, "not configured") || strstr(text, "Sorry, requested compression"))
    return CANOPY_ERR_UNSUPPORTED;
  return CANOPY_ERR_CORRUPT;
}

static int on_error(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
  (void)tif;
  struct canopy_tiff *ctx = user;
  if (ctx->status != CANOPY_OK) return 1;  // keep the first error: later ones are its consequences
  char text[400];
  vsnprintf(text, sizeof text, fmt, ap);
  ctx->status = classify(text);
  snprintf(ctx->message, sizeof ctx->message, "%s%s%s", module ? module : "", module ? ": " : "", text);
  return 1;
}

static int on_warning(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
  (void)tif;
  (void)module;
  struct canopy_tiff *ctx = user;
  if (ctx->warnings++ == 0) vsnprintf(ctx->first_warning, sizeof ctx->first_warning, fmt, ap);
  return 1;
}

static tmsize_t on_read(thandle_t handle, void *buffer, tmsize_t size) {
  struct canopy_tiff *ctx = handle;
  if (size <= 0) return 0;
  size_t available = ctx->offset < ctx->size ? ctx->size - ctx->offset : 0;
  size_t n = (size_t)size < available ? (size_t)size : available;
  memcpy(buffer, ctx->data + ctx->offset, n);
  ctx->offset += n;
  return (tmsize_t)n;
}

static tmsize_t on_write(thandle_t handle, void *buffer, tmsize_t size) {
  (void)handle;
  (void)buffer;
  (void)size;
  return -1;
}

static toff_t on_seek(thandle_t handle, toff_t offset, int whence) {
  struct canopy_tiff *ctx = handle;
  uint64_t base = whence == SEEK_CUR ? ctx->offset : whence == SEEK_END ? ctx->size : 0;
  uint64_t target = base + offset;
  if (target < base) return (toff_t)-1;  // wrapped
  ctx->offset = (size_t)(target > ctx->size ? ctx->size : target);
  if (target > ctx->size) return (toff_t)-1;
  return (toff_t)target;
}

static int on_close(thandle_t handle) {
  (void)handle;
  return 0;
}

static toff_t on_size(thandle_t handle) { return ((struct canopy_tiff *)handle)->size; }

// Handing libtiff the buffer as a "mapped file" lets it read uncompressed strips without a copy.
static int on_map(thandle_t handle, void **base, toff_t *size) {
  struct canopy_tiff *ctx = handle;
  *base = (void *)ctx->data;
  *size = ctx->size;
  return 1;
}

static void on_unmap(thandle_t handle, void *base, toff_t size) {
  (void)handle;
  (void)base;
  (void)size;
}

canopy_tiff *canopy_tiff_open(const uint8_t *data, size_t size, size_t max_single_allocation) {
  struct canopy_tiff *ctx = calloc(1, sizeof *ctx);
  if (!ctx) return NULL;
  ctx->data = data;
  ctx->size = size;
  ctx->max_single_allocation = max_single_allocation;
  TIFFOpenOptions *options = TIFFOpenOptionsAlloc();
  if (!options) {
    ctx->status = CANOPY_ERR_NO_MEMORY;
    snprintf(ctx->message, sizeof ctx->message, "cannot allocate libtiff options");
    return ctx;
  }
  TIFFOpenOptionsSetMaxSingleMemAlloc(options, (tmsize_t)max_single_allocation);
  TIFFOpenOptionsSetErrorHandlerExtR(options, on_error, ctx);
  TIFFOpenOptionsSetWarningHandlerExtR(options, on_warning, ctx);
  ctx->tif = TIFFClientOpenExt("memory", "rm", ctx, on_read, on_write, on_seek, on_close, on_size, on_map,
                               on_unmap, options);
  TIFFOpenOptionsFree(options);
  if (!ctx->tif && ctx->status == CANOPY_OK) {
    ctx->status = CANOPY_ERR_CORRUPT;
    snprintf(ctx->message, sizeof ctx->message, "libtiff could not open the file");
  }
  return ctx;
}

int canopy_tiff_status(const canopy_tiff *ctx) { return ctx->status; }

static int fail(struct canopy_tiff *ctx, int status, const char *text) {
  if (ctx->status == CANOPY_OK) {
    ctx->status = status;
    snprintf(ctx->message, sizeof ctx->message, "%s", text);
  }
  return ctx->status;
}

int canopy_tiff_describe(canopy_tiff *ctx, canopy_tiff_info *info) {
  if (!ctx->tif) return fail(ctx, CANOPY_ERR_USAGE, "no TIFF open");
  TIFF *tif = ctx->tif;
  memset(info, 0, sizeof *info);
  uint16_t spp = 1, bps = 1, format = SAMPLEFORMAT_UINT, photometric = 0, planar = PLANARCONFIG_CONTIG,
           compression = COMPRESSION_NONE;
  uint16_t extra_count = 0;
  uint16_t *extra = NULL;
  if (!TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &info->width) || !TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &info->height))
    return fail(ctx, CANOPY_ERR_CORRUPT, "no image width or length tag");
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
  TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bps);
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &format);
  TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &planar);
  TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &compression);
  if (!TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photometric)) photometric = spp >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK;
  TIFFGetFieldDefaulted(tif, TIFFTAG_EXTRASAMPLES, &extra_count, &extra);
  info->samples_per_pixel = spp;
  info->bits_per_sample = bps;
  info->sample_format = format;
  info->photometric = photometric;
  info->planar_separate = planar == PLANARCONFIG_SEPARATE;
  info->tiled = TIFFIsTiled(tif);
  info->compression = compression;
  info->codec_configured = TIFFIsCODECConfigured(compression);
  info->extra_samples = extra_count;
  info->first_extra_is_alpha =
      extra_count > 0 && extra && (extra[0] == EXTRASAMPLE_ASSOCALPHA || extra[0] == EXTRASAMPLE_UNASSALPHA);
  info->directories_hint = !TIFFLastDirectory(tif);
  if (photometric == PHOTOMETRIC_MINISBLACK) {
    info->band_model = CANOPY_TIFF_GRAY;
  } else if (photometric == PHOTOMETRIC_RGB) {
    info->band_model = CANOPY_TIFF_RGB;
  } else if (photometric == PHOTOMETRIC_YCBCR && compression == COMPRESSION_JPEG && spp == 3 &&
             info->codec_configured) {
    // libtiff's JPEG codec converts to RGB itself when asked.
    TIFFSetField(tif, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
    info->band_model = CANOPY_TIFF_RGB;
  } else {
    info->band_model = CANOPY_TIFF_OTHER;
  }
  return ctx->status;
}

// Copies `rows` rows of `cols` pixels from a decoded strip or tile to the interleaved image.
// Contiguous: whole pixels move. Separate planes: one sample per pixel goes to band `plane`.
static void place(uint8_t *out, const uint8_t *block, uint32_t width, uint32_t x0, uint32_t y0, uint32_t rows,
                  uint32_t cols, size_t block_row_pixels, size_t pixel_bytes, size_t sample_bytes, int separate,
                  int plane) {
  for (uint32_t r = 0; r < rows; r++) {
    uint8_t *dest = out + (((size_t)(y0 + r) * width) + x0) * pixel_bytes;
    if (!separate) {
      memcpy(dest, block + (size_t)r * block_row_pixels * pixel_bytes, (size_t)cols * pixel_bytes);
      continue;
    }
    const uint8_t *src = block + (size_t)r * block_row_pixels * sample_bytes;
    dest += (size_t)plane * sample_bytes;
    for (uint32_t c = 0; c < cols; c++) memcpy(dest + (size_t)c * pixel_bytes, src + (size_t)c * sample_bytes, sample_bytes);
  }
}

int canopy_tiff_read(canopy_tiff *ctx, uint8_t *out, size_t out_size) {
  canopy_tiff_info info;
  if (canopy_tiff_describe(ctx, &info) != CANOPY_OK) return ctx->status;
  TIFF *tif = ctx->tif;
  const size_t sample_bytes = (size_t)info.bits_per_sample / 8;
  const size_t pixel_bytes = sample_bytes * (size_t)info.samples_per_pixel;
  const uint32_t width = info.width, height = info.height;
  if ((info.bits_per_sample != 8 && info.bits_per_sample != 16) || info.samples_per_pixel < 1)
    return fail(ctx, CANOPY_ERR_UNSUPPORTED, "only 8- and 16-bit samples are read");
  if ((size_t)width * height * pixel_bytes != out_size) return fail(ctx, CANOPY_ERR_USAGE, "output buffer size mismatch");
  const int separate = info.planar_separate && info.samples_per_pixel > 1;
  const int planes = separate ? info.samples_per_pixel : 1;
  const size_t unit_bytes = separate ? sample_bytes : pixel_bytes;  // bytes per pixel within one block

  uint32_t block_width = width, block_height = 0;
  tmsize_t block_size;
  if (info.tiled) {
    if (!TIFFGetField(tif, TIFFTAG_TILEWIDTH, &block_width) || !TIFFGetField(tif, TIFFTAG_TILELENGTH, &block_height) ||
        block_width == 0 || block_height == 0)
      return fail(ctx, CANOPY_ERR_CORRUPT, "tiled TIFF without a valid tile size");
    block_size = TIFFTileSize(tif);
  } else {
    TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &block_height);
    if (block_height == 0 || block_height > height) block_height = height;
    block_size = TIFFStripSize(tif);
  }
  const size_t needed = (size_t)block_width * block_height * unit_bytes;
  if (block_size <= 0 || (size_t)block_size < needed) return fail(ctx, CANOPY_ERR_CORRUPT, "inconsistent strip or tile size");
  // A small file can declare enormous tiles (found by fuzzing: 16 x 268435456): the image fits the
  // limits but one tile would not, so the tile buffer is held to the same bound as libtiff's own.
  if ((size_t)block_size > ctx->max_single_allocation) {
    char text[160];
    snprintf(text, sizeof text, "a %u x %u %s of %lld bytes exceeds the %zu-byte allocation limit", block_width,
             block_height, info.tiled ? "tile" : "strip", (long long)block_size, ctx->max_single_allocation);
    return fail(ctx, CANOPY_ERR_TOO_LARGE, text);
  }
  uint8_t *block = malloc((size_t)block_size);
  if (!block) return fail(ctx, CANOPY_ERR_NO_MEMORY, "cannot allocate a strip or tile buffer");

  for (int plane = 0; plane < planes && ctx->status == CANOPY_OK; plane++) {
    for (uint32_t y = 0; y < height && ctx->status == CANOPY_OK; y += block_height) {
      const uint32_t rows = height - y < block_height ? height - y : block_height;
      for (uint32_t x = 0; x < width; x += block_width) {
        const uint32_t cols = width - x < block_width ? width - x : block_width;
        tmsize_t got;
        size_t expected;
        if (info.tiled) {
          got = TIFFReadEncodedTile(tif, TIFFComputeTile(tif, x, y, 0, (uint16_t)plane), block, block_size);
          expected = needed;
        } else {
          got = TIFFReadEncodedStrip(tif, TIFFComputeStrip(tif, y, (uint16_t)plane), block, block_size);
          expected = (size_t)rows * width * unit_bytes;
        }
        if (got < 0) {
          fail(ctx, CANOPY_ERR_CORRUPT, "libtiff could not decode a strip or tile");
          break;
        }
        if ((size_t)got < expected) {
          fail(ctx, CANOPY_ERR_TRUNCATED, "a strip or tile holds fewer bytes than the image needs");
          break;
        }
        place(out, block, width, x, y, rows, cols, block_width, pixel_bytes, sample_bytes, separate, plane);
      }
    }
  }
  free(block);
  return ctx->status;
}

const char *canopy_tiff_error_message(const canopy_tiff *ctx) { return ctx->message; }
int canopy_tiff_warning_count(const canopy_tiff *ctx) { return ctx->warnings; }
const char *canopy_tiff_first_warning(const canopy_tiff *ctx) { return ctx->first_warning; }

void canopy_tiff_close(canopy_tiff *ctx) {
  if (!ctx) return;
  if (ctx->tif) TIFFClose(ctx->tif);
  free(ctx);
}

// ---- encoding ----------------------------------------------------------------------------------
// libtiff writes through client procedures into a growable buffer; it seeks back to patch offsets and
// may seek past the end before writing, so the buffer is a sparse file in memory (gaps read as zeros).

// Deflate level 1: on Planet's 16-bit chips (libdeflate, behind libtiff here) it is both the fastest
// (~6 ms a chip against ~9 at the default 6) and the smallest (3% below 6); sensor noise leaves the
// slower levels nothing to find.
#define CANOPY_TIFF_DEFLATE_LEVEL 1

struct canopy_tiff_sink {
  uint8_t *data;
  size_t size;      // bytes of file so far (the highest offset written)
  size_t capacity;
  size_t offset;
  int status;
  char message[512];
};

static int sink_on_error(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
  (void)tif;
  struct canopy_tiff_sink *sink = user;
  if (sink->status != CANOPY_OK) return 1;  // the first error explains the rest
  char text[400];
  vsnprintf(text, sizeof text, fmt, ap);
  sink->status = CANOPY_ERR_CORRUPT;
  snprintf(sink->message, sizeof sink->message, "%s%s%s", module ? module : "", module ? ": " : "", text);
  return 1;
}

static int sink_on_warning(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
  (void)tif, (void)user, (void)module, (void)fmt, (void)ap;
  return 1;
}

static tmsize_t sink_on_read(thandle_t handle, void *buffer, tmsize_t size) {
  struct canopy_tiff_sink *sink = handle;
  if (size <= 0) return 0;
  size_t available = sink->offset < sink->size ? sink->size - sink->offset : 0;
  size_t n = (size_t)size < available ? (size_t)size : available;
  memcpy(buffer, sink->data + sink->offset, n);
  sink->offset += n;
  return (tmsize_t)n;
}

static tmsize_t sink_on_write(thandle_t handle, void *buffer, tmsize_t size) {
  struct canopy_tiff_sink *sink = handle;
  if (size <= 0) return 0;
  const size_t n = (size_t)size;
  if (sink->offset > SIZE_MAX - n) return -1;
  const size_t end = sink->offset + n;
  if (end > sink->capacity) {
    size_t capacity = sink->capacity ? sink->capacity : 4096;
    while (capacity < end) {
      if (capacity > SIZE_MAX / 2) return -1;
      capacity *= 2;
    }
    uint8_t *grown = realloc(sink->data, capacity);
    if (!grown) {
      if (sink->status == CANOPY_OK) {
        sink->status = CANOPY_ERR_NO_MEMORY;
        snprintf(sink->message, sizeof sink->message, "no memory for a %zu-byte TIFF", capacity);
      }
      return -1;
    }
    sink->data = grown;
    sink->capacity = capacity;
  }
  if (sink->offset > sink->size) memset(sink->data + sink->size, 0, sink->offset - sink->size);
  memcpy(sink->data + sink->offset, buffer, n);
  sink->offset = end;
  if (end > sink->size) sink->size = end;
  return size;
}

static toff_t sink_on_seek(thandle_t handle, toff_t offset, int whence) {
  struct canopy_tiff_sink *sink = handle;
  uint64_t base = whence == SEEK_CUR ? sink->offset : whence == SEEK_END ? sink->size : 0;
  uint64_t target = base + offset;
  if (target < base || target > SIZE_MAX) return (toff_t)-1;
  sink->offset = (size_t)target;
  return (toff_t)target;
}

static int sink_on_close(thandle_t handle) {
  (void)handle;
  return 0;
}

static toff_t sink_on_size(thandle_t handle) { return ((struct canopy_tiff_sink *)handle)->size; }

static int sink_on_map(thandle_t handle, void **base, toff_t *size) {
  (void)handle, (void)base, (void)size;
  return 0;  // never mapped: libtiff falls back to the read procedure
}

static void sink_on_unmap(thandle_t handle, void *base, toff_t size) { (void)handle, (void)base, (void)size; }

static int encode_fail(struct canopy_tiff_sink *sink, TIFF *tif, void *scratch, int status, const char *text,
                       char *message, size_t message_size) {
  if (sink->status == CANOPY_OK) {
    sink->status = status;
    snprintf(sink->message, sizeof sink->message, "%s", text);
  }
  if (tif) TIFFClose(tif);
  free(scratch);
  free(sink->data);
  snprintf(message, message_size, "%s", sink->message);
  return sink->status;
}

int canopy_tiff_encode(const void *pixels, uint32_t width, uint32_t height, int samples_per_pixel,
                       int bits_per_sample, size_t row_stride, int compression, uint8_t **out,
                       size_t *out_size, char *message, size_t message_size) {
  *out = NULL;
  *out_size = 0;
  struct canopy_tiff_sink sink;
  memset(&sink, 0, sizeof sink);
  const size_t pixel_bytes = (size_t)samples_per_pixel * (size_t)(bits_per_sample / 8);
  if (width < 1 || height < 1 || samples_per_pixel < 1 || samples_per_pixel > 65535 ||
      (bits_per_sample != 8 && bits_per_sample != 16) ||
      (compression != CANOPY_TIFF_COMPRESS_NONE && compression != CANOPY_TIFF_COMPRESS_DEFLATE) ||
      row_stride < (size_t)width * pixel_bytes) {
    snprintf(message, message_size, "cannot encode %ux%u with %d samples of %d bits (compression %d)", width,
             height, samples_per_pixel, bits_per_sample, compression);
    return CANOPY_ERR_UNSUPPORTED;
  }
  if (compression == CANOPY_TIFF_COMPRESS_DEFLATE && !TIFFIsCODECConfigured(COMPRESSION_ADOBE_DEFLATE)) {
    snprintf(message, message_size, "Deflate is not built into libtiff here");
    return CANOPY_ERR_UNSUPPORTED;
  }
  const size_t row_bytes = (size_t)width * pixel_bytes;
  // Strips of up to 1 MiB: a Planet chip (256 x 256 x 4 x 16 bits) is one strip, as in Planet's files.
  uint32_t rows_per_strip = (uint32_t)((size_t)(1 << 20) / row_bytes);
  if (rows_per_strip < 1) rows_per_strip = 1;
  if (rows_per_strip > height) rows_per_strip = height;

  TIFFOpenOptions *options = TIFFOpenOptionsAlloc();
  if (!options) return encode_fail(&sink, NULL, NULL, CANOPY_ERR_NO_MEMORY, "cannot allocate libtiff options",
                                   message, message_size);
  TIFFOpenOptionsSetErrorHandlerExtR(options, sink_on_error, &sink);
  TIFFOpenOptionsSetWarningHandlerExtR(options, sink_on_warning, &sink);
  // "l": little-endian, as Planet's files; "m": no memory mapping.
  TIFF *tif = TIFFClientOpenExt("memory", "wlm", &sink, sink_on_read, sink_on_write, sink_on_seek, sink_on_close,
                                sink_on_size, sink_on_map, sink_on_unmap, options);
  TIFFOpenOptionsFree(options);
  if (!tif) return encode_fail(&sink, NULL, NULL, CANOPY_ERR_CORRUPT, "libtiff could not start a file", message,
                               message_size);

  uint16_t photometric = PHOTOMETRIC_MINISBLACK;
  int color_samples = 1;
  if (samples_per_pixel == 3 || samples_per_pixel == 4) {
    photometric = PHOTOMETRIC_RGB;
    color_samples = 3;
  }
  int ok = TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, width) && TIFFSetField(tif, TIFFTAG_IMAGELENGTH, height) &&
           TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)samples_per_pixel) &&
           TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, (uint16_t)bits_per_sample) &&
           TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, SAMPLEFORMAT_UINT) &&
           TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, photometric) &&
           TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG) &&
           TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, rows_per_strip);
  if (ok && samples_per_pixel > color_samples) {
    const int extra = samples_per_pixel - color_samples;
    uint16_t *kinds = calloc((size_t)extra, sizeof *kinds);  // EXTRASAMPLE_UNSPECIFIED is 0
    if (!kinds) return encode_fail(&sink, tif, NULL, CANOPY_ERR_NO_MEMORY, "no memory for the extra sample tags",
                                   message, message_size);
    ok = TIFFSetField(tif, TIFFTAG_EXTRASAMPLES, (uint16_t)extra, kinds);
    free(kinds);
  }
  if (ok && compression == CANOPY_TIFF_COMPRESS_DEFLATE) {
    ok = TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_ADOBE_DEFLATE) &&
         TIFFSetField(tif, TIFFTAG_PREDICTOR, PREDICTOR_HORIZONTAL) &&
         TIFFSetField(tif, TIFFTAG_ZIPQUALITY, CANOPY_TIFF_DEFLATE_LEVEL);
  } else if (ok) {
    ok = TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_NONE);
  }
  if (!ok) return encode_fail(&sink, tif, NULL, CANOPY_ERR_CORRUPT, "libtiff refused a tag", message, message_size);

  // libtiff may alter the data it is handed (the predictor differences it in place, byte swapping
  // swaps it), so every strip goes through a scratch copy and the caller's pixels stay untouched.
  const size_t strip_bytes = (size_t)rows_per_strip * row_bytes;
  uint8_t *scratch = malloc(strip_bytes);
  if (!scratch) return encode_fail(&sink, tif, NULL, CANOPY_ERR_NO_MEMORY, "no memory for a strip buffer", message,
                                   message_size);
  const uint8_t *src = pixels;
  for (uint32_t y = 0, strip = 0; y < height; y += rows_per_strip, strip++) {
    const uint32_t rows = height - y < rows_per_strip ? height - y : rows_per_strip;
    for (uint32_t r = 0; r < rows; r++) memcpy(scratch + (size_t)r * row_bytes, src + (size_t)(y + r) * row_stride, row_bytes);
    if (TIFFWriteEncodedStrip(tif, strip, scratch, (tmsize_t)((size_t)rows * row_bytes)) < 0 || sink.status != CANOPY_OK)
      return encode_fail(&sink, tif, scratch, CANOPY_ERR_CORRUPT, "libtiff could not write a strip", message,
                         message_size);
  }
  if (!TIFFWriteDirectory(tif) || sink.status != CANOPY_OK)
    return encode_fail(&sink, tif, scratch, CANOPY_ERR_CORRUPT, "libtiff could not write the directory", message,
                       message_size);
  TIFFClose(tif);
  free(scratch);
  if (sink.status != CANOPY_OK) return encode_fail(&sink, NULL, NULL, sink.status, "", message, message_size);
  *out = sink.data;
  *out_size = sink.size;
  return CANOPY_OK;
}

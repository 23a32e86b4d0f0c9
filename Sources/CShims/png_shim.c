// libpng behind a setjmp frame: see canopy_shims.h.
#include "canopy_shims.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <png.h>

struct canopy_png {
  png_structp png;
  png_infop info;
  const uint8_t *data;
  size_t size;
  size_t offset;
  int status;
  int stage;  // 1 header read, 0 finished or failed
  int warnings;
  char message[256];
  char first_warning[256];
};

static void set_message(char *buffer, size_t size, const char *text) { snprintf(buffer, size, "%s", text); }

// libpng's own wording decides truncated versus corrupt; both come back to Swift as typed errors.
static int classify(const char *text) {
  if (strstr(text, "Read past end") || strstr(text, "Not enough image data") || strstr(text, "unexpected end"))
    return CANOPY_ERR_TRUNCATED;
  if (strstr(text, "too large") || strstr(text, "exceeds user limit") || strstr(text, "Image width exceeds") ||
      strstr(text, "Image height exceeds"))
    return CANOPY_ERR_TOO_LARGE;
  if (strstr(text, "Out of memory") || strstr(text, "out of memory") || strstr(text, "Insufficient memory"))
    return CANOPY_ERR_NO_MEMORY;
  return CANOPY_ERR_CORRUPT;
}

static void on_error(png_structp png, png_const_charp text) {
  struct canopy_png *ctx = png_get_error_ptr(png);
  ctx->status = classify(text);
  set_message(ctx->message, sizeof ctx->message, text);
  png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp text) {
  struct canopy_png *ctx = png_get_error_ptr(png);
  if (ctx->warnings++ == 0) set_message(ctx->first_warning, sizeof ctx->first_warning, text);
}

static void on_read(png_structp png, png_bytep out, size_t length) {
  struct canopy_png *ctx = png_get_io_ptr(png);
  if (length > ctx->size - ctx->offset) png_error(png, "Read past end of data");
  memcpy(out, ctx->data + ctx->offset, length);
  ctx->offset += length;
}

canopy_png *canopy_png_open(const uint8_t *data, size_t size, uint32_t max_dimension, canopy_png_info *info) {
  struct canopy_png *ctx = calloc(1, sizeof *ctx);
  if (!ctx) return NULL;
  ctx->data = data;
  ctx->size = size;
  ctx->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, ctx, on_error, on_warning);
  if (ctx->png) ctx->info = png_create_info_struct(ctx->png);
  if (!ctx->png || !ctx->info) {
    ctx->status = CANOPY_ERR_NO_MEMORY;
    set_message(ctx->message, sizeof ctx->message, "cannot allocate libpng structures");
    return ctx;
  }
  if (setjmp(png_jmpbuf(ctx->png))) {
    ctx->stage = 0;
    return ctx;
  }
  png_set_read_fn(ctx->png, ctx, on_read);
  png_set_user_limits(ctx->png, max_dimension, max_dimension);
  png_set_chunk_malloc_max(ctx->png, 64u << 20);
  png_read_info(ctx->png, ctx->info);

  const int color_type = png_get_color_type(ctx->png, ctx->info);
  const int depth = png_get_bit_depth(ctx->png, ctx->info);
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(ctx->png);
  if (color_type == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(ctx->png);
  if (png_get_valid(ctx->png, ctx->info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(ctx->png);
  if (depth == 16) {
    const int one = 1;
    if (*(const char *)&one == 1) png_set_swap(ctx->png);  // PNG is big-endian; hand Swift host order
  }
  const int interlace = png_get_interlace_type(ctx->png, ctx->info);
  if (interlace != PNG_INTERLACE_NONE) png_set_interlace_handling(ctx->png);
  png_read_update_info(ctx->png, ctx->info);

  info->width = (int)png_get_image_width(ctx->png, ctx->info);
  info->height = (int)png_get_image_height(ctx->png, ctx->info);
  info->channels = png_get_channels(ctx->png, ctx->info);
  info->bit_depth = png_get_bit_depth(ctx->png, ctx->info);
  info->color_type = color_type;
  info->interlaced = interlace != PNG_INTERLACE_NONE;
  ctx->stage = 1;
  return ctx;
}

int canopy_png_status(const canopy_png *ctx) { return ctx->status; }

int canopy_png_read_image(canopy_png *ctx, uint8_t *out, size_t row_stride) {
  if (ctx->stage != 1) {
    if (ctx->status == CANOPY_OK) {
      ctx->status = CANOPY_ERR_USAGE;
      set_message(ctx->message, sizeof ctx->message, "canopy_png_read_image without a header");
    }
    return ctx->status;
  }
  const png_uint_32 height = png_get_image_height(ctx->png, ctx->info);
  png_bytep *rows = malloc(sizeof(png_bytep) * (height ? height : 1));
  if (!rows) {
    ctx->status = CANOPY_ERR_NO_MEMORY;
    set_message(ctx->message, sizeof ctx->message, "cannot allocate row pointers");
    return ctx->status;
  }
  for (png_uint_32 y = 0; y < height; y++) rows[y] = out + (size_t)y * row_stride;
  if (setjmp(png_jmpbuf(ctx->png))) {
    free(rows);
    ctx->stage = 0;
    return ctx->status;
  }
  png_read_image(ctx->png, rows);
  png_read_end(ctx->png, NULL);
  free(rows);
  ctx->stage = 0;
  return CANOPY_OK;
}

const char *canopy_png_error_message(const canopy_png *ctx) { return ctx->message; }
int canopy_png_warning_count(const canopy_png *ctx) { return ctx->warnings; }
const char *canopy_png_first_warning(const canopy_png *ctx) { return ctx->first_warning; }

void canopy_png_close(canopy_png *ctx) {
  if (!ctx) return;
  if (ctx->png) png_destroy_read_struct(&ctx->png, ctx->info ? &ctx->info : NULL, NULL);
  free(ctx);
}

// ---- encoding ----------------------------------------------------------------------------------

struct sink {
  uint8_t *data;
  size_t size;
  size_t capacity;
  char *message;
  size_t message_size;
};

static void on_write_error(png_structp png, png_const_charp text) {
  struct sink *sink = png_get_error_ptr(png);
  set_message(sink->message, sink->message_size, text);
  png_longjmp(png, 1);
}

static void on_write_warning(png_structp png, png_const_charp text) { (void)png; (void)text; }

static void on_write(png_structp png, png_bytep bytes, size_t length) {
  struct sink *sink = png_get_io_ptr(png);
  if (length > sink->capacity - sink->size) {
    size_t capacity = sink->capacity ? sink->capacity : 4096;
    while (length > capacity - sink->size) {
      if (capacity > SIZE_MAX / 2) png_error(png, "PNG output too large");
      capacity *= 2;
    }
    uint8_t *grown = realloc(sink->data, capacity);
    if (!grown) png_error(png, "Out of memory for PNG output");
    sink->data = grown;
    sink->capacity = capacity;
  }
  memcpy(sink->data + sink->size, bytes, length);
  sink->size += length;
}

static void on_flush(png_structp png) { (void)png; }

int canopy_png_encode(const void *pixels, int width, int height, int channels, int bit_depth,
                      size_t row_stride, uint8_t **out, size_t *out_size,
                      char *message, size_t message_size) {
  static const int color_types[] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                    PNG_COLOR_TYPE_RGB_ALPHA};
  *out = NULL;
  *out_size = 0;
  if (channels < 1 || channels > 4 || (bit_depth != 8 && bit_depth != 16) || width < 1 || height < 1) {
    snprintf(message, message_size, "cannot encode %dx%d with %d channels of %d bits", width, height, channels,
             bit_depth);
    return CANOPY_ERR_UNSUPPORTED;
  }
  struct sink sink = {NULL, 0, 0, message, message_size};
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &sink, on_write_error, on_write_warning);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  png_bytep *rows = malloc(sizeof(png_bytep) * (size_t)height);
  if (!png || !info || !rows) {
    if (png) png_destroy_write_struct(&png, info ? &info : NULL);
    free(rows);
    snprintf(message, message_size, "cannot allocate libpng structures");
    return CANOPY_ERR_NO_MEMORY;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    free(rows);
    free(sink.data);
    return CANOPY_ERR_CORRUPT;
  }
  png_set_write_fn(png, &sink, on_write, on_flush);
  png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, bit_depth, color_types[channels],
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  if (bit_depth == 16) {
    const int one = 1;
    if (*(const char *)&one == 1) png_set_swap(png);
  }
  for (int y = 0; y < height; y++) rows[y] = (png_bytep)pixels + (size_t)y * row_stride;
  png_write_image(png, rows);
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  free(rows);
  *out = sink.data;
  *out_size = sink.size;
  return CANOPY_OK;
}

void canopy_free(void *pointer) { free(pointer); }

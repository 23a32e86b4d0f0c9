// libjpeg-turbo behind a setjmp frame: see canopy_shims.h.
#include "canopy_shims.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>

// Progressive files can declare thousands of tiny scans; past this many a file is treated as
// malformed rather than decoded for minutes (libjpeg-turbo's TurboJPEG API applies the same guard).
#define CANOPY_JPEG_MAX_SCANS 500

struct canopy_jpeg {
  struct jpeg_decompress_struct cinfo;
  struct jpeg_error_mgr err;
  struct jpeg_progress_mgr progress;
  jmp_buf landing;
  int status;
  int stage;  // 0 idle, 1 header read, 2 started
  int cmyk;   // 4-component output to be folded to RGB
  uint8_t *row4;
  size_t row4_size;
  int warnings;
  char message[JMSG_LENGTH_MAX + 64];
  char first_warning[JMSG_LENGTH_MAX];
};

// djpeg's cmyk_to_rgb (libjpeg-turbo cmyk.h), r = round(c * k / 255), in integers:
// for v = c·k + 128, (v + (v >> 8)) >> 8 equals round(c·k / 255) for every c, k in 0...255.
static void fold_cmyk_row(const uint8_t *src, uint8_t *dest, JDIMENSION width) {
  for (JDIMENSION x = 0; x < width; x++, src += 4, dest += 3) {
    const unsigned k = src[3];
    for (int c = 0; c < 3; c++) {
      const unsigned v = src[c] * k + 128;
      dest[c] = (uint8_t)((v + (v >> 8)) >> 8);
    }
  }
}

// Copies R,G,B of each 4-byte pixel while checking that every fourth byte is 255; returns 0 (and the
// row must be redone with fold_cmyk_row) when one is not.
static int compact_opaque_row_scalar(const uint8_t *src, uint8_t *dest, JDIMENSION width) {
  unsigned all = 255;
  for (JDIMENSION x = 0; x < width; x++, src += 4, dest += 3) {
    dest[0] = src[0];
    dest[1] = src[1];
    dest[2] = src[2];
    all &= src[3];
  }
  return all == 255;
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

// Four pixels per step: one byte shuffle packs 16 bytes of RGBK into 12 of RGB. The 16-byte store
// runs 4 bytes past the 12 it means, so the loop stops while that overrun stays inside the row.
__attribute__((target("ssse3"))) static int compact_opaque_row_ssse3(const uint8_t *src, uint8_t *dest,
                                                                     JDIMENSION width) {
  const __m128i pack = _mm_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
  __m128i all = _mm_set1_epi8((char)0xFF);
  JDIMENSION x = 0;
  for (; x + 6 <= width; x += 4) {
    const __m128i pixels = _mm_loadu_si128((const __m128i *)(src + 4 * x));
    all = _mm_and_si128(all, pixels);
    _mm_storeu_si128((__m128i *)(dest + 3 * x), _mm_shuffle_epi8(pixels, pack));
  }
  const int k_bytes = _mm_movemask_epi8(_mm_cmpeq_epi8(all, _mm_set1_epi8((char)0xFF))) & 0x8888;
  return k_bytes == 0x8888 && compact_opaque_row_scalar(src + 4 * x, dest + 3 * x, width - x);
}

static int compact_opaque_row(const uint8_t *src, uint8_t *dest, JDIMENSION width) {
  // __builtin_cpu_supports reads what the compiler runtime filled in at load time: no lazily cached
  // flag, which decoders on several threads would race to write.
  return __builtin_cpu_supports("ssse3") ? compact_opaque_row_ssse3(src, dest, width)
                                         : compact_opaque_row_scalar(src, dest, width);
}
#else
static int compact_opaque_row(const uint8_t *src, uint8_t *dest, JDIMENSION width) {
  return compact_opaque_row_scalar(src, dest, width);
}
#endif

static void record(struct canopy_jpeg *ctx, int status) {
  char text[JMSG_LENGTH_MAX];
  (*ctx->cinfo.err->format_message)((j_common_ptr)&ctx->cinfo, text);
  ctx->status = status;
  snprintf(ctx->message, sizeof ctx->message, "%s", text);
}

static void on_error(j_common_ptr cinfo) {
  struct canopy_jpeg *ctx = (struct canopy_jpeg *)cinfo->client_data;
  int code = cinfo->err->msg_code;
  int status = CANOPY_ERR_CORRUPT;
  if (code == JERR_OUT_OF_MEMORY) status = CANOPY_ERR_NO_MEMORY;
  else if (code == JERR_INPUT_EMPTY || code == JERR_INPUT_EOF) status = CANOPY_ERR_TRUNCATED;
  else if (code == JERR_CONVERSION_NOTIMPL || code == JERR_NOTIMPL || code == JERR_BAD_PRECISION ||
           code == JERR_BAD_J_COLORSPACE || code == JERR_BAD_IN_COLORSPACE)
    status = CANOPY_ERR_UNSUPPORTED;
  record(ctx, status);
  longjmp(ctx->landing, 1);
}

// Warnings that mean the pixels would be wrong end the decode; the rest (an unknown JFIF version,
// junk bytes before a marker, a bad ICC chunk) are counted and the decode goes on. Trace messages
// (level >= 0) are dropped: nothing is ever printed.
static void on_message(j_common_ptr cinfo, int level) {
  struct canopy_jpeg *ctx = (struct canopy_jpeg *)cinfo->client_data;
  if (level >= 0) return;
  int code = cinfo->err->msg_code;
  if (code == JWRN_JPEG_EOF) {
    record(ctx, CANOPY_ERR_TRUNCATED);
    longjmp(ctx->landing, 1);
  }
  if (code == JWRN_HIT_MARKER || code == JWRN_HUFF_BAD_CODE || code == JWRN_ARITH_BAD_CODE ||
      code == JWRN_MUST_RESYNC || code == JWRN_NOT_SEQUENTIAL || code == JWRN_BOGUS_PROGRESSION) {
    record(ctx, CANOPY_ERR_CORRUPT);
    longjmp(ctx->landing, 1);
  }
  if (ctx->warnings++ == 0) (*cinfo->err->format_message)(cinfo, ctx->first_warning);
}

static void on_progress(j_common_ptr cinfo) {
  struct canopy_jpeg *ctx = (struct canopy_jpeg *)cinfo->client_data;
  if (ctx->cinfo.input_scan_number > CANOPY_JPEG_MAX_SCANS) {
    ctx->status = CANOPY_ERR_CORRUPT;
    snprintf(ctx->message, sizeof ctx->message, "more than %d progressive scans", CANOPY_JPEG_MAX_SCANS);
    longjmp(ctx->landing, 1);
  }
}

canopy_jpeg *canopy_jpeg_create(void) {
  struct canopy_jpeg *ctx = calloc(1, sizeof *ctx);
  if (!ctx) return NULL;
  ctx->cinfo.err = jpeg_std_error(&ctx->err);
  ctx->err.error_exit = on_error;
  ctx->err.emit_message = on_message;
  ctx->cinfo.client_data = ctx;
  if (setjmp(ctx->landing)) {  // jpeg_create_decompress fails only when out of memory
    jpeg_destroy_decompress(&ctx->cinfo);
    free(ctx);
    return NULL;
  }
  jpeg_create_decompress(&ctx->cinfo);
  ctx->progress.progress_monitor = on_progress;
  ctx->cinfo.progress = &ctx->progress;
  return ctx;
}

void canopy_jpeg_destroy(canopy_jpeg *ctx) {
  if (!ctx) return;
  jpeg_destroy_decompress(&ctx->cinfo);
  free(ctx->row4);
  free(ctx);
}

static void reset(struct canopy_jpeg *ctx) {
  ctx->status = CANOPY_OK;
  ctx->message[0] = 0;
}

static int fail(struct canopy_jpeg *ctx) {
  jpeg_abort_decompress(&ctx->cinfo);
  ctx->stage = 0;
  return ctx->status;
}

static int color_space(J_COLOR_SPACE space) {
  switch (space) {
    case JCS_GRAYSCALE: return CANOPY_JPEG_GRAY;
    case JCS_RGB: return CANOPY_JPEG_RGB;
    case JCS_YCbCr: return CANOPY_JPEG_YCBCR;
    case JCS_CMYK: return CANOPY_JPEG_CMYK;
    case JCS_YCCK: return CANOPY_JPEG_YCCK;
    default: return CANOPY_JPEG_UNKNOWN;
  }
}

int canopy_jpeg_read_header(canopy_jpeg *ctx, const uint8_t *data, size_t size, canopy_jpeg_info *info) {
  reset(ctx);
  ctx->warnings = 0;
  ctx->first_warning[0] = 0;
  jpeg_abort_decompress(&ctx->cinfo);
  ctx->stage = 0;
  if (setjmp(ctx->landing)) return fail(ctx);
  jpeg_mem_src(&ctx->cinfo, data, (unsigned long)size);
  jpeg_read_header(&ctx->cinfo, TRUE);
  info->width = (int)ctx->cinfo.image_width;
  info->height = (int)ctx->cinfo.image_height;
  info->components = ctx->cinfo.num_components;
  info->color_space = color_space(ctx->cinfo.jpeg_color_space);
  info->saw_adobe = ctx->cinfo.saw_Adobe_marker;
  info->adobe_transform = ctx->cinfo.Adobe_transform;
  info->saw_jfif = ctx->cinfo.saw_JFIF_marker;
  info->progressive = ctx->cinfo.progressive_mode;
  ctx->stage = 1;
  return CANOPY_OK;
}

int canopy_jpeg_start(canopy_jpeg *ctx, int scale_denom, int *out_width, int *out_height, int *out_channels) {
  reset(ctx);
  if (ctx->stage != 1) {
    ctx->status = CANOPY_ERR_USAGE;
    snprintf(ctx->message, sizeof ctx->message, "canopy_jpeg_start before a header was read");
    return ctx->status;
  }
  if (setjmp(ctx->landing)) return fail(ctx);
  struct jpeg_decompress_struct *cinfo = &ctx->cinfo;
  ctx->cmyk = 0;
  switch (cinfo->jpeg_color_space) {
    case JCS_GRAYSCALE: cinfo->out_color_space = JCS_GRAYSCALE; break;
    case JCS_RGB:
    case JCS_YCbCr: cinfo->out_color_space = JCS_RGB; break;
    case JCS_CMYK:
    case JCS_YCCK: cinfo->out_color_space = JCS_CMYK; ctx->cmyk = 1; break;
    default:
      ctx->status = CANOPY_ERR_UNSUPPORTED;
      snprintf(ctx->message, sizeof ctx->message, "%d components in an unknown colour space",
               cinfo->num_components);
      return fail(ctx);
  }
  cinfo->scale_num = 1;
  cinfo->scale_denom = (unsigned int)scale_denom;
  jpeg_start_decompress(cinfo);
  *out_width = (int)cinfo->output_width;
  *out_height = (int)cinfo->output_height;
  *out_channels = ctx->cmyk ? 3 : cinfo->output_components;
  if (ctx->cmyk) {
    size_t need = (size_t)cinfo->output_width * 4;
    if (need > ctx->row4_size) {
      uint8_t *row = realloc(ctx->row4, need);
      if (!row) {
        ctx->status = CANOPY_ERR_NO_MEMORY;
        snprintf(ctx->message, sizeof ctx->message, "no memory for a %zu-byte scanline", need);
        return fail(ctx);
      }
      ctx->row4 = row;
      ctx->row4_size = need;
    }
  }
  ctx->stage = 2;
  return CANOPY_OK;
}

int canopy_jpeg_read_image(canopy_jpeg *ctx, uint8_t *out, size_t row_stride) {
  reset(ctx);
  if (ctx->stage != 2) {
    ctx->status = CANOPY_ERR_USAGE;
    snprintf(ctx->message, sizeof ctx->message, "canopy_jpeg_read_image before canopy_jpeg_start");
    return ctx->status;
  }
  if (setjmp(ctx->landing)) return fail(ctx);
  struct jpeg_decompress_struct *cinfo = &ctx->cinfo;
  const JDIMENSION width = cinfo->output_width;
  while (cinfo->output_scanline < cinfo->output_height) {
    uint8_t *dest = out + (size_t)cinfo->output_scanline * row_stride;
    if (!ctx->cmyk) {
      JSAMPROW row = dest;
      jpeg_read_scanlines(cinfo, &row, 1);
      continue;
    }
    JSAMPROW row = ctx->row4;
    jpeg_read_scanlines(cinfo, &row, 1);
    // Planet's files have k = 255 everywhere, where djpeg's formula is the identity: drop the fourth
    // byte. Any other k takes djpeg's conversion for the whole row.
    if (!compact_opaque_row(ctx->row4, dest, width)) fold_cmyk_row(ctx->row4, dest, width);
  }
  jpeg_finish_decompress(cinfo);
  ctx->stage = 0;
  return CANOPY_OK;
}

void canopy_jpeg_abort(canopy_jpeg *ctx) {
  jpeg_abort_decompress(&ctx->cinfo);
  ctx->stage = 0;
}

const char *canopy_jpeg_error_message(const canopy_jpeg *ctx) { return ctx->message; }
int canopy_jpeg_warning_count(const canopy_jpeg *ctx) { return ctx->warnings; }
const char *canopy_jpeg_first_warning(const canopy_jpeg *ctx) { return ctx->first_warning; }

// ---- encoding ----------------------------------------------------------------------------------
// One compressor per call, on the heap (so nothing the landing reads lives in a register clobbered
// by longjmp), writing to a growable buffer of its own: libjpeg's jpeg_mem_dest would leak its buffer
// when an error unwinds the compression.

struct canopy_jpeg_writer {
  struct jpeg_compress_struct cinfo;
  struct jpeg_error_mgr err;
  struct jpeg_destination_mgr dest;
  jmp_buf landing;
  uint8_t *data;
  size_t capacity;
  size_t size;  // set when the stream is finished
  uint8_t *row4;
  char message[JMSG_LENGTH_MAX + 64];
};

static void writer_on_error(j_common_ptr cinfo) {
  struct canopy_jpeg_writer *w = (struct canopy_jpeg_writer *)cinfo->client_data;
  char text[JMSG_LENGTH_MAX];
  (*cinfo->err->format_message)(cinfo, text);
  snprintf(w->message, sizeof w->message, "%s", text);
  longjmp(w->landing, 1);
}

// The compressor has no warnings that change the output; trace and warning messages are dropped.
static void writer_on_message(j_common_ptr cinfo, int level) {
  (void)cinfo;
  (void)level;
}

static void writer_init(j_compress_ptr cinfo) {
  struct canopy_jpeg_writer *w = (struct canopy_jpeg_writer *)cinfo->client_data;
  w->dest.next_output_byte = w->data;
  w->dest.free_in_buffer = w->capacity;
}

// Called when the buffer is full (all of it: libjpeg's contract), so the whole buffer is kept.
static boolean writer_grow(j_compress_ptr cinfo) {
  struct canopy_jpeg_writer *w = (struct canopy_jpeg_writer *)cinfo->client_data;
  if (w->capacity > SIZE_MAX / 2) ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 11);
  const size_t capacity = w->capacity * 2;
  uint8_t *grown = realloc(w->data, capacity);
  if (!grown) ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 11);
  w->dest.next_output_byte = grown + w->capacity;
  w->dest.free_in_buffer = capacity - w->capacity;
  w->data = grown;
  w->capacity = capacity;
  return TRUE;
}

static void writer_term(j_compress_ptr cinfo) {
  struct canopy_jpeg_writer *w = (struct canopy_jpeg_writer *)cinfo->client_data;
  w->size = w->capacity - w->dest.free_in_buffer;
}

int canopy_jpeg_encode(const uint8_t *pixels, int width, int height, int channels, size_t row_stride,
                       int quality, int layout, uint8_t **out, size_t *out_size,
                       char *message, size_t message_size) {
  *out = NULL;
  *out_size = 0;
  const int planet = layout == CANOPY_JPEG_LAYOUT_PLANET4;
  if (width < 1 || height < 1 || width > JPEG_MAX_DIMENSION || height > JPEG_MAX_DIMENSION ||
      quality < 1 || quality > 100 || (layout != CANOPY_JPEG_LAYOUT_YCBCR && !planet) ||
      (planet ? channels != 3 : channels != 1 && channels != 3) ||
      row_stride < (size_t)width * (size_t)channels) {
    snprintf(message, message_size, "cannot encode %dx%d with %d channels at quality %d in layout %d", width,
             height, channels, quality, layout);
    return CANOPY_ERR_UNSUPPORTED;
  }
  struct canopy_jpeg_writer *w = calloc(1, sizeof *w);
  if (!w) {
    snprintf(message, message_size, "cannot allocate a JPEG compressor");
    return CANOPY_ERR_NO_MEMORY;
  }
  // A first guess at the output (quality 95 RGB runs near 1.5 bytes a pixel): most images fit it.
  w->capacity = (size_t)width * (size_t)height * (size_t)(planet ? 4 : channels) / 2 + 4096;
  w->data = malloc(w->capacity);
  if (planet) w->row4 = malloc((size_t)width * 4);
  if (!w->data || (planet && !w->row4)) {
    free(w->data);
    free(w->row4);
    free(w);
    snprintf(message, message_size, "cannot allocate a JPEG output buffer");
    return CANOPY_ERR_NO_MEMORY;
  }
  struct jpeg_compress_struct *cinfo = &w->cinfo;
  cinfo->err = jpeg_std_error(&w->err);
  w->err.error_exit = writer_on_error;
  w->err.emit_message = writer_on_message;
  cinfo->client_data = w;
  if (setjmp(w->landing)) {
    jpeg_destroy_compress(cinfo);
    snprintf(message, message_size, "%s", w->message);
    const int status = w->err.msg_code == JERR_OUT_OF_MEMORY ? CANOPY_ERR_NO_MEMORY : CANOPY_ERR_CORRUPT;
    free(w->data);
    free(w->row4);
    free(w);
    return status;
  }
  jpeg_create_compress(cinfo);
  w->dest.init_destination = writer_init;
  w->dest.empty_output_buffer = writer_grow;
  w->dest.term_destination = writer_term;
  cinfo->dest = &w->dest;
  cinfo->image_width = (JDIMENSION)width;
  cinfo->image_height = (JDIMENSION)height;
  if (planet) {
    // Exactly what Planet's chips hold (train_1.jpg): SOF0 with components 0,1,2,3, all 1x1, all on
    // quantisation table 0 and Huffman tables 0 (optimised), no JFIF and no Adobe marker, so libjpeg
    // reads the stream back as CMYK with no transform.
    cinfo->input_components = 4;
    cinfo->in_color_space = JCS_CMYK;
    jpeg_set_defaults(cinfo);
    jpeg_set_colorspace(cinfo, JCS_CMYK);
    cinfo->write_JFIF_header = FALSE;
    cinfo->write_Adobe_marker = FALSE;
    for (int c = 0; c < 4; c++) {
      jpeg_component_info *component = &cinfo->comp_info[c];
      component->component_id = c;
      component->h_samp_factor = 1;
      component->v_samp_factor = 1;
      component->quant_tbl_no = 0;
      component->dc_tbl_no = 0;
      component->ac_tbl_no = 0;
    }
    cinfo->optimize_coding = TRUE;
  } else {
    cinfo->input_components = channels;
    cinfo->in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(cinfo);
  }
  jpeg_set_quality(cinfo, quality, TRUE);
  jpeg_start_compress(cinfo, TRUE);
  while (cinfo->next_scanline < cinfo->image_height) {
    const uint8_t *src = pixels + (size_t)cinfo->next_scanline * row_stride;
    JSAMPROW row;
    if (planet) {
      uint8_t *dest = w->row4;
      for (int x = 0; x < width; x++, src += 3, dest += 4) {
        dest[0] = src[0];
        dest[1] = src[1];
        dest[2] = src[2];
        dest[3] = 255;
      }
      row = w->row4;
    } else {
      row = (JSAMPROW)src;  // libjpeg only reads input rows
    }
    jpeg_write_scanlines(cinfo, &row, 1);
  }
  jpeg_finish_compress(cinfo);
  jpeg_destroy_compress(cinfo);
  *out = w->data;
  *out_size = w->size;
  free(w->row4);
  free(w);
  return CANOPY_OK;
}

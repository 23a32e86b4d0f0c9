#include "canopy_jpeg_reference.h"

#include <stdio.h>
#include <stdlib.h>
#include <jpeglib.h>

struct canopy_reference_jpeg {
  struct jpeg_decompress_struct cinfo;
  struct jpeg_error_mgr err;
};

canopy_reference_jpeg *canopy_reference_jpeg_create(void) {
  struct canopy_reference_jpeg *ctx = calloc(1, sizeof *ctx);
  if (!ctx) return NULL;
  ctx->cinfo.err = jpeg_std_error(&ctx->err);
  jpeg_create_decompress(&ctx->cinfo);
  return ctx;
}

void canopy_reference_jpeg_destroy(canopy_reference_jpeg *ctx) {
  if (!ctx) return;
  jpeg_destroy_decompress(&ctx->cinfo);
  free(ctx);
}

size_t canopy_reference_jpeg_decode(canopy_reference_jpeg *ctx, const uint8_t *data, size_t size,
                                    int scale_denom, uint8_t *out, size_t capacity) {
  struct jpeg_decompress_struct *cinfo = &ctx->cinfo;
  jpeg_mem_src(cinfo, data, (unsigned long)size);
  jpeg_read_header(cinfo, TRUE);
  if (cinfo->num_components == 3) cinfo->out_color_space = JCS_RGB;
  cinfo->scale_num = 1;
  cinfo->scale_denom = (unsigned int)scale_denom;
  jpeg_start_decompress(cinfo);
  const size_t stride = (size_t)cinfo->output_width * cinfo->output_components;
  if (stride * cinfo->output_height > capacity) {
    jpeg_abort_decompress(cinfo);
    return 0;
  }
  while (cinfo->output_scanline < cinfo->output_height) {
    JSAMPROW row = out + (size_t)cinfo->output_scanline * stride;
    jpeg_read_scanlines(cinfo, &row, 1);
  }
  jpeg_finish_decompress(cinfo);
  return stride * cinfo->output_height;
}

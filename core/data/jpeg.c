/* jpeg.c — JPEG decoding with libjpeg-turbo (see jpeg.h). Reference: libjpeg-turbo libjpeg.txt
 * (error manager, DCT scaling via scale_num/scale_denom) and Pillow's cmyk2rgb for CMYK. */
#include "core/data/jpeg.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    int premature_eof; /* libjpeg only warns on truncation; we treat it as an error */
    char msg[JMSG_LENGTH_MAX];
} JpegErr;

static void jpeg_err_exit(j_common_ptr cinfo)
{
    JpegErr *e = (JpegErr *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->msg);
    longjmp(e->jump, 1);
}

static void jpeg_err_emit(j_common_ptr cinfo, int level)
{
    JpegErr *e = (JpegErr *)cinfo->err;
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF && !e->premature_eof) {
        e->premature_eof = 1;
        (*cinfo->err->format_message)(cinfo, e->msg);
    }
}

/* The smallest M/8 (M = 1..8) keeping the shorter side >= min_side. */
static int dct_scale_num(int w, int h, int min_side)
{
    if (min_side <= 0) return 8;
    int s = w < h ? w : h;
    for (int m = 1; m < 8; m++)
        if ((s * m + 7) / 8 >= min_side) return m;
    return 8;
}

/* CMYK (Adobe-inverted when `inverted`) to RGB as Pillow's cmyk2rgb: nk - c*nk/255. */
static void cmyk_row_to_rgb(const uint8_t *in, uint8_t *out, int w, int inverted)
{
    for (int x = 0; x < w; x++) {
        int c[4];
        for (int k = 0; k < 4; k++) c[k] = inverted ? 255 - in[4 * x + k] : in[4 * x + k];
        int nk = 255 - c[3];
        for (int k = 0; k < 3; k++) {
            int t = c[k] * nk + 128; /* MULDIV255 */
            out[3 * x + k] = (uint8_t)(nk - ((t + (t >> 8)) >> 8));
        }
    }
}

/* Luminance of an RGB row with PIL's L24 weights (rounded). */
static void rgb_row_to_l(const uint8_t *in, uint8_t *out, int w)
{
    for (int x = 0; x < w; x++)
        out[x] = (uint8_t)((in[3 * x] * 19595 + in[3 * x + 1] * 38470 + in[3 * x + 2] * 7471 +
                            0x8000) >> 16);
}

static ClftStatus decode_rows(struct jpeg_decompress_struct *ci, int channels, DataImage *img,
                              uint8_t *row)
{
    int is_cmyk = ci->out_color_space == JCS_CMYK;
    int inverted = ci->saw_Adobe_marker;
    int w = (int)ci->output_width;
    while (ci->output_scanline < ci->output_height) {
        int y = (int)ci->output_scanline;
        uint8_t *dst = img->pixels + (size_t)y * w * channels;
        int direct = !is_cmyk && (int)ci->output_components == channels;
        JSAMPROW rp = direct ? dst : row;
        jpeg_read_scanlines(ci, &rp, 1);
        if (direct) continue;
        if (is_cmyk && channels == 3) {
            cmyk_row_to_rgb(row, dst, w, inverted);
        } else if (is_cmyk) {
            cmyk_row_to_rgb(row, row + 4 * (size_t)w, w, inverted);
            rgb_row_to_l(row + 4 * (size_t)w, dst, w);
        } else {
            rgb_row_to_l(row, dst, w);
        }
    }
    return CLFT_OK;
}

ClftStatus jpeg_decode(const uint8_t *bytes, size_t size, const char *what, int channels,
                       int min_side, DataImage *img)
{
    ASSERT(channels == 1 || channels == 3);
    struct jpeg_decompress_struct ci;
    JpegErr err;
    memset(&err, 0, sizeof err);
    ci.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = jpeg_err_exit;
    err.pub.emit_message = jpeg_err_emit;
    uint8_t *volatile row = NULL; /* CMYK/grey conversion row, freed on every path */
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&ci);
        free(row);
        clft_set_error("%s: corrupt JPEG (%s)", what, err.msg);
        return CLFT_ERR_FORMAT;
    }
    jpeg_create_decompress(&ci);
    jpeg_mem_src(&ci, bytes, (unsigned long)size);
    jpeg_read_header(&ci, TRUE);
    if (ci.jpeg_color_space == JCS_CMYK || ci.jpeg_color_space == JCS_YCCK)
        ci.out_color_space = JCS_CMYK; /* libjpeg cannot make RGB from CMYK: convert below */
    else if (channels == 3)
        ci.out_color_space = JCS_RGB; /* grey files are replicated to RGB by libjpeg-turbo */
    else
        ci.out_color_space = ci.jpeg_color_space == JCS_GRAYSCALE ? JCS_GRAYSCALE : JCS_RGB;
    ci.scale_num = (unsigned)dct_scale_num((int)ci.image_width, (int)ci.image_height, min_side);
    ci.scale_denom = 8;
    ci.dct_method = JDCT_ISLOW; /* PIL's default, so decoded pixels match PIL's */
    jpeg_start_decompress(&ci);
    data_image_reserve(img, (int)ci.output_height, (int)ci.output_width, channels);
    if (ci.out_color_space == JCS_CMYK || (int)ci.output_components != channels)
        row = xmalloc((size_t)ci.output_width * 8); /* only for conversions: rare */
    decode_rows(&ci, channels, img, row);
    free(row);
    row = NULL;
    if (err.premature_eof) {
        jpeg_destroy_decompress(&ci);
        clft_set_error("%s: truncated JPEG (%s)", what, err.msg);
        return CLFT_ERR_FORMAT;
    }
    jpeg_finish_decompress(&ci);
    jpeg_destroy_decompress(&ci);
    if (err.premature_eof) {
        clft_set_error("%s: truncated JPEG (%s)", what, err.msg);
        return CLFT_ERR_FORMAT;
    }
    return CLFT_OK;
}

/* jpeg.c — JPEG decoding with libjpeg-turbo (see jpeg.h). Reference: libjpeg-turbo libjpeg.txt
 * (error manager, DCT scaling via scale_num/scale_denom) and Pillow's cmyk2rgb for CMYK. */
#include "core/data/jpeg.h"

#include <limits.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

typedef enum { JPEG_FAIL_CORRUPT = 1, JPEG_FAIL_TRUNCATED, JPEG_FAIL_SCANS } JpegFail;

typedef struct {
    struct jpeg_error_mgr pub;
    struct jpeg_progress_mgr progress;
    jmp_buf jump;
    int max_scans;
    char msg[JMSG_LENGTH_MAX];
} JpegErr;

static void jpeg_err_exit(j_common_ptr cinfo)
{
    JpegErr *e = (JpegErr *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->msg);
    longjmp(e->jump, JPEG_FAIL_CORRUPT);
}

/* libjpeg only warns on truncation (and would go on decoding grey); we stop at once. Other
 * warnings (e.g. extraneous bytes before a marker, common in ImageNet) are ignored, as PIL does. */
static void jpeg_err_emit(j_common_ptr cinfo, int level)
{
    JpegErr *e = (JpegErr *)cinfo->err;
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) {
        (*cinfo->err->format_message)(cinfo, e->msg);
        longjmp(e->jump, JPEG_FAIL_TRUNCATED);
    }
}

/* Called by libjpeg between chunks of input: stops a progressive file past max_scans scans (each
 * scan is a pass over the whole coefficient buffer, so many tiny scans cost a lot of time). */
static void jpeg_progress(j_common_ptr cinfo)
{
    JpegErr *e = (JpegErr *)cinfo->err;
    int scans = ((j_decompress_ptr)cinfo)->input_scan_number;
    if (cinfo->is_decompressor && scans > e->max_scans) {
        snprintf(e->msg, sizeof e->msg, "more than %d progressive scans", e->max_scans);
        longjmp(e->jump, JPEG_FAIL_SCANS);
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

/* Sets the output colour space and DCT scale after the header; CLFT_ERR_FORMAT past the pixel
 * cap, before anything of the image's size is allocated. */
static ClftStatus setup_output(struct jpeg_decompress_struct *ci, const char *what,
                               const JpegOptions *opt)
{
    int64_t cap = opt->max_pixels > 0 ? opt->max_pixels : CLFT_JPEG_MAX_PIXELS;
    int64_t pixels = (int64_t)ci->image_width * (int64_t)ci->image_height;
    if (pixels > cap) {
        clft_set_error("%s: JPEG of %ux%u pixels, more than the cap of %lld pixels", what,
                       ci->image_width, ci->image_height, (long long)cap);
        return CLFT_ERR_FORMAT;
    }
    if (ci->jpeg_color_space == JCS_CMYK || ci->jpeg_color_space == JCS_YCCK)
        ci->out_color_space = JCS_CMYK; /* libjpeg cannot make RGB from CMYK: convert below */
    else if (opt->channels == 3)
        ci->out_color_space = JCS_RGB; /* grey files are replicated to RGB by libjpeg-turbo */
    else
        ci->out_color_space = ci->jpeg_color_space == JCS_GRAYSCALE ? JCS_GRAYSCALE : JCS_RGB;
    ci->scale_num =
        (unsigned)dct_scale_num((int)ci->image_width, (int)ci->image_height, opt->min_side);
    ci->scale_denom = 8;
    ci->dct_method = JDCT_ISLOW; /* PIL's default, so decoded pixels match PIL's */
    return CLFT_OK;
}

ClftStatus jpeg_decode(const uint8_t *bytes, size_t size, const char *what, const JpegOptions *opt,
                       DataImage *img)
{
    int channels = opt->channels;
    ASSERT(channels == 1 || channels == 3);
    struct jpeg_decompress_struct ci;
    JpegErr err;
    memset(&err, 0, sizeof err);
    ci.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = jpeg_err_exit;
    err.pub.emit_message = jpeg_err_emit;
    err.max_scans = opt->max_scans > 0 ? opt->max_scans : JPEG_MAX_SCANS;
    err.progress.progress_monitor = jpeg_progress;
    uint8_t *volatile row = NULL; /* CMYK/grey conversion row, freed on every path */
    int fail = setjmp(err.jump);
    if (fail) {
        jpeg_destroy_decompress(&ci);
        free(row);
        clft_set_error("%s: %s JPEG (%s)", what,
                       fail == JPEG_FAIL_TRUNCATED ? "truncated"
                       : fail == JPEG_FAIL_SCANS   ? "rejected"
                                                   : "corrupt",
                       err.msg);
        return CLFT_ERR_FORMAT;
    }
    jpeg_create_decompress(&ci);
    ci.progress = &err.progress;
    if (size > (size_t)ULONG_MAX) size = ULONG_MAX; /* a JPEG that long is cut and reported */
    jpeg_mem_src(&ci, bytes, (unsigned long)size);
    jpeg_read_header(&ci, TRUE);
    if (setup_output(&ci, what, opt) != CLFT_OK) {
        jpeg_destroy_decompress(&ci);
        return CLFT_ERR_FORMAT;
    }
    jpeg_start_decompress(&ci);
    data_image_reserve(img, (int)ci.output_height, (int)ci.output_width, channels);
    if (ci.out_color_space == JCS_CMYK || (int)ci.output_components != channels)
        row = xmalloc((size_t)ci.output_width * 8); /* only for conversions: rare */
    decode_rows(&ci, channels, img, row);
    free(row);
    row = NULL;
    jpeg_finish_decompress(&ci);
    jpeg_destroy_decompress(&ci);
    return CLFT_OK;
}

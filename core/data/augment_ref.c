/* augment_ref.c — the plain reference twins of the optimised kernels in augment.c (STYLE.md rule
 * 11): straight transcriptions of Pillow 9's Resample.c (ImagingResampleHorizontal/Vertical_8bpc,
 * channels outer, taps inner), Blend.c / ImageEnhance.py, Convert.c (rgb2hsv, hsv2rgb, with libm
 * round and fmod), torchvision's separable Gaussian blur (as augment.c documents it) and ToTensor +
 * Normalize, one pixel and one channel at a time.
 * tests/test_data_aug.c checks that the fast kernels give the same bytes/floats as these on every
 * tested input; the fast kernels are what the loader runs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/data/augment.h"

#define PRECISION_BITS (32 - 8 - 2)

static double bilinear_filter(double x)
{
    if (x < 0.0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* Pillow's precompute_coeffs + normalize_coeffs_8bpc: per output index its first input index
 * (bounds[2 xx]), tap count (bounds[2 xx + 1]) and ksize 22-bit coefficients. */
static int coeffs(int in, int out, int *bounds, int *kk)
{
    double scale = (double)in / out, filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    double k[ksize];
    for (int xx = 0; xx < out; xx++) {
        double center = (xx + 0.5) * scale, ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5), xmax = (int)(center + support + 0.5);
        if (xmin < 0) xmin = 0;
        if (xmax > in) xmax = in;
        xmax -= xmin;
        for (int x = 0; x < xmax; x++) {
            k[x] = bilinear_filter((x + xmin - center + 0.5) * ss);
            ww += k[x];
        }
        for (int x = 0; x < ksize; x++) {
            double v = x < xmax && ww != 0.0 ? k[x] / ww : 0.0;
            kk[xx * ksize + x] = v < 0 ? (int)(-0.5 + v * (1 << PRECISION_BITS))
                                       : (int)(0.5 + v * (1 << PRECISION_BITS));
        }
        bounds[2 * xx] = xmin, bounds[2 * xx + 1] = xmax;
    }
    return ksize;
}

static uint8_t clip8(int ss)
{
    int v = ss >> PRECISION_BITS;
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* One 1-D pass over a (n_out_lines, len_in) grid: along = 1 resamples each row's columns,
 * along = 0 each column's rows. in: (H, W, C) with the box's origin at in; out: (oh, ow, C). */
static void pass(const uint8_t *in, int stride, int C, int n_in, int n_out, int lines, int along_x,
                 uint8_t *out, int ostride)
{
    int bounds[2 * n_out], kmax = ((int)ceil(fmax(1.0, (double)n_in / n_out)) * 2 + 1);
    int *kk = xmalloc(sizeof(int) * (size_t)n_out * kmax);
    int ksize = coeffs(n_in, n_out, bounds, kk);
    for (int l = 0; l < lines; l++)
        for (int o = 0; o < n_out; o++)
            for (int c = 0; c < C; c++) {
                int ss = 1 << (PRECISION_BITS - 1);
                for (int t = 0; t < bounds[2 * o + 1]; t++) {
                    int at = bounds[2 * o] + t;
                    const uint8_t *p = along_x ? in + ((size_t)l * stride + at) * C
                                               : in + ((size_t)at * stride + l) * C;
                    ss += p[c] * kk[o * ksize + t];
                }
                uint8_t *q = along_x ? out + ((size_t)l * ostride + o) * C
                                     : out + ((size_t)o * ostride + l) * C;
                q[c] = clip8(ss);
            }
    free(kk);
}

void aug_resize_ref(const uint8_t *src, int H, int W, int C, AugBox box, uint8_t *dst, int oh,
                    int ow)
{
    ASSERT(box.top >= 0 && box.left >= 0 && box.top + box.h <= H && box.left + box.w <= W);
    const uint8_t *o = src + ((size_t)box.top * W + box.left) * C;
    if (ow == box.w && oh == box.h) {
        for (int y = 0; y < oh; y++)
            memcpy(dst + (size_t)y * ow * C, o + (size_t)y * W * C, (size_t)ow * C);
        return;
    }
    if (ow == box.w || oh == box.h) {
        if (ow == box.w)
            pass(o, W, C, box.h, oh, ow, 0, dst, ow);
        else
            pass(o, W, C, box.w, ow, oh, 1, dst, ow);
        return;
    }
    /* the horizontal pass over all box rows (Pillow restricts it to the rows the vertical pass
     * reads, which gives the same bytes), then the vertical pass */
    uint8_t *tmp = xmalloc((size_t)box.h * ow * C); /* (box.h, ow, C) */
    pass(o, W, C, box.w, ow, box.h, 1, tmp, ow);
    pass(tmp, ow, C, box.h, oh, ow, 0, dst, ow);
    free(tmp);
}

static uint8_t blend_ref(int deg, int v, float alpha)
{
    float t = (float)deg + alpha * (float)(v - deg);
    if (alpha >= 0.0f && alpha <= 1.0f) return (uint8_t)t;
    return t <= 0.0f ? 0 : t >= 255.0f ? 255 : (uint8_t)t;
}

static int luma_ref(const uint8_t *p)
{
    return (p[0] * 19595 + p[1] * 38470 + p[2] * 7471 + 0x8000) >> 16;
}

void aug_brightness_ref(uint8_t *img, int H, int W, int C, float factor)
{
    for (size_t i = 0; i < (size_t)H * W * C; i++)
        img[i] = blend_ref(0, img[i], factor);
}

void aug_contrast_ref(uint8_t *img, int H, int W, int C, float factor)
{
    size_t n = (size_t)H * W;
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (uint64_t)(C == 3 ? luma_ref(img + 3 * i) : img[i]);
    int mean = (int)((double)sum / (double)n + 0.5);
    for (size_t i = 0; i < n * C; i++)
        img[i] = blend_ref(mean, img[i], factor);
}

void aug_saturation_ref(uint8_t *img, int H, int W, int C, float factor)
{
    if (C != 3) return;
    for (size_t i = 0; i < (size_t)H * W; i++) {
        int l = luma_ref(img + 3 * i);
        for (int c = 0; c < 3; c++)
            img[3 * i + c] = blend_ref(l, img[3 * i + c], factor);
    }
}

static uint8_t clip8i(int v)
{
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

static void rgb_to_hsv(const uint8_t *in, uint8_t *out)
{
    int r = in[0], g = in[1], b = in[2];
    int maxc = r > g ? (r > b ? r : b) : (g > b ? g : b);
    int minc = r < g ? (r < b ? r : b) : (g < b ? g : b);
    out[2] = (uint8_t)maxc;
    if (minc == maxc) {
        out[0] = out[1] = 0;
        return;
    }
    float cr = (float)(maxc - minc), s = cr / (float)maxc, h;
    float rc = (float)(maxc - r) / cr, gc = (float)(maxc - g) / cr, bc = (float)(maxc - b) / cr;
    if (r == maxc)
        h = bc - gc;
    else if (g == maxc)
        h = (float)(2.0 + rc - bc);
    else
        h = (float)(4.0 + gc - rc);
    h = (float)fmod(h / 6.0 + 1.0, 1.0);
    out[0] = clip8i((int)(h * 255.0));
    out[1] = clip8i((int)(s * 255.0));
}

static void hsv_to_rgb(const uint8_t *in, uint8_t *out)
{
    int h = in[0], s = in[1], v = in[2];
    if (s == 0) {
        out[0] = out[1] = out[2] = (uint8_t)v;
        return;
    }
    int i = (int)floor((float)h * 6.0 / 255.0);
    float f = (float)((float)h * 6.0 / 255.0 - (float)i), fs = (float)(s / 255.0);
    uint8_t p = clip8i((int)round((float)v * (1.0 - fs)));
    uint8_t q = clip8i((int)round((float)v * (1.0 - fs * f)));
    uint8_t t = clip8i((int)round((float)v * (1.0 - fs * (1.0 - f))));
    uint8_t V = (uint8_t)v;
    const uint8_t table[6][3] = {{V, t, p}, {q, V, p}, {p, V, t}, {p, q, V}, {t, p, V}, {V, p, q}};
    memcpy(out, table[i % 6], 3);
}

void aug_hue_ref(uint8_t *img, int H, int W, int C, float shift)
{
    if (C != 3) return;
    uint8_t dh = (uint8_t)(int)(shift * 255.0);
    for (size_t i = 0; i < (size_t)H * W; i++) {
        uint8_t hsv[3];
        rgb_to_hsv(img + 3 * i, hsv);
        hsv[0] = (uint8_t)(hsv[0] + dh);
        hsv_to_rgb(hsv, img + 3 * i);
    }
}

void aug_normalize_ref(const uint8_t *hwc, int H, int W, int C, const float *mean, const float *std,
                       int flip, float *out_chw)
{
    for (int c = 0; c < C; c++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                int sx = flip ? W - 1 - x : x;
                float v = (float)hwc[((size_t)y * W + sx) * C + c] / 255.0f;
                out_chw[((size_t)c * H + y) * W + x] = (v - mean[c]) / std[c];
            }
}

/* Separable blur, one output value at a time: the horizontal pass into float, then the vertical
 * pass, each summing its taps in ascending order from 0 (as aug_blur), reflect padding, round half
 * to even (rintf in the default rounding mode), clip. */
void aug_blur_ref(uint8_t *img, int H, int W, int C, float sigma, int ksize)
{
    int half = (ksize - 1) / 2;
    float k[ksize], sum = 0.0f;
    for (int i = 0; i < ksize; i++) {
        float x = (float)(-half + i), t = x / sigma;
        k[i] = expf(-0.5f * t * t);
        sum += k[i];
    }
    for (int i = 0; i < ksize; i++)
        k[i] /= sum;
    float *tmp = xmalloc(sizeof(float) * (size_t)H * W * C); /* (H, W, C) */
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int c = 0; c < C; c++) {
                float a = 0.0f;
                for (int i = 0; i < ksize; i++) {
                    int sx = x - half + i;
                    sx = sx < 0 ? -sx : sx >= W ? 2 * W - 2 - sx : sx;
                    a += k[i] * (float)img[((size_t)y * W + sx) * C + c];
                }
                tmp[((size_t)y * W + x) * C + c] = a;
            }
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int c = 0; c < C; c++) {
                float a = 0.0f;
                for (int i = 0; i < ksize; i++) {
                    int sy = y - half + i;
                    sy = sy < 0 ? -sy : sy >= H ? 2 * H - 2 - sy : sy;
                    a += k[i] * tmp[((size_t)sy * W + x) * C + c];
                }
                float r = rintf(a);
                img[((size_t)y * W + x) * C + c] = (uint8_t)(r < 0.0f     ? 0.0f
                                                             : r > 255.0f ? 255.0f
                                                                          : r);
            }
    free(tmp);
}

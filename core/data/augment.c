/* augment.c — see augment.h. References: torchvision 0.14 transforms.py / functional_pil.py /
 * functional_tensor.py; Pillow 9 Resample.c (ImagingResample, precompute_coeffs,
 * normalize_coeffs_8bpc), Blend.c, Convert.c (rgb2l L24, rgb2hsv, hsv2rgb), ImageEnhance.py. */
#include "core/data/augment.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"

#define PRECISION_BITS (32 - 8 - 2) /* Pillow's fixed-point coefficient precision */

/* Kernels whose vectorised form needs more than SSE2 (64-bit lane compares, float <-> int lanes)
 * or gains from wider vectors get AVX2 / SSE4.2 clones picked at load time (GCC target_clones,
 * x86-64); integer and IEEE operations give the same results in every clone (no FMA contraction
 * under -std=c11), and tests compare every kernel with its plain twin on the machine they run. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define AUG_VECTOR_CLONES __attribute__((target_clones("avx2", "sse4.2", "default")))
#else
#define AUG_VECTOR_CLONES
#endif

static const float IMAGENET_MEAN[3] = {0.485f, 0.456f, 0.406f};
static const float IMAGENET_STD[3] = {0.229f, 0.224f, 0.225f};

static void *grow(void *p, size_t *cap, size_t need)
{
    if (need <= *cap) return p;
    free(p);
    *cap = need + need / 4 + 64;
    return xmalloc(*cap);
}

void aug_scratch_free(AugScratch *s)
{
    free(s->a), free(s->b), free(s->tmp), free(s->f), free(s->bounds), free(s->kk);
    memset(s, 0, sizeof *s);
}

void aug_set_norm(AugConfig *c, int channels)
{
    ASSERT(channels == 1 || channels == 3);
    c->channels = channels;
    for (int k = 0; k < 3; k++) {
        c->mean[k] = channels == 3 ? IMAGENET_MEAN[k] : AUG_FMNIST_MEAN;
        c->std[k] = channels == 3 ? IMAGENET_STD[k] : AUG_FMNIST_STD;
    }
}

AugConfig aug_eval(int resize, int crop, int channels)
{
    ASSERT(resize >= crop && crop > 0);
    AugConfig c = {.order = AUG_ORDER_EVAL, .size = crop, .resize = resize};
    aug_set_norm(&c, channels);
    return c;
}

int aug_min_side(const AugConfig *cfg)
{
    if (cfg->order == AUG_ORDER_EVAL) return cfg->resize;
    return (int)ceil(cfg->size / sqrt(cfg->scale_lo > 0.01f ? cfg->scale_lo : 0.01f));
}

/* ---- crop box (torchvision RandomResizedCrop.get_params) ---- */

void aug_crop_box(Rng *rng, int H, int W, const float scale[2], const float ratio[2], AugBox *box)
{
    double area = (double)H * W;
    double lr0 = log((double)ratio[0]), lr1 = log((double)ratio[1]);
    for (int attempt = 0; attempt < 10; attempt++) {
        double target = area * rng_range(rng, scale[0], scale[1]);
        double ar = exp(rng_range(rng, lr0, lr1));
        int w = (int)nearbyint(sqrt(target * ar)); /* Python round(): half to even */
        int h = (int)nearbyint(sqrt(target / ar));
        if (0 < w && w <= W && 0 < h && h <= H) {
            box->top = (int)rng_below(rng, (uint32_t)(H - h + 1));
            box->left = (int)rng_below(rng, (uint32_t)(W - w + 1));
            box->h = h, box->w = w;
            return;
        }
    }
    double in_ratio = (double)W / H;
    int w = W, h = H;
    if (in_ratio < ratio[0])
        h = (int)nearbyint(w / (double)ratio[0]);
    else if (in_ratio > ratio[1])
        w = (int)nearbyint(h * (double)ratio[1]);
    box->h = h, box->w = w, box->top = (H - h) / 2, box->left = (W - w) / 2;
}

void aug_draw(const AugConfig *cfg, Rng *rng, int H, int W, AugParams *p)
{
    memset(p, 0, sizeof *p);
    if (cfg->order == AUG_ORDER_EVAL) return;
    const float scale[2] = {cfg->scale_lo, cfg->scale_hi},
                ratio[2] = {cfg->ratio_lo, cfg->ratio_hi};
    aug_crop_box(rng, H, W, scale, ratio, &p->box);
    p->jitter = rng_uniform(rng) < cfg->jitter_p;
    int perm[4];
    rng_permutation(rng, perm, 4);
    const float amount[3] = {cfg->jitter_b, cfg->jitter_c, cfg->jitter_s};
    for (int k = 0; k < 4; k++)
        p->order[k] = (AugJitterOp)perm[k];
    for (int k = 0; k < 3; k++)
        p->factor[k] = (float)rng_range(rng, fmax(0.0, 1.0 - amount[k]), 1.0 + amount[k]);
    p->factor[AUG_JITTER_HUE] = (float)rng_range(rng, -cfg->jitter_h, cfg->jitter_h);
    p->gray = rng_uniform(rng) < cfg->gray_p;
    p->blur = rng_uniform(rng) < cfg->blur_p;
    p->sigma = (float)rng_range(rng, cfg->blur_sigma_lo, cfg->blur_sigma_hi);
    p->flip = rng_uniform(rng) < cfg->flip_p;
}

/* ---- Pillow's bilinear resample ---- */

static double bilinear_filter(double x)
{
    if (x < 0.0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* Pillow's precompute_coeffs + normalize_coeffs_8bpc for a 1-D resample of [0, in) to out. */
static int precompute_coeffs(int in, int out, int *bounds, int *kk, int ksize_cap)
{
    double scale = (double)in / out, filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    ASSERT(ksize <= ksize_cap);
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

static inline uint8_t clip8(int ss)
{
    int v = ss >> PRECISION_BITS;
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* Rows [y0, y0 + rows) of src (stride sw pixels), columns from x0, resampled to ow columns. The
 * sums are exact integers, so the loop order (pixels outer, taps inner, channels in registers)
 * does not change any result. */
static void resample_h(const uint8_t *src, int sw, int x0, int y0, int rows, int C, uint8_t *dst,
                       int ow, const int *bounds, const int *kk, int ksize)
{
    for (int y = 0; y < rows; y++) {
        const uint8_t *row = src + ((size_t)(y0 + y) * sw + x0) * C;
        uint8_t *out = dst + (size_t)y * ow * C;
        for (int xx = 0; xx < ow; xx++) {
            const int *k = kk + xx * ksize;
            const uint8_t *p = row + (size_t)bounds[2 * xx] * C;
            int xmax = bounds[2 * xx + 1];
            if (C == 3) {
                int s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
                for (int x = 0; x < xmax; x++, p += 3)
                    s0 += p[0] * k[x], s1 += p[1] * k[x], s2 += p[2] * k[x];
                out[3 * xx] = clip8(s0), out[3 * xx + 1] = clip8(s1), out[3 * xx + 2] = clip8(s2);
                continue;
            }
            for (int c = 0; c < C; c++) {
                int ss = 1 << (PRECISION_BITS - 1);
                for (int x = 0; x < xmax; x++)
                    ss += p[x * C + c] * k[x];
                out[xx * C + c] = clip8(ss);
            }
        }
    }
}

/* Output rows from src rows (row y of src at src + ((y0 + y) * sw + x0) * C), width w. Each output
 * row accumulates its taps' rows into acc (exact integer sums: the order does not matter), a loop
 * over contiguous bytes that vectorises. */
AUG_VECTOR_CLONES
static void resample_v(const uint8_t *src, int sw, int x0, int y0, int w, int C, uint8_t *dst,
                       int oh, const int *bounds, const int *kk, int ksize, int *restrict acc)
{
    size_t n = (size_t)w * C;
    for (int yy = 0; yy < oh; yy++) {
        const int *k = kk + yy * ksize;
        int ymin = bounds[2 * yy], ymax = bounds[2 * yy + 1];
        for (size_t i = 0; i < n; i++)
            acc[i] = 1 << (PRECISION_BITS - 1);
        for (int y = 0; y < ymax; y++) {
            const uint8_t *restrict r = src + ((size_t)(y0 + ymin + y) * sw + x0) * C;
            int ky = k[y];
            for (size_t i = 0; i < n; i++)
                acc[i] += r[i] * ky;
        }
        uint8_t *out = dst + (size_t)yy * n;
        for (size_t i = 0; i < n; i++)
            out[i] = clip8(acc[i]);
    }
}

void aug_resize(const uint8_t *src, int H, int W, int C, AugBox box, uint8_t *dst, int oh, int ow,
                AugScratch *s)
{
    ASSERT(box.top >= 0 && box.left >= 0 && box.top + box.h <= H && box.left + box.w <= W);
    int need_h = ow != box.w, need_v = oh != box.h;
    int kh = need_h ? (int)ceil(fmax(1.0, (double)box.w / ow)) * 2 + 1 : 1;
    int kv = need_v ? (int)ceil(fmax(1.0, (double)box.h / oh)) * 2 + 1 : 1;
    s->bounds =
        grow(s->bounds, &s->bounds_cap, sizeof(int) * (2 * (size_t)(ow + oh) + (size_t)ow * C));
    s->kk = grow(s->kk, &s->kk_cap, sizeof(int) * ((size_t)ow * kh + (size_t)oh * kv));
    int *bh = s->bounds, *bv = s->bounds + 2 * ow, *acc = bv + 2 * oh, *kkh = s->kk,
        *kkv = s->kk + (size_t)ow * kh;
    if (!need_h && !need_v) {
        for (int y = 0; y < oh; y++)
            memcpy(dst + (size_t)y * ow * C, src + ((size_t)(box.top + y) * W + box.left) * C,
                   (size_t)ow * C);
        return;
    }
    if (need_v) precompute_coeffs(box.h, oh, bv, kkv, kv);
    if (!need_h) {
        resample_v(src, W, box.left, box.top, ow, C, dst, oh, bv, kkv, kv, acc);
        return;
    }
    precompute_coeffs(box.w, ow, bh, kkh, kh);
    if (!need_v) {
        resample_h(src, W, box.left, box.top, oh, C, dst, ow, bh, kkh, kh);
        return;
    }
    /* Only the source rows the vertical pass reads go through the horizontal pass (as Pillow). */
    int y_first = bv[0], y_last = bv[2 * oh - 2] + bv[2 * oh - 1];
    for (int yy = 0; yy < oh; yy++)
        bv[2 * yy] -= y_first;
    s->tmp = grow(s->tmp, &s->tmp_cap, (size_t)(y_last - y_first) * ow * C);
    resample_h(src, W, box.left, box.top + y_first, y_last - y_first, C, s->tmp, ow, bh, kkh, kh);
    resample_v(s->tmp, ow, 0, 0, ow, C, dst, oh, bv, kkv, kv, acc);
}

/* ---- colour operations (Pillow ImageEnhance / Blend / Convert) ---- */

/* Image.blend(degenerate, img, alpha): float arithmetic, truncation, clipping only when
 * extrapolating (Pillow Blend.c). For 0 <= alpha <= 1, t lies between deg and v (float rounding is
 * monotonic), so clipping always gives the same bytes: branch-free, the loops vectorise. */
static inline uint8_t blend(int deg, int v, float alpha)
{
    float t = (float)deg + alpha * (float)(v - deg);
    t = t < 0.0f ? 0.0f : t;
    t = t > 255.0f ? 255.0f : t;
    return (uint8_t)(int)t;
}

static inline int luma(const uint8_t *p)
{
    return (p[0] * 19595 + p[1] * 38470 + p[2] * 7471 + 0x8000) >> 16; /* Pillow L24 */
}

/* img[i] = lut[img[i]] */
static void apply_lut(uint8_t *img, size_t n, const uint8_t *lut)
{
    for (size_t i = 0; i < n; i++)
        img[i] = lut[img[i]];
}

void aug_brightness(uint8_t *img, int H, int W, int C, float factor)
{
    uint8_t lut[256];
    for (int v = 0; v < 256; v++)
        lut[v] = blend(0, v, factor);
    apply_lut(img, (size_t)H * W * C, lut);
}

void aug_contrast(uint8_t *img, int H, int W, int C, float factor)
{
    size_t n = (size_t)H * W;
    uint64_t sum = 0;
    if (C == 3)
        for (size_t i = 0; i < n; i++)
            sum += (uint32_t)luma(img + 3 * i);
    else
        for (size_t i = 0; i < n; i++)
            sum += img[i];
    int mean = (int)((double)sum / (double)n + 0.5); /* int(ImageStat mean + 0.5) */
    uint8_t lut[256];
    for (int v = 0; v < 256; v++)
        lut[v] = blend(mean, v, factor);
    apply_lut(img, n * C, lut);
}

AUG_VECTOR_CLONES
void aug_saturation(uint8_t *img, int H, int W, int C, float factor)
{
    if (C != 3) return; /* no grey meaning: skipped */
    size_t n = (size_t)H * W;
    for (size_t i = 0; i < n; i++) {
        uint8_t *p = img + 3 * i;
        int l = luma(p);
        p[0] = blend(l, p[0], factor), p[1] = blend(l, p[1], factor), p[2] = blend(l, p[2], factor);
    }
}

void aug_grayscale(uint8_t *img, int H, int W, int C)
{
    if (C != 3) return; /* already grey */
    size_t n = (size_t)H * W;
    for (size_t i = 0; i < n; i++) {
        uint8_t l = (uint8_t)luma(img + 3 * i);
        img[3 * i] = img[3 * i + 1] = img[3 * i + 2] = l;
    }
}

enum { HUE_BLOCK = 256 }; /* pixels per block of aug_hue */

/* Pillow's rgb2hsv then hsv2rgb with the hue shifted by dh on n <= HUE_BLOCK pixels held as
 * planes (r, g, b), in place, with Pillow's float and double arithmetic bit for bit (aug_hue_ref in
 * augment_ref.c is the plain transcription; tests check the two agree on all 2^24 colours), but
 * without branches or table lookups, so that the loop vectorises:
 *   - rgb2hsv's h is (float)(base + x/cr - y/cr) with (base, x, y) picked by the maximum channel
 *     (r first, then g): Pillow's float differences are exact in double, so one rounding is the
 *     same; cr = 0 (grey) gives x = y = 0 and s = 0;
 *   - fmod(h / 6 + 1, 1) on [5/6, 11/6] is hx - trunc(hx), exact;
 *   - hsv2rgb's floor of the non-negative sector position is a truncation; round() of the
 *     non-negative p, q, t is t + (x - t >= 0.5) with t = trunc(x) (x - t is exact);
 *   - s == 0 makes p = q = t = v: Pillow's grey output whatever the sector;
 *   - the sector i (0..6, 6 as 0) picks the output channels among V, p, q, t by masks. */
AUG_VECTOR_CLONES
static void hue_planes(int32_t *restrict R, int32_t *restrict G, int32_t *restrict B, int n, int dh)
{
    for (int k = 0; k < n; k++) {
        int r = R[k], g = G[k], b = B[k];
        int maxc = r > g ? r : g, minc = r < g ? r : g;
        maxc = maxc > b ? maxc : b, minc = minc < b ? minc : b;
        int rmax = r == maxc, gmax = (g == maxc) & !rmax, bmax = 1 - rmax - gmax; /* 0/1 */
        int x = rmax * (maxc - b) + gmax * (maxc - r) + bmax * (maxc - g);
        int y = rmax * (maxc - g) + gmax * (maxc - b) + bmax * (maxc - r);
        int cri = maxc - minc;
        float cr = (float)cri, crd = (float)(cri + (cri == 0));
        float h = (float)((double)(2 * gmax + 4 * bmax) + (double)((float)x / crd) -
                          (double)((float)y / crd));
        double hx = (double)h / 6.0 + 1.0;
        float hn = (float)(hx - (double)(int)hx);
        int hv = (int)((double)hn * 255.0);
        int sv = (int)((double)(cr / (float)(maxc + (maxc == 0))) * 255.0); /* in [0, 255] */
        int hh = (hv + dh) & 255;
        double pos = (double)(float)hh * 6.0 / 255.0;
        int i = (int)pos;
        float f = (float)(pos - (double)(float)i), fs = (float)((double)sv / 255.0);
        double v = (double)maxc, pd = v * (1.0 - (double)fs);
        double qd = v * (1.0 - (double)(fs * f)), td = v * (1.0 - (double)fs * (1.0 - (double)f));
        int p = (int)pd, q = (int)qd, t = (int)td;
        p += pd - (double)p >= 0.5, q += qd - (double)q >= 0.5, t += td - (double)t >= 0.5;
        int V = maxc;
        int s0 = -((i == 0) | (i == 6)), s1 = -(i == 1), s2 = -(i == 2), s3 = -(i == 3);
        int s4 = -(i == 4), s5 = -(i == 5);
        R[k] = ((s0 | s5) & V) | (s1 & q) | ((s2 | s3) & p) | (s4 & t);
        G[k] = ((s1 | s2) & V) | (s0 & t) | (s3 & q) | ((s4 | s5) & p);
        B[k] = ((s3 | s4) & V) | ((s0 | s1) & p) | (s2 & t) | (s5 & q);
    }
}

void aug_hue(uint8_t *img, int H, int W, int C, float shift)
{
    if (C != 3) return;                     /* no grey meaning: skipped */
    int dh = (uint8_t)(int)(shift * 255.0); /* np.uint8(hue_factor * 255) */
    int32_t R[HUE_BLOCK], G[HUE_BLOCK], B[HUE_BLOCK];
    size_t n = (size_t)H * W;
    for (size_t i0 = 0; i0 < n; i0 += HUE_BLOCK) {
        int m = n - i0 < HUE_BLOCK ? (int)(n - i0) : HUE_BLOCK;
        uint8_t *px = img + 3 * i0; /* (m, 3) */
        for (int k = 0; k < m; k++)
            R[k] = px[3 * k], G[k] = px[3 * k + 1], B[k] = px[3 * k + 2];
        hue_planes(R, G, B, m, dh);
        for (int k = 0; k < m; k++)
            px[3 * k] = (uint8_t)R[k], px[3 * k + 1] = (uint8_t)G[k], px[3 * k + 2] = (uint8_t)B[k];
    }
}

/* ---- Gaussian blur (torchvision F.gaussian_blur) ---- */

int aug_blur_ksize(const AugConfig *cfg, float sigma, int H, int W)
{
    int k = cfg->blur_kernel == AUG_BLUR_KERNEL_FIXED ? cfg->blur_kernel_size
                                                      : 2 * (int)ceilf(3.0f * sigma) + 1;
    int max_half = (H < W ? H : W) - 1; /* reflect padding needs half < side */
    if ((k - 1) / 2 > max_half) k = 2 * max_half + 1;
    return k < 1 ? 1 : k;
}

/* y += a x, elementwise (no reassociation, so vectorising it does not change any result). */
AUG_VECTOR_CLONES
static void axpy(float *restrict y, const float *restrict x, float a, size_t n)
{
    for (size_t j = 0; j < n; j++)
        y[j] += a * x[j];
}

/* out = clip(round half to even (acc)) for |acc| < 2^22: the 1.5 * 2^23 trick in the default
 * rounding mode (IEEE semantics without -ffast-math keep (v + big) - big as written), the
 * torch.round of torchvision's blur. */
AUG_VECTOR_CLONES
static void round_clip8_row(uint8_t *restrict out, const float *restrict acc, size_t n)
{
    const float big = 12582912.0f;
    for (size_t j = 0; j < n; j++) {
        float r = (acc[j] + big) - big;
        r = r < 0.0f ? 0.0f : r;
        r = r > 255.0f ? 255.0f : r;
        out[j] = (uint8_t)(int)r;
    }
}

static inline int reflect(int i, int n)
{
    return i < 0 ? -i : i >= n ? 2 * n - 2 - i : i;
}

void aug_blur(uint8_t *img, int H, int W, int C, float sigma, int ksize, AugScratch *s)
{
    ASSERT(ksize % 2 == 1 && (ksize - 1) / 2 < H && (ksize - 1) / 2 < W);
    int half = (ksize - 1) / 2;
    float k[ksize], sum = 0.0f;
    for (int i = 0; i < ksize; i++) {
        /* torch.linspace(-half, half, ksize) in float32, then exp(-0.5 (x / sigma)^2) */
        float x = (float)(-half + i), t = x / sigma;
        k[i] = expf(-0.5f * t * t);
        sum += k[i];
    }
    for (int i = 0; i < ksize; i++)
        k[i] /= sum;
    size_t WC = (size_t)W * C, padw = (size_t)(W + 2 * half) * C;
    s->f = grow(s->f, &s->f_cap, sizeof(float) * ((size_t)H * WC + padw + WC));
    float *tmp = s->f;                 /* (H, W, C) after the horizontal pass */
    float *pad = tmp + (size_t)H * WC; /* (W + 2 half, C) one reflect-padded row */
    float *acc = pad + padw;           /* (W, C) */
    /* Loops run over the taps outside and the pixels inside (vectorisable); each output still sums
     * its taps in ascending order from 0, so the result does not depend on this layout. */
    for (int y = 0; y < H; y++) {
        const uint8_t *row = img + (size_t)y * WC;
        for (size_t j = 0; j < WC; j++)
            pad[(size_t)half * C + j] = (float)row[j];
        for (int x = 1; x <= half; x++) /* reflect: pixel -x is x, pixel W - 1 + x is W - 1 - x */
            for (int c = 0; c < C; c++) {
                pad[(size_t)(half - x) * C + c] = (float)row[(size_t)x * C + c];
                pad[(size_t)(half + W - 1 + x) * C + c] = (float)row[(size_t)(W - 1 - x) * C + c];
            }
        float *out = tmp + (size_t)y * WC;
        for (size_t j = 0; j < WC; j++)
            out[j] = 0.0f;
        for (int i = 0; i < ksize; i++)
            axpy(out, pad + (size_t)i * C, k[i], WC);
    }
    for (int y = 0; y < H; y++) {
        for (size_t j = 0; j < WC; j++)
            acc[j] = 0.0f;
        for (int i = 0; i < ksize; i++)
            axpy(acc, tmp + (size_t)reflect(y - half + i, H) * WC, k[i], WC);
        round_clip8_row(img + (size_t)y * WC, acc, WC); /* torch.round: half to even */
    }
}

/* ---- ToTensor + Normalize ---- */

void aug_normalize(const uint8_t *hwc, int H, int W, int C, const float *mean, const float *std,
                   int flip, float *out_chw)
{
    float lut[3][256]; /* the same float expression as per pixel, once per (channel, value) */
    for (int c = 0; c < C; c++)
        for (int v = 0; v < 256; v++)
            lut[c][v] = ((float)v / 255.0f - mean[c]) / std[c];
    size_t plane = (size_t)H * W;
    for (int y = 0; y < H; y++) {
        const uint8_t *row = hwc + (size_t)y * W * C; /* (W, C) */
        float *o = out_chw + (size_t)y * W;
        int x0 = flip ? W - 1 : 0, dx = flip ? -1 : 1;
        if (C == 3) {
            for (int x = 0, sx = x0; x < W; x++, sx += dx) {
                const uint8_t *p = row + 3 * sx;
                o[x] = lut[0][p[0]], o[plane + x] = lut[1][p[1]], o[2 * plane + x] = lut[2][p[2]];
            }
            continue;
        }
        for (int c = 0; c < C; c++)
            for (int x = 0, sx = x0; x < W; x++, sx += dx)
                o[c * plane + x] = lut[c][row[sx * C + c]];
    }
}

/* ---- the pipelines ---- */

static void apply_jitter(const AugParams *p, uint8_t *a, int S, int C)
{
    for (int k = 0; k < 4; k++) {
        AugJitterOp op = p->order[k];
        float f = p->factor[op];
        switch (op) {
        case AUG_JITTER_BRIGHTNESS:
            aug_brightness(a, S, S, C, f);
            break;
        case AUG_JITTER_CONTRAST:
            aug_contrast(a, S, S, C, f);
            break;
        case AUG_JITTER_SATURATION:
            aug_saturation(a, S, S, C, f);
            break;
        case AUG_JITTER_HUE:
            aug_hue(a, S, S, C, f);
            break;
        }
    }
}

/* Resize(shorter side = cfg->resize) then CenterCrop(cfg->size), as torchvision on PIL. */
static void eval_resize_crop(const AugConfig *cfg, const uint8_t *hwc, int H, int W, int C,
                             uint8_t *a, AugScratch *s)
{
    int S = cfg->size, rh = H, rw = W;
    const uint8_t *r = hwc;
    int short_side = H < W ? H : W, long_side = H < W ? W : H;
    if (short_side != cfg->resize) {
        int new_long = (int)((double)cfg->resize * long_side / short_side);
        rh = H < W ? cfg->resize : new_long;
        rw = H < W ? new_long : cfg->resize;
        s->b = grow(s->b, &s->b_cap, (size_t)rh * rw * C);
        AugBox full = {0, 0, H, W};
        aug_resize(hwc, H, W, C, full, s->b, rh, rw, s);
        r = s->b;
    }
    ASSERT(rh >= S && rw >= S);
    AugBox crop = {(int)nearbyint((rh - S) / 2.0), (int)nearbyint((rw - S) / 2.0), S, S};
    aug_resize(r, rh, rw, C, crop, a, S, S, s); /* same size: a copy of the window */
}

void aug_apply_params(const AugConfig *cfg, const AugParams *p, const uint8_t *hwc, int H, int W,
                      int C, float *out_chw, AugScratch *s)
{
    ASSERT(C == cfg->channels);
    int S = cfg->size;
    s->a = grow(s->a, &s->a_cap, (size_t)S * S * C);
    uint8_t *a = s->a; /* (S, S, C) */
    if (cfg->order == AUG_ORDER_EVAL) {
        eval_resize_crop(cfg, hwc, H, W, C, a, s);
    } else {
        aug_resize(hwc, H, W, C, p->box, a, S, S, s);
        if (cfg->order == AUG_ORDER_GRAY_JITTER && p->gray) aug_grayscale(a, S, S, C);
        if (p->jitter) apply_jitter(p, a, S, C);
        if (cfg->order == AUG_ORDER_JITTER_GRAY && p->gray) aug_grayscale(a, S, S, C);
        if (p->blur) aug_blur(a, S, S, C, p->sigma, aug_blur_ksize(cfg, p->sigma, S, S), s);
    }
    aug_normalize(a, S, S, C, cfg->mean, cfg->std, p->flip, out_chw);
}

void aug_apply(const AugConfig *cfg, Rng *rng, const uint8_t *hwc, int H, int W, int C,
               float *out_chw, AugScratch *s)
{
    AugParams p;
    aug_draw(cfg, rng, H, W, &p);
    aug_apply_params(cfg, &p, hwc, H, W, C, out_chw, s);
}

/* im2col.c — see im2col.h. Rows are filled output row by output row; the valid output columns of
 * each tap are computed once, so the inner loop is a memcpy (stride 1) or a strided gather with no
 * bounds tests, and padding is written with memset. */
#include "core/backend/cpu/im2col.h"

#include <string.h>

/* The output columns [lo, hi) whose input column ow*stride - pad + kw lies inside [0, W). */
static void valid_range(int kw, const ConvShape *s, int *lo, int *hi)
{
    int off = kw - s->pad; /* iw = ow*stride + off */
    int l = off >= 0 ? 0 : (-off + s->stride - 1) / s->stride;
    int h = s->W - off <= 0 ? 0 : (s->W - off + s->stride - 1) / s->stride;
    if (h > s->W_out) h = s->W_out;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

void im2col(float *col, int ldcol, const float *img, const ConvShape *s)
{
    const int KH = s->KH, KW = s->KW, H = s->H, W = s->W, Ho = s->H_out, Wo = s->W_out;
    const int st = s->stride;
    for (int c = 0; c < s->C_in; c++) {
        const float *plane = img + (size_t)c * H * W; /* (H, W) */
        for (int kh = 0; kh < KH; kh++) {
            for (int kw = 0; kw < KW; kw++) {
                float *row = col + (size_t)((c * KH + kh) * KW + kw) * ldcol; /* (Ho*Wo) */
                int lo, hi;
                valid_range(kw, s, &lo, &hi);
                const int off = kw - s->pad;
                for (int oh = 0; oh < Ho; oh++) {
                    float *dst = row + (size_t)oh * Wo;
                    const int ih = oh * st - s->pad + kh;
                    if (ih < 0 || ih >= H || lo >= hi) {
                        memset(dst, 0, sizeof(float) * (size_t)Wo);
                        continue;
                    }
                    const float *src = plane + (size_t)ih * W + off; /* src[ow*st] */
                    if (lo > 0) memset(dst, 0, sizeof(float) * (size_t)lo);
                    if (st == 1) {
                        memcpy(dst + lo, src + lo, sizeof(float) * (size_t)(hi - lo));
                    } else {
                        for (int ow = lo; ow < hi; ow++)
                            dst[ow] = src[ow * st];
                    }
                    if (hi < Wo) memset(dst + hi, 0, sizeof(float) * (size_t)(Wo - hi));
                }
            }
        }
    }
}

void col2im_add(float *img, const float *col, int ldcol, const ConvShape *s)
{
    const int KH = s->KH, KW = s->KW, H = s->H, W = s->W, Ho = s->H_out, Wo = s->W_out;
    const int st = s->stride;
    for (int c = 0; c < s->C_in; c++) {
        float *plane = img + (size_t)c * H * W; /* (H, W) */
        for (int kh = 0; kh < KH; kh++) {
            for (int kw = 0; kw < KW; kw++) {
                const float *row = col + (size_t)((c * KH + kh) * KW + kw) * ldcol;
                int lo, hi;
                valid_range(kw, s, &lo, &hi);
                const int off = kw - s->pad;
                for (int oh = 0; oh < Ho; oh++) {
                    const int ih = oh * st - s->pad + kh;
                    if (ih < 0 || ih >= H) continue;
                    const float *src = row + (size_t)oh * Wo;
                    float *dst = plane + (size_t)ih * W + off; /* dst[ow*st] */
                    if (st == 1) {
#pragma omp simd
                        for (int ow = lo; ow < hi; ow++)
                            dst[ow] += src[ow];
                    } else {
                        for (int ow = lo; ow < hi; ow++)
                            dst[ow * st] += src[ow];
                    }
                }
            }
        }
    }
}

/* pool.c — max-pooling with argmax and global average pooling.
 *
 * Reference: torch.nn.MaxPool2d (padding acts as -inf, floor output size, the first maximum in
 * row-major window order wins ties, as PyTorch's CPU kernel) and torch.nn.AdaptiveAvgPool2d(1).
 */
#include <math.h>

#include "core/common.h"
#include "core/backend/cpu/cpu.h"
#include "core/nn/nn.h"


void maxpool_forward_cpu(float *out, int *argmax, const float *in, const PoolShape *s)
{
    const int H = s->H, W = s->W, Ho = s->H_out, Wo = s->W_out;
#pragma omp parallel for schedule(static)
    for (long pl = 0; pl < (long)s->N * s->C; pl++) {
        const size_t p = (size_t)pl;
        const float *x = in + p * H * W; /* (H, W) */
        for (int oh = 0; oh < Ho; oh++)
            for (int ow = 0; ow < Wo; ow++) {
                const int h0 = oh * s->stride - s->pad, w0 = ow * s->stride - s->pad;
                float best = -INFINITY;
                int arg = -1; /* index within the (H, W) plane */
                for (int ih = h0 < 0 ? 0 : h0; ih < h0 + s->k && ih < H; ih++)
                    for (int iw = w0 < 0 ? 0 : w0; iw < w0 + s->k && iw < W; iw++) {
                        float v = x[ih * W + iw];
                        if (arg < 0 || v > best || isnan(v)) {
                            best = v;
                            arg = ih * W + iw;
                        }
                    }
                ASSERT(arg >= 0); /* maxpool_shape() guarantees a real pixel in every window */
                out[(p * Ho + oh) * Wo + ow] = best;
                argmax[(p * Ho + oh) * Wo + ow] = arg;
            }
    }
}

void maxpool_backward_cpu(float *din, const float *dout, const int *argmax, const PoolShape *s)
{
    const size_t plane = (size_t)s->H * s->W, oplane = (size_t)s->H_out * s->W_out;
#pragma omp parallel for schedule(static)
    for (long pl = 0; pl < (long)s->N * s->C; pl++)
        for (size_t p = (size_t)pl, o = 0; o < oplane; o++)
            din[p * plane + argmax[p * oplane + o]] += dout[p * oplane + o];
}

void avgpool_forward_cpu(float *out, const float *in, int N, int C, int HW)
{
#pragma omp parallel for schedule(static)
    for (long pl = 0; pl < (long)N * C; pl++) {
        const size_t p = (size_t)pl;
        const float *x = in + p * HW;
        double sum = 0.0;
        for (int i = 0; i < HW; i++)
            sum += x[i];
        out[p] = (float)(sum / HW);
    }
}

void avgpool_backward_cpu(float *din, const float *dout, int N, int C, int HW)
{
#pragma omp parallel for schedule(static)
    for (long pl = 0; pl < (long)N * C; pl++) {
        const size_t p = (size_t)pl;
        const float g = dout[p] / (float)HW;
        float *dx = din + p * HW;
        for (int i = 0; i < HW; i++)
            dx[i] += g;
    }
}

/* elementwise.c — relu, row-wise L2 normalisation, the residual add, y += x and zeroing (CPU).
 *
 * The residual join also in bf16 storage (core/nn/nn.h "bf16 storage").
 *
 * Reference: torch.relu (gradient 0 at 0: din += dout where out > 0), torch.nn.functional.normalize
 * (x / max(||x||₂, eps), eps = 1e-12; below eps the divisor is the constant eps).
 */
#include <math.h>
#include <string.h>

#include "core/nn/nn.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/backend/cpu/cpu.h"

#define L2NORM_EPS 1e-12
/* Below this many elements an elementwise loop runs on one thread (a fork/join costs a few µs). */
#define PAR_MIN_ELEMS 65536

/* Elementwise loops are split statically into contiguous ranges: no reduction, any split gives the
 * same bits. */
void relu_forward_cpu(float *out, const float *in, size_t n)
{
    const long nn = (long)n;
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN_ELEMS)
    for (long i = 0; i < nn; i++)
        out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

void relu_backward_cpu(float *din, const float *dout, const float *out, size_t n)
{
    const long nn = (long)n;
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN_ELEMS)
    for (long i = 0; i < nn; i++)
        din[i] += out[i] > 0.0f ? dout[i] : 0.0f;
}

void l2norm_forward_cpu(float *out, float *norm, const float *in, int N, int D)
{
    for (int n = 0; n < N; n++) {
        const float *x = in + (size_t)n * D; /* (D) */
        double sq = 0.0;
        for (int d = 0; d < D; d++)
            sq += (double)x[d] * x[d];
        double r = sqrt(sq);
        if (r < L2NORM_EPS) r = L2NORM_EPS;
        norm[n] = (float)r;
        for (int d = 0; d < D; d++)
            out[(size_t)n * D + d] = (float)(x[d] / r);
    }
}

/* Above eps: d(x/r) = (dy - y (y·dy)) / r. Clamped at eps: r is a constant, so din = dy / eps. */
void l2norm_backward_cpu(float *din, const float *dout, const float *out, const float *norm, int N,
                     int D)
{
    for (int n = 0; n < N; n++) {
        const float *y = out + (size_t)n * D, *dy = dout + (size_t)n * D; /* (D) */
        float *dx = din + (size_t)n * D;
        const double r = norm[n];
        double dot = 0.0;
        if (norm[n] > (float)L2NORM_EPS) /* compare in float: norm[] holds the float of eps */
            for (int d = 0; d < D; d++)
                dot += (double)y[d] * dy[d];
        for (int d = 0; d < D; d++)
            dx[d] += (float)((dy[d] - y[d] * dot) / r);
    }
}

/* The join in fp32 or (half) bf16 storage: the sum of the (widened) inputs, rounded once. */
CPU_INLINE void add_relu_forward_body(void *y, const void *a, const void *b, size_t n, int half)
{
    const long nn = (long)n;
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN_ELEMS)
    for (long i = 0; i < nn; i++) {
        const float v = act_ld(a, (size_t)i, half) + act_ld(b, (size_t)i, half);
        act_st(y, (size_t)i, v > 0.0f ? v : 0.0f, half);
    }
}

CPU_INLINE void add_relu_backward_body(float *da, float *db, const float *dout, const void *out,
                                       size_t n, int set_a, int set_b, int half)
{
    const long nn = (long)n;
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN_ELEMS)
    for (long i = 0; i < nn; i++) {
        const float g = act_ld(out, (size_t)i, half) > 0.0f ? dout[i] : 0.0f;
        da[i] = set_a ? g : da[i] + g;
        db[i] = set_b ? g : db[i] + g;
    }
}

void add_relu_forward_cpu(float *y, const float *a, const float *b, size_t n)
{
    add_relu_forward_body(y, a, b, n, 0);
}

void add_relu_backward_cpu(float *da, float *db, const float *dout, const float *out, size_t n,
                           int set_a, int set_b)
{
    add_relu_backward_body(da, db, dout, out, n, set_a, set_b, 0);
}

void add_relu_forward_bf16_cpu(uint16_t *y, const uint16_t *a, const uint16_t *b, size_t n)
{
    add_relu_forward_body(y, a, b, n, 1);
}

void add_relu_backward_bf16_cpu(float *da, float *db, const float *dout, const uint16_t *out,
                                size_t n, int set_a, int set_b)
{
    add_relu_backward_body(da, db, dout, out, n, set_a, set_b, 1);
}

void bf16_widen_cpu(float *dst, const uint16_t *src, size_t n)
{
    const long nn = (long)n;
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN_ELEMS)
    for (long i = 0; i < nn; i++)
        dst[i] = bf16_to_f32(src[i]);
}

void bf16_narrow_cpu(uint16_t *dst, const float *src, size_t n)
{
    const long nn = (long)n;
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN_ELEMS)
    for (long i = 0; i < nn; i++)
        dst[i] = f32_to_bf16(src[i]);
}

void bf16_round_cpu(float *dst, const float *src, size_t n)
{
    const long nn = (long)n;
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN_ELEMS)
    for (long i = 0; i < nn; i++)
        dst[i] = bf16_to_f32(f32_to_bf16(src[i]));
}

void zero_cpu(float *y, size_t n)
{
    const int T = n >= PAR_MIN_ELEMS ? nn_threads() : 1;
#pragma omp parallel num_threads(T)
    {
#ifdef _OPENMP
        const size_t t = (size_t)omp_get_thread_num();
#else
        const size_t t = 0;
#endif
        const size_t lo = n * t / (size_t)T, hi = n * (t + 1) / (size_t)T;
        memset(y + lo, 0, (hi - lo) * sizeof(float));
    }
}

void add_inplace_cpu(float *y, const float *x, size_t n)
{
    const long nn = (long)n;
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN_ELEMS)
    for (long i = 0; i < nn; i++)
        y[i] += x[i];
}

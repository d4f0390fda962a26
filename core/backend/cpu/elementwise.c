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

void add_relu_forward_cpu(float *y, const float *a, const float *b, size_t n)
{
    const long nn = (long)n;
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN_ELEMS)
    for (long i = 0; i < nn; i++) {
        const float v = a[i] + b[i];
        y[i] = v > 0.0f ? v : 0.0f;
    }
}

void add_relu_backward_cpu(float *da, float *db, const float *dout, const float *out, size_t n,
                           int set_a, int set_b)
{
    const long nn = (long)n;
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN_ELEMS)
    for (long i = 0; i < nn; i++) {
        const float g = out[i] > 0.0f ? dout[i] : 0.0f;
        da[i] = set_a ? g : da[i] + g;
        db[i] = set_b ? g : db[i] + g;
    }
}

/* The join in bf16 storage: the sum of the widened inputs, rounded once. A twin of the fp32 loops
 * above rather than one body for both through act_ld (as BN's): that shared body made the fp32
 * mini step ~10% slower (bench_moco --child mini, 3 A/B pairs: 1259-1334 against 1347-1636
 * img/s). */
void add_relu_forward_bf16_cpu(uint16_t *y, const uint16_t *a, const uint16_t *b, size_t n)
{
    const long nn = (long)n;
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN_ELEMS)
    for (long i = 0; i < nn; i++) {
        const float v = bf16_to_f32(a[i]) + bf16_to_f32(b[i]);
        y[i] = f32_to_bf16(v > 0.0f ? v : 0.0f);
    }
}

void add_relu_backward_bf16_cpu(float *da, float *db, const float *dout, const uint16_t *out,
                                size_t n, int set_a, int set_b)
{
    const long nn = (long)n;
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN_ELEMS)
    for (long i = 0; i < nn; i++) {
        const float g = bf16_to_f32(out[i]) > 0.0f ? dout[i] : 0.0f;
        da[i] = set_a ? g : da[i] + g;
        db[i] = set_b ? g : db[i] + g;
    }
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

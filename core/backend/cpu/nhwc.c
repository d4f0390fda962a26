/* nhwc.c — the CPU backend's layout-dependent layers in channels-last layout (core/nn/nn.h
 * "Layout"): batch normalisation (train/eval, split-BN groups, fused ReLU, first-writer
 * gradients), max-pool, global average pool (of fp32 or bf16 storage), and the network input's
 * NCHW → NHWC transpose.
 * Formulas as core/nn/nn.h and core/backend/ref/layers.c (the spec they are tested against).
 *
 * A (N, C, H, W) tensor is N·HW rows of C contiguous floats; a split-BN group is the contiguous
 * run of (N/G)·HW rows of its samples. Per-channel sums run down the rows with C-wide vector adds,
 * a tile of at most BN_TILE channels at a time (its partial sums live on the stack).
 *
 * bf16 storage (BnShape.bf16; core/nn/nn.h): the input and output are bf16, read widened and
 * written rounded by the same loops (`half`, a constant in each compiled copy); gradients stay
 * fp32.
 *
 * BN statistics in one pass: with a per-(group, channel) shift K (the group's first row), the
 * shifted sums S1 = Σ(x − K) and S2 = Σ(x − K)² give mean = K + S1/M and the biased variance
 * S2/M − (S1/M)², free of the cancellation of Σx² − M·mean² when |mean| ≫ std. Partial sums run
 * in float over blocks of BN_BLOCK rows, then in double; rows are split statically over the
 * threads and the threads' double partials added in thread order (bit-reproducible for a fixed
 * thread count).
 */
#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/backend/cpu/cpu.h"
#include "core/common.h"

#define BN_BLOCK 32       /* rows summed in float before a double accumulation */
#define BN_TILE 128       /* channels per pass */
#define BN_MAX_THREADS 64 /* the threads' partials are a stack array */

#ifdef _OPENMP
#define THREAD_ID() omp_get_thread_num()
#define THREADS() omp_get_num_threads()
#else
#define THREAD_ID() 0
#define THREADS() 1
#endif

/* Rows [lo, hi) of thread t of T over n rows starting at r0. */
static void thread_rows(size_t r0, size_t n, int t, int T, size_t *lo, size_t *hi)
{
    *lo = r0 + n * (size_t)t / (size_t)T;
    *hi = r0 + n * (size_t)(t + 1) / (size_t)T;
}

/* ---- batch normalisation ---- */

/* The row loops below run down a tile of tc channels; tc = 16, 32, 64 or 128 (every layer of the
 * bench nets) is a compile-time constant in its copy of the body, so the partial sums stay in
 * vector registers (a switch picks the copy; others take the general one). */
#define BN_WIDTHS(body, tc, ...)                                                                   \
    switch (tc) {                                                                                  \
    case 16: body(__VA_ARGS__, 16); break;                                                         \
    case 32: body(__VA_ARGS__, 32); break;                                                         \
    case 64: body(__VA_ARGS__, 64); break;                                                         \
    case 128: body(__VA_ARGS__, 128); break;                                                       \
    default: body(__VA_ARGS__, tc); break;                                                         \
    }
/* The same with the storage (half: bf16) a constant of each copy as well. */
#define BN_STORAGE(body, half, tc, ...)                                                            \
    do {                                                                                           \
        if (half)                                                                                  \
            BN_WIDTHS(body, tc, __VA_ARGS__, 1)                                                    \
        else                                                                                       \
            BN_WIDTHS(body, tc, __VA_ARGS__, 0)                                                    \
    } while (0)

/* Per channel c of the tile [c0, c0 + tc) of rows [lo, hi) of x: s1 += Σ(x − K), s2 += Σ(x − K)². */
CPU_INLINE void moment_body(double *s1, double *s2, const void *restrict x, size_t lo, size_t hi,
                            int C, int c0, const float *restrict K, int half, int tc)
{
    float a[BN_TILE], b[BN_TILE];
    for (size_t r = lo; r < hi;) {
        const size_t end = r + BN_BLOCK < hi ? r + BN_BLOCK : hi;
        for (int c = 0; c < tc; c++) a[c] = b[c] = 0.0f;
        for (; r < end; r++) {
            const size_t o = r * C + c0;
#pragma omp simd
            for (int c = 0; c < tc; c++) {
                const float v = act_ld(x, o + c, half) - K[c];
                a[c] += v;
                b[c] += v * v;
            }
        }
        for (int c = 0; c < tc; c++) s1[c] += a[c], s2[c] += b[c];
    }
}

CPU_KERNEL static void moment_rows(double *s1, double *s2, const void *x, size_t lo, size_t hi,
                                   int C, int c0, int tc, const float *K, int half)
{
    BN_STORAGE(moment_body, half, tc, s1, s2, x, lo, hi, C, c0, K);
}

/* Per channel of the tile, over rows [lo, hi): sdy += Σ g and sdyx += Σ g·(x − mean), with g = dy
 * gated by a fused ReLU's output (g = dy where out > 0) when `out` is not NULL. */
CPU_INLINE void grad_body(double *sdy, double *sdyx, const float *restrict dy,
                          const void *restrict out, const void *restrict x, size_t lo, size_t hi,
                          int C, int c0, const float *restrict mean, int half, int tc)
{
    float a[BN_TILE], b[BN_TILE];
    for (size_t r = lo; r < hi;) {
        const size_t end = r + BN_BLOCK < hi ? r + BN_BLOCK : hi;
        for (int c = 0; c < tc; c++) a[c] = b[c] = 0.0f;
        for (; r < end; r++) {
            const size_t o = r * C + c0;
            if (out) {
#pragma omp simd
                for (int c = 0; c < tc; c++) {
                    const float g = act_ld(out, o + c, half) > 0.0f ? dy[o + c] : 0.0f;
                    a[c] += g;
                    b[c] += g * (act_ld(x, o + c, half) - mean[c]);
                }
            } else {
#pragma omp simd
                for (int c = 0; c < tc; c++) {
                    a[c] += dy[o + c];
                    b[c] += dy[o + c] * (act_ld(x, o + c, half) - mean[c]);
                }
            }
        }
        for (int c = 0; c < tc; c++) sdy[c] += a[c], sdyx[c] += b[c];
    }
}

CPU_KERNEL static void grad_rows(double *sdy, double *sdyx, const float *dy, const void *out,
                                 const void *x, size_t lo, size_t hi, int C, int c0, int tc,
                                 const float *mean, int half)
{
    BN_STORAGE(grad_body, half, tc, sdy, sdyx, dy, out, x, lo, hi, C, c0, mean);
}

/* One parallel region a call: each thread sums its static share of every group's rows into its
 * own partials, the master adds them in thread order after a barrier (the same bits for a given
 * thread count) and derives what the second pass needs, which runs after a second barrier. Groups
 * are taken BN_MAX_GC / C at a time, so the partials (2 doubles a group and channel a thread) stay
 * on the threads' stacks. */
#define BN_MAX_GC 8192

/* The groups [g0, g1) of a call, at most BN_MAX_GC / C of them. */
static int groups_per_chunk(int C) { return BN_MAX_GC / C > 0 ? BN_MAX_GC / C : 1; }

/* Thread t's partial sums over its rows of groups [g0, g1): p[(g − g0)·C + c] (Σ₁) and
 * p[n + (g − g0)·C + c] (Σ₂), n = (g1 − g0)·C. Moments (dy NULL): of x − K with K the group's first
 * row; gradients: Σ g and Σ g (x − mean), g = dy gated by a fused ReLU's out. */
static void group_sums(double *p, const void *x, const float *dy, const void *out,
                       const float *save_mean, const BnShape *s, int g0, int g1, int t, int T)
{
    const int C = s->C, half = s->bf16;
    float K[BN_TILE];
    const size_t rows = (size_t)(s->N / s->groups) * s->HW, n = (size_t)(g1 - g0) * C;
    for (size_t i = 0; i < 2 * n; i++) p[i] = 0.0;
    for (int g = g0; g < g1; g++) {
        size_t lo, hi;
        thread_rows((size_t)g * rows, rows, t, T, &lo, &hi);
        double *p1 = p + (size_t)(g - g0) * C, *p2 = p1 + n;
        for (int c0 = 0; c0 < C; c0 += BN_TILE) {
            const int tc = C - c0 < BN_TILE ? C - c0 : BN_TILE;
            if (!dy) {
                for (int c = 0; c < tc; c++)
                    K[c] = act_ld(x, (size_t)g * rows * C + c0 + c, half);
                moment_rows(p1 + c0, p2 + c0, x, lo, hi, C, c0, tc, K, half);
            } else {
                grad_rows(p1 + c0, p2 + c0, dy, out, x, lo, hi, C, c0, tc, save_mean + g * C + c0,
                          half);
            }
        }
    }
}

/* sum[i] = Σ_t parts[t][i], i < m, in thread order. */
static void add_parts(double *sum, double *const *parts, int T, size_t m)
{
    for (size_t i = 0; i < m; i++) {
        double v = 0.0;
        for (int t = 0; t < T; t++) v += parts[t][i];
        sum[i] = v;
    }
}

/* From the groups' shifted moments: save_mean / save_rstd, and the running update with the mean
 * over groups of each group's unbiased variance (MoCo's SplitBatchNorm), accumulated per chunk
 * into mean_sum / uvar_sum (C each) and applied after the last chunk. */
static void finish_moments(float *save_mean, float *save_rstd, const double *sum, const void *in,
                           const BnShape *s, int g0, int g1, double *mean_sum, double *uvar_sum)
{
    const int C = s->C;
    const size_t rows = (size_t)(s->N / s->groups) * s->HW, n = (size_t)(g1 - g0) * C;
    const double M = (double)rows;
    for (int g = g0; g < g1; g++) {
        const size_t K = (size_t)g * rows * C; /* the group's first row: the shift */
        for (int c = 0; c < C; c++) {
            const double s1 = sum[(size_t)(g - g0) * C + c], s2 = sum[n + (size_t)(g - g0) * C + c];
            const double m = s1 / M, v = fmax(s2 / M - m * m, 0.0);
            const double mean = act_ld(in, K + c, s->bf16) + m;
            save_mean[g * C + c] = (float)mean;
            save_rstd[g * C + c] = (float)(1.0 / sqrt(v + s->eps));
            mean_sum[c] += mean;
            uvar_sum[c] += v * M / (M - 1.0);
        }
    }
}

/* out = x · a + b (then max(0, ·) with relu) over rows [lo, hi) of the tile. */
CPU_INLINE void apply_body(void *restrict out, const void *restrict in, size_t lo, size_t hi, int C,
                           int c0, const float *restrict a, const float *restrict b, int relu,
                           int half, int tc)
{
    for (size_t r = lo; r < hi; r++) {
        const size_t o = r * C + c0;
        if (relu) {
#pragma omp simd
            for (int c = 0; c < tc; c++) {
                const float v = act_ld(in, o + c, half) * a[c] + b[c];
                act_st(out, o + c, v > 0.0f ? v : 0.0f, half);
            }
        } else {
#pragma omp simd
            for (int c = 0; c < tc; c++)
                act_st(out, o + c, act_ld(in, o + c, half) * a[c] + b[c], half);
        }
    }
}

CPU_KERNEL static void bn_apply_rows(void *out, const void *in, size_t lo, size_t hi, int C, int c0,
                                     int tc, const float *a, const float *b, int relu, int half)
{
    BN_STORAGE(apply_body, half, tc, out, in, lo, hi, C, c0, a, b, relu);
}

void batchnorm_forward_nhwc(float *out, float *save_mean, float *save_rstd, const float *in,
                            const float *gamma, const float *beta, float *running_mean,
                            float *running_var, const BnShape *s, BnMode mode)
{
    const int C = s->C, G = s->groups, chunk = groups_per_chunk(C);
    ASSERT(G >= 1 && s->N % G == 0);
    const size_t rows = (size_t)(s->N / G) * s->HW;
    if (mode == BN_EVAL)
        for (int g = 0; g < G; g++)
            for (int c = 0; c < C; c++) {
                save_mean[g * C + c] = running_mean[c];
                save_rstd[g * C + c] = (float)(1.0 / sqrt((double)running_var[c] + s->eps));
            }
    else
        ASSERT(rows > 1); /* the unbiased variance needs two values per channel */
    double *parts[BN_MAX_THREADS], sum[2 * BN_MAX_GC], mean_sum[BN_MAX_GC], uvar_sum[BN_MAX_GC];
    ASSERT(C <= BN_MAX_GC);
    for (int c = 0; c < C; c++) mean_sum[c] = uvar_sum[c] = 0.0;
#pragma omp parallel
    {
        const int t = THREAD_ID(), T = THREADS();
        ASSERT(T <= BN_MAX_THREADS);
        double mine[2 * BN_MAX_GC];
        float a[BN_TILE], b[BN_TILE];
        parts[t] = mine;
        for (int g0 = 0; g0 < G; g0 += chunk) {
            const int g1 = g0 + chunk < G ? g0 + chunk : G;
            if (mode == BN_TRAIN) {
                group_sums(mine, in, NULL, NULL, NULL, s, g0, g1, t, T);
#pragma omp barrier
#pragma omp master
                {
                    add_parts(sum, parts, T, 2 * (size_t)(g1 - g0) * C);
                    finish_moments(save_mean, save_rstd, sum, in, s, g0, g1, mean_sum, uvar_sum);
                }
#pragma omp barrier
            }
            for (int g = g0; g < g1; g++) {
                size_t lo, hi;
                thread_rows((size_t)g * rows, rows, t, T, &lo, &hi);
                for (int c0 = 0; c0 < C; c0 += BN_TILE) {
                    const int tc = C - c0 < BN_TILE ? C - c0 : BN_TILE;
                    /* out = (x − mean) · rstd · γ + β = x · a + b */
                    for (int c = 0; c < tc; c++) {
                        a[c] = gamma[c0 + c] * save_rstd[g * C + c0 + c];
                        b[c] = beta[c0 + c] - save_mean[g * C + c0 + c] * a[c];
                    }
                    bn_apply_rows(out, in, lo, hi, C, c0, tc, a, b, s->relu, s->bf16);
                }
            }
        }
    }
    if (mode == BN_TRAIN)
        for (int c = 0; c < C; c++) {
            running_mean[c] = (float)((1.0 - s->momentum) * running_mean[c] + s->momentum * mean_sum[c] / G);
            running_var[c] = (float)((1.0 - s->momentum) * running_var[c] + s->momentum * uvar_sum[c] / G);
        }
}

/* din over rows [lo, hi) of the tile: k (g − mdy − (x − mean) cx), written or added. */
CPU_INLINE void din_body(float *restrict din, const float *restrict dy, const void *restrict out,
                         const void *restrict x, size_t lo, size_t hi, int C, int c0,
                         const float *restrict k, const float *restrict mdy,
                         const float *restrict cx, const float *restrict mean, int set, int half,
                         int tc)
{
    for (size_t r = lo; r < hi; r++) {
        const size_t o = r * C + c0;
#pragma omp simd
        for (int c = 0; c < tc; c++) {
            const float g = out && !(act_ld(out, o + c, half) > 0.0f) ? 0.0f : dy[o + c];
            const float d = k[c] * (g - mdy[c] - (act_ld(x, o + c, half) - mean[c]) * cx[c]);
            din[o + c] = set ? d : din[o + c] + d;
        }
    }
}

CPU_KERNEL static void bn_din_rows(float *din, const float *dy, const void *out, const void *x,
                                   size_t lo, size_t hi, int C, int c0, int tc, const float *k,
                                   const float *mdy, const float *cx, const float *mean, int set,
                                   int half)
{
    BN_STORAGE(din_body, half, tc, din, dy, out, x, lo, hi, C, c0, k, mdy, cx, mean, set);
}

void batchnorm_backward_nhwc(float *din, float *dgamma, float *dbeta, const float *dout,
                             const float *in, const float *save_mean, const float *save_rstd,
                             const float *gamma, const float *out, const BnShape *s, BnMode mode)
{
    ASSERT(!s->relu || out);
    if (!s->relu) out = NULL;
    const int C = s->C, G = s->groups, chunk = groups_per_chunk(C);
    const size_t rows = (size_t)(s->N / G) * s->HW;
    const double M = (double)rows;
    ASSERT(C <= BN_MAX_GC);
    double *parts[BN_MAX_THREADS], sum[2 * BN_MAX_GC];
    float k[BN_MAX_GC], mdy[BN_MAX_GC], cx[BN_MAX_GC]; /* (g − g0, c) of the chunk */
#pragma omp parallel
    {
        const int t = THREAD_ID(), T = THREADS();
        ASSERT(T <= BN_MAX_THREADS);
        double mine[2 * BN_MAX_GC];
        parts[t] = mine;
        for (int g0 = 0; g0 < G; g0 += chunk) {
            const int g1 = g0 + chunk < G ? g0 + chunk : G;
            const size_t n = (size_t)(g1 - g0) * C;
            group_sums(mine, in, dout, out, save_mean, s, g0, g1, t, T);
#pragma omp barrier
#pragma omp master
            {
                add_parts(sum, parts, T, 2 * n);
                for (int g = g0; g < g1; g++)
                    for (int c = 0; c < C; c++) {
                        const size_t i = (size_t)(g - g0) * C + c;
                        const double sdy = sum[i], sdyx = sum[n + i], rstd = save_rstd[g * C + c];
                        dbeta[c] += (float)sdy;
                        dgamma[c] += (float)(sdyx * rstd); /* Σ dy x̂ */
                        /* train: din = γ rstd (dy − Σdy/M − x̂ Σ(dy x̂)/M); eval: γ rstd dy */
                        k[i] = gamma[c] * (float)rstd;
                        mdy[i] = mode == BN_TRAIN ? (float)(sdy / M) : 0.0f;
                        cx[i] = mode == BN_TRAIN ? (float)(sdyx * rstd * rstd / M) : 0.0f;
                    }
            }
#pragma omp barrier
            if (din)
                for (int g = g0; g < g1; g++) {
                    size_t lo, hi;
                    thread_rows((size_t)g * rows, rows, t, T, &lo, &hi);
                    const size_t i = (size_t)(g - g0) * C;
                    for (int c0 = 0; c0 < C; c0 += BN_TILE) {
                        const int tc = C - c0 < BN_TILE ? C - c0 : BN_TILE;
                        bn_din_rows(din, dout, out, in, lo, hi, C, c0, tc, k + i + c0, mdy + i + c0,
                                    cx + i + c0, save_mean + g * C + c0, s->din_set, s->bf16);
                    }
                }
#pragma omp barrier /* the master's next chunk overwrites k, mdy, cx */
        }
    }
}

/* ---- pools ---- */

/* Max-pool over fp32 or (half) bf16 storage: bf16 compares its widened values (widening keeps the
 * order) and copies the maximum as it is. */
CPU_INLINE void maxpool_body(void *out, int *argmax, const void *in, const PoolShape *s, int half)
{
    const int C = s->C, H = s->H, W = s->W, Ho = s->H_out, Wo = s->W_out;
#pragma omp parallel for schedule(static)
    for (long p = 0; p < (long)s->N * Ho * Wo; p++) {
        const int n = (int)(p / ((long)Ho * Wo)), oh = (int)(p / Wo % Ho), ow = (int)(p % Wo);
        const int h0 = oh * s->stride - s->pad, w0 = ow * s->stride - s->pad;
        const size_t y = (size_t)p * C;
        int *arg = argmax + y; /* index within the (H, W) plane, per channel */
        for (int c = 0; c < C; c++) arg[c] = -1;
        for (int ih = h0 < 0 ? 0 : h0; ih < h0 + s->k && ih < H; ih++)
            for (int iw = w0 < 0 ? 0 : w0; iw < w0 + s->k && iw < W; iw++) {
                const size_t x = (((size_t)n * H + ih) * W + iw) * C;
                for (int c = 0; c < C; c++) {
                    const float v = act_ld(in, x + c, half);
                    if (arg[c] < 0 || v > act_ld(out, y + c, half) || isnan(v)) {
                        if (half)
                            ((uint16_t *)out)[y + c] = ((const uint16_t *)in)[x + c];
                        else
                            ((float *)out)[y + c] = v;
                        arg[c] = ih * W + iw;
                    }
                }
            }
    }
}

void maxpool_forward_nhwc(float *out, int *argmax, const float *in, const PoolShape *s)
{
    maxpool_body(out, argmax, in, s, 0);
}

void maxpool_forward_bf16_nhwc(uint16_t *out, int *argmax, const uint16_t *in, const PoolShape *s)
{
    maxpool_body(out, argmax, in, s, 1);
}

void maxpool_backward_nhwc(float *din, const float *dout, const int *argmax, const PoolShape *s)
{
    const int C = s->C;
    const size_t plane = (size_t)s->H * s->W, oplane = (size_t)s->H_out * s->W_out;
    /* samples are independent: a thread owns a sample's whole input gradient */
#pragma omp parallel for schedule(static)
    for (int n = 0; n < s->N; n++)
        for (size_t o = 0; o < oplane; o++) {
            const size_t p = (size_t)n * oplane + o;
            for (int c = 0; c < C; c++)
                din[((size_t)n * plane + argmax[p * C + c]) * C + c] += dout[p * C + c];
        }
}

/* Global average pool of fp32 or (half) bf16 storage, summed in double. */
CPU_INLINE void avgpool_body(float *out, const void *in, int N, int C, int HW, int half)
{
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        double sum[BN_TILE];
        for (int c0 = 0; c0 < C; c0 += BN_TILE) {
            const int tc = C - c0 < BN_TILE ? C - c0 : BN_TILE;
            for (int c = 0; c < tc; c++) sum[c] = 0.0;
            for (int i = 0; i < HW; i++) {
                const size_t x = ((size_t)n * HW + i) * C + c0;
                for (int c = 0; c < tc; c++)
                    sum[c] += act_ld(in, x + c, half);
            }
            for (int c = 0; c < tc; c++) out[(size_t)n * C + c0 + c] = (float)(sum[c] / HW);
        }
    }
}

void avgpool_forward_nhwc(float *out, const float *in, int N, int C, int HW)
{
    avgpool_body(out, in, N, C, HW, 0);
}

void avgpool_forward_bf16_nhwc(float *out, const uint16_t *in, int N, int C, int HW)
{
    avgpool_body(out, in, N, C, HW, 1);
}

void avgpool_backward_nhwc(float *din, const float *dout, int N, int C, int HW)
{
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++)
        for (int i = 0; i < HW; i++) {
            float *dx = din + ((size_t)n * HW + i) * C;
            const float *g = dout + (size_t)n * C;
#pragma omp simd
            for (int c = 0; c < C; c++) dx[c] += g[c] / (float)HW;
        }
}

void from_nchw_cpu(float *out, const float *in, int N, int C, int HW)
{
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int i = 0; i < HW; i++)
                out[((size_t)n * HW + i) * C + c] = in[((size_t)n * C + c) * HW + i];
}

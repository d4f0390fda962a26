/* nhwc.c — the CPU backend's layout-dependent layers in channels-last layout (core/nn/nn.h
 * "Layout"): batch normalisation (train/eval, split-BN groups, fused ReLU, first-writer
 * gradients), max-pool, global average pool, and the network input's NCHW → NHWC transpose.
 * Formulas as core/nn/nn.h and core/backend/ref/layers.c (the spec they are tested against).
 *
 * A (N, C, H, W) tensor is N·HW rows of C contiguous floats; a split-BN group is the contiguous
 * run of (N/G)·HW rows of its samples. Per-channel sums run down the rows with C-wide vector adds,
 * a tile of at most BN_TILE channels at a time (its partial sums live on the stack).
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
#define BN_TILE 256       /* channels per pass */
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

/* Per channel c of the tile [c0, c0 + tc) of rows [lo, hi) of x: s1 += Σ(x − K), s2 += Σ(x − K)². */
static void moment_rows(double *s1, double *s2, const float *x, size_t lo, size_t hi, int C,
                        int c0, int tc, const float *K)
{
    float a[BN_TILE], b[BN_TILE];
    for (size_t r = lo; r < hi;) {
        const size_t end = r + BN_BLOCK < hi ? r + BN_BLOCK : hi;
        memset(a, 0, sizeof a), memset(b, 0, sizeof b);
        for (; r < end; r++) {
            const float *row = x + r * C + c0;
#pragma omp simd
            for (int c = 0; c < tc; c++) {
                const float v = row[c] - K[c];
                a[c] += v;
                b[c] += v * v;
            }
        }
        for (int c = 0; c < tc; c++) s1[c] += a[c], s2[c] += b[c];
    }
}

/* Per channel of the tile, over rows [lo, hi): sdy += Σ g and sdyx += Σ g·(x − mean), with g = dy
 * gated by a fused ReLU's output (g = dy where out > 0) when `out` is not NULL. */
static void grad_rows(double *sdy, double *sdyx, const float *dy, const float *out, const float *x,
                      size_t lo, size_t hi, int C, int c0, int tc, const float *mean)
{
    float a[BN_TILE], b[BN_TILE];
    for (size_t r = lo; r < hi;) {
        const size_t end = r + BN_BLOCK < hi ? r + BN_BLOCK : hi;
        memset(a, 0, sizeof a), memset(b, 0, sizeof b);
        for (; r < end; r++) {
            const size_t o = r * C + c0;
            if (out) {
#pragma omp simd
                for (int c = 0; c < tc; c++) {
                    const float g = out[o + c] > 0.0f ? dy[o + c] : 0.0f;
                    a[c] += g;
                    b[c] += g * (x[o + c] - mean[c]);
                }
            } else {
#pragma omp simd
                for (int c = 0; c < tc; c++) {
                    a[c] += dy[o + c];
                    b[c] += dy[o + c] * (x[o + c] - mean[c]);
                }
            }
        }
        for (int c = 0; c < tc; c++) sdy[c] += a[c], sdyx[c] += b[c];
    }
}

/* Which reduction a tile pass runs over a group's rows. */
typedef enum { REDUCE_MOMENTS, REDUCE_GRADS } Reduce;

typedef struct {
    Reduce kind;
    const float *x, *dy, *out; /* dy, out: REDUCE_GRADS (out NULL without a fused ReLU) */
    const float *ref;          /* (tc) the shift K (moments) or the group's mean (grads) */
} ReduceArgs;

/* r1, r2 (tc doubles each) = the tile's two sums over rows [r0, r0 + n), threads in order. */
static void reduce_tile(double *r1, double *r2, const ReduceArgs *a, size_t r0, size_t n, int C,
                        int c0, int tc)
{
    double part[BN_MAX_THREADS][2][BN_TILE];
    int T = 1;
#pragma omp parallel
    {
        const int t = THREAD_ID();
        ASSERT(THREADS() <= BN_MAX_THREADS);
        if (t == 0) T = THREADS();
        size_t lo, hi;
        thread_rows(r0, n, t, THREADS(), &lo, &hi);
        double *p1 = part[t][0], *p2 = part[t][1];
        for (int c = 0; c < tc; c++) p1[c] = p2[c] = 0.0;
        if (a->kind == REDUCE_MOMENTS)
            moment_rows(p1, p2, a->x, lo, hi, C, c0, tc, a->ref);
        else
            grad_rows(p1, p2, a->dy, a->out, a->x, lo, hi, C, c0, tc, a->ref);
    }
    for (int c = 0; c < tc; c++) {
        r1[c] = r2[c] = 0.0;
        for (int t = 0; t < T; t++) r1[c] += part[t][0][c], r2[c] += part[t][1][c];
    }
}

/* Batch statistics of every (group, channel) into save_mean / save_rstd, and the running update
 * with the mean over groups of each group's unbiased update (MoCo's SplitBatchNorm). */
static void bn_train_stats_nhwc(float *save_mean, float *save_rstd, const float *in,
                                float *running_mean, float *running_var, const BnShape *s)
{
    const int C = s->C, G = s->groups;
    const size_t rows = (size_t)(s->N / G) * s->HW;
    const double M = (double)rows;
    ASSERT(M > 1.0); /* the unbiased variance needs two values per channel */
    for (int c0 = 0; c0 < C; c0 += BN_TILE) {
        const int tc = C - c0 < BN_TILE ? C - c0 : BN_TILE;
        double mean_sum[BN_TILE] = {0}, uvar_sum[BN_TILE] = {0}, s1[BN_TILE], s2[BN_TILE];
        for (int g = 0; g < G; g++) {
            const float *K = in + (size_t)g * rows * C + c0; /* the group's first row */
            ReduceArgs a = {.kind = REDUCE_MOMENTS, .x = in, .ref = K};
            reduce_tile(s1, s2, &a, (size_t)g * rows, rows, C, c0, tc);
            for (int c = 0; c < tc; c++) {
                const double m = s1[c] / M, v = fmax(s2[c] / M - m * m, 0.0);
                const double mean = K[c] + m;
                save_mean[g * C + c0 + c] = (float)mean;
                save_rstd[g * C + c0 + c] = (float)(1.0 / sqrt(v + s->eps));
                mean_sum[c] += mean;
                uvar_sum[c] += v * M / (M - 1.0);
            }
        }
        for (int c = 0; c < tc; c++) {
            float *rm = running_mean + c0 + c, *rv = running_var + c0 + c;
            *rm = (float)((1.0 - s->momentum) * *rm + s->momentum * mean_sum[c] / G);
            *rv = (float)((1.0 - s->momentum) * *rv + s->momentum * uvar_sum[c] / G);
        }
    }
}

void batchnorm_forward_nhwc(float *out, float *save_mean, float *save_rstd, const float *in,
                            const float *gamma, const float *beta, float *running_mean,
                            float *running_var, const BnShape *s, BnMode mode)
{
    const int C = s->C, G = s->groups;
    ASSERT(G >= 1 && s->N % G == 0);
    const size_t rows = (size_t)(s->N / G) * s->HW;
    if (mode == BN_TRAIN) {
        bn_train_stats_nhwc(save_mean, save_rstd, in, running_mean, running_var, s);
    } else {
        for (int g = 0; g < G; g++)
            for (int c = 0; c < C; c++) {
                save_mean[g * C + c] = running_mean[c];
                save_rstd[g * C + c] = (float)(1.0 / sqrt((double)running_var[c] + s->eps));
            }
    }
    const int relu = s->relu;
#pragma omp parallel
    {
        float a[BN_TILE], b[BN_TILE];
        for (int g = 0; g < G; g++) {
            size_t lo, hi;
            thread_rows((size_t)g * rows, rows, THREAD_ID(), THREADS(), &lo, &hi);
            for (int c0 = 0; c0 < C; c0 += BN_TILE) {
                const int tc = C - c0 < BN_TILE ? C - c0 : BN_TILE;
                /* out = (x − mean) · rstd · γ + β = x · a + b */
                for (int c = 0; c < tc; c++) {
                    a[c] = gamma[c0 + c] * save_rstd[g * C + c0 + c];
                    b[c] = beta[c0 + c] - save_mean[g * C + c0 + c] * a[c];
                }
                for (size_t r = lo; r < hi; r++) {
                    const float *x = in + r * C + c0;
                    float *y = out + r * C + c0;
                    if (relu) {
#pragma omp simd
                        for (int c = 0; c < tc; c++) {
                            const float v = x[c] * a[c] + b[c];
                            y[c] = v > 0.0f ? v : 0.0f;
                        }
                    } else {
#pragma omp simd
                        for (int c = 0; c < tc; c++) y[c] = x[c] * a[c] + b[c];
                    }
                }
            }
        }
    }
}

/* din over rows [lo, hi) of the tile: k (g − mdy − (x − mean) cx), written or added. */
static void bn_din_rows(float *din, const float *dy, const float *out, const float *x, size_t lo,
                        size_t hi, int C, int c0, int tc, const float *k, const float *mdy,
                        const float *cx, const float *mean, int set)
{
    for (size_t r = lo; r < hi; r++) {
        const size_t o = r * C + c0;
#pragma omp simd
        for (int c = 0; c < tc; c++) {
            const float g = out && !(out[o + c] > 0.0f) ? 0.0f : dy[o + c];
            const float d = k[c] * (g - mdy[c] - (x[o + c] - mean[c]) * cx[c]);
            din[o + c] = set ? d : din[o + c] + d;
        }
    }
}

void batchnorm_backward_nhwc(float *din, float *dgamma, float *dbeta, const float *dout,
                             const float *in, const float *save_mean, const float *save_rstd,
                             const float *gamma, const float *out, const BnShape *s, BnMode mode)
{
    ASSERT(!s->relu || out);
    if (!s->relu) out = NULL;
    const int C = s->C, G = s->groups;
    const size_t rows = (size_t)(s->N / G) * s->HW;
    const double M = (double)rows;
    for (int g = 0; g < G; g++)
        for (int c0 = 0; c0 < C; c0 += BN_TILE) {
            const int tc = C - c0 < BN_TILE ? C - c0 : BN_TILE;
            const float *mean = save_mean + g * C + c0, *rstd = save_rstd + g * C + c0;
            double sdy[BN_TILE], sdyx[BN_TILE];
            ReduceArgs a = {.kind = REDUCE_GRADS, .x = in, .dy = dout, .out = out, .ref = mean};
            reduce_tile(sdy, sdyx, &a, (size_t)g * rows, rows, C, c0, tc);
            float k[BN_TILE], mdy[BN_TILE], cx[BN_TILE];
            for (int c = 0; c < tc; c++) {
                dbeta[c0 + c] += (float)sdy[c];
                dgamma[c0 + c] += (float)(sdyx[c] * rstd[c]); /* Σ dy x̂ */
                /* train: din = γ rstd (dy − Σdy/M − x̂ Σ(dy x̂)/M); eval: din = γ rstd dy */
                k[c] = gamma[c0 + c] * rstd[c];
                mdy[c] = mode == BN_TRAIN ? (float)(sdy[c] / M) : 0.0f;
                cx[c] = mode == BN_TRAIN ? (float)(sdyx[c] * rstd[c] * rstd[c] / M) : 0.0f;
            }
            if (!din) continue;
#pragma omp parallel
            {
                size_t lo, hi;
                thread_rows((size_t)g * rows, rows, THREAD_ID(), THREADS(), &lo, &hi);
                bn_din_rows(din, dout, out, in, lo, hi, C, c0, tc, k, mdy, cx, mean, s->din_set);
            }
        }
}

/* ---- pools ---- */

void maxpool_forward_nhwc(float *out, int *argmax, const float *in, const PoolShape *s)
{
    const int C = s->C, H = s->H, W = s->W, Ho = s->H_out, Wo = s->W_out;
#pragma omp parallel for schedule(static)
    for (long p = 0; p < (long)s->N * Ho * Wo; p++) {
        const int n = (int)(p / ((long)Ho * Wo)), oh = (int)(p / Wo % Ho), ow = (int)(p % Wo);
        const int h0 = oh * s->stride - s->pad, w0 = ow * s->stride - s->pad;
        float *y = out + (size_t)p * C;
        int *arg = argmax + (size_t)p * C; /* index within the (H, W) plane, per channel */
        for (int c = 0; c < C; c++) arg[c] = -1;
        for (int ih = h0 < 0 ? 0 : h0; ih < h0 + s->k && ih < H; ih++)
            for (int iw = w0 < 0 ? 0 : w0; iw < w0 + s->k && iw < W; iw++) {
                const float *x = in + (((size_t)n * H + ih) * W + iw) * C;
                for (int c = 0; c < C; c++)
                    if (arg[c] < 0 || x[c] > y[c] || isnan(x[c])) y[c] = x[c], arg[c] = ih * W + iw;
            }
    }
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

void avgpool_forward_nhwc(float *out, const float *in, int N, int C, int HW)
{
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        double sum[BN_TILE];
        for (int c0 = 0; c0 < C; c0 += BN_TILE) {
            const int tc = C - c0 < BN_TILE ? C - c0 : BN_TILE;
            for (int c = 0; c < tc; c++) sum[c] = 0.0;
            for (int i = 0; i < HW; i++) {
                const float *x = in + ((size_t)n * HW + i) * C + c0;
                for (int c = 0; c < tc; c++) sum[c] += x[c];
            }
            for (int c = 0; c < tc; c++) out[(size_t)n * C + c0 + c] = (float)(sum[c] / HW);
        }
    }
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

/* batchnorm.c — batch normalisation over (N, C, HW), train and eval, with MoCo's split mode.
 *
 * Reference: torch.nn.BatchNorm2d / BatchNorm1d (biased batch variance to normalise, unbiased
 * variance for running_var, running = (1 - momentum) running + momentum batch); MoCo's
 * SplitBatchNorm (facebookresearch/moco, main_moco.py / the original Shuffle-BN emulation): the
 * batch is cut into G contiguous sub-batches of N/G samples, each normalised with its own
 * statistics, and the running statistics become the mean over groups of each group's update, which
 * equals one update with the group-averaged mean and unbiased variance.
 *
 * Per (group, channel) the statistics are reduced in float partial sums over one HW plane and added
 * up in double, so a sum over 256*32*32 values stays accurate without a slow scalar double loop.
 */
#include <math.h>

#include "core/common.h"
#include "core/backend/cpu/cpu.h"
#include "core/nn/nn.h"

/* Sum of x[0..n) with 8 independent float lanes (vectorisable, short dependency chains). */
static double plane_sum(const float *x, int n)
{
    float acc[8] = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++)
            acc[l] += x[i + l];
    double s = 0.0;
    for (; i < n; i++)
        s += x[i];
    for (int l = 0; l < 8; l++)
        s += acc[l];
    return s;
}

/* Sum of (x - m)² over x[0..n). */
static double plane_sqdev(const float *x, int n, float m)
{
    float acc[8] = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++)
            acc[l] += (x[i + l] - m) * (x[i + l] - m);
    double s = 0.0;
    for (; i < n; i++)
        s += (double)(x[i] - m) * (x[i] - m);
    for (int l = 0; l < 8; l++)
        s += acc[l];
    return s;
}

/* Sum of g and of g * (x - m) over n values, g = dy, or dy gated by a fused ReLU's output `out`
 * (relu_backward's rule: the gradient passes where out > 0) when `out` is not NULL. The two loops
 * are spelled out so each vectorises. */
static void plane_dsums(const float *dy, const float *out, const float *x, int n, float m,
                        double *sdy, double *sdyx)
{
    float a[8] = {0}, b[8] = {0};
    int i = 0;
    if (out) {
        for (; i + 8 <= n; i += 8)
            for (int l = 0; l < 8; l++) {
                const float g = out[i + l] > 0.0f ? dy[i + l] : 0.0f;
                a[l] += g;
                b[l] += g * (x[i + l] - m);
            }
    } else {
        for (; i + 8 <= n; i += 8)
            for (int l = 0; l < 8; l++) {
                a[l] += dy[i + l];
                b[l] += dy[i + l] * (x[i + l] - m);
            }
    }
    double s0 = 0.0, s1 = 0.0;
    for (; i < n; i++) {
        const float g = out && !(out[i] > 0.0f) ? 0.0f : dy[i];
        s0 += g;
        s1 += (double)g * (x[i] - m);
    }
    for (int l = 0; l < 8; l++) {
        s0 += a[l];
        s1 += b[l];
    }
    *sdy += s0;
    *sdyx += s1;
}

/* Batch statistics of every (group, channel), and the running-statistics update. */
static void bn_train_stats(float *save_mean, float *save_rstd, const float *in, float *running_mean,
                           float *running_var, const BnShape *s)
{
    const int C = s->C, HW = s->HW, G = s->groups, ng = s->N / G;
    const double M = (double)ng * HW;
    ASSERT(M > 1.0); /* the unbiased variance needs two values per channel */
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        double mean_sum = 0.0, uvar_sum = 0.0;
        for (int g = 0; g < G; g++) {
            double sum = 0.0, sq = 0.0;
            for (int n = g * ng; n < (g + 1) * ng; n++)
                sum += plane_sum(in + ((size_t)n * C + c) * HW, HW);
            float mean = (float)(sum / M);
            for (int n = g * ng; n < (g + 1) * ng; n++)
                sq += plane_sqdev(in + ((size_t)n * C + c) * HW, HW, mean);
            save_mean[g * C + c] = mean;
            save_rstd[g * C + c] = (float)(1.0 / sqrt(sq / M + s->eps));
            mean_sum += mean;
            uvar_sum += sq / (M - 1.0);
        }
        running_mean[c] =
            (float)((1.0 - s->momentum) * running_mean[c] + s->momentum * mean_sum / G);
        running_var[c] = (float)((1.0 - s->momentum) * running_var[c] + s->momentum * uvar_sum / G);
    }
}

void batchnorm_forward_cpu(float *out, float *save_mean, float *save_rstd, const float *in,
                       const float *gamma, const float *beta, float *running_mean,
                       float *running_var, const BnShape *s, BnMode mode)
{
    const int C = s->C, HW = s->HW, G = s->groups;
    ASSERT(G >= 1 && s->N % G == 0);
    const int ng = s->N / G;
    if (mode == BN_TRAIN) {
        bn_train_stats(save_mean, save_rstd, in, running_mean, running_var, s);
    } else {
        for (int g = 0; g < G; g++)
            for (int c = 0; c < C; c++) {
                save_mean[g * C + c] = running_mean[c];
                save_rstd[g * C + c] = (float)(1.0 / sqrt((double)running_var[c] + s->eps));
            }
    }
#pragma omp parallel for schedule(static)
    for (int n = 0; n < s->N; n++) {
        const int g = n / ng;
        for (int c = 0; c < C; c++) {
            /* out = (x - mean) * rstd * gamma + beta = x * a + b */
            const float a = gamma[c] * save_rstd[g * C + c];
            const float b = beta[c] - save_mean[g * C + c] * a;
            const float *x = in + ((size_t)n * C + c) * HW;
            float *y = out + ((size_t)n * C + c) * HW;
            if (s->relu) {
#pragma omp simd
                for (int i = 0; i < HW; i++) {
                    const float v = x[i] * a + b;
                    y[i] = v > 0.0f ? v : 0.0f;
                }
            } else {
#pragma omp simd
                for (int i = 0; i < HW; i++)
                    y[i] = x[i] * a + b;
            }
        }
    }
}

void batchnorm_backward_cpu(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                        const float *save_mean, const float *save_rstd, const float *gamma,
                        const float *out, const BnShape *s, BnMode mode)
{
    ASSERT(!s->relu || out);
    if (!s->relu) out = NULL;
    const int C = s->C, HW = s->HW, G = s->groups, ng = s->N / G;
    const double M = (double)ng * HW;
    /* Channels are independent: one thread owns a channel (its groups in order, as before). */
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        for (int g = 0; g < G; g++) {
            const float mean = save_mean[g * C + c], rstd = save_rstd[g * C + c];
            double sdy = 0.0, sdyx = 0.0; /* Σ dy and Σ dy (x - mean) over the group */
            for (int n = g * ng; n < (g + 1) * ng; n++) {
                size_t o = ((size_t)n * C + c) * HW;
                plane_dsums(dout + o, out ? out + o : NULL, in + o, HW, mean, &sdy, &sdyx);
            }
            dbeta[c] += (float)sdy;
            dgamma[c] += (float)(sdyx * rstd); /* Σ dy x̂ */
            if (!din) continue;
            const float k = gamma[c] * rstd;
            /* train: din = γ rstd (dy - Σdy/M - x̂ Σ(dy x̂)/M); eval: din = γ rstd dy */
            const float mdy = mode == BN_TRAIN ? (float)(sdy / M) : 0.0f;
            const float cx = mode == BN_TRAIN ? (float)(sdyx * rstd * rstd / M) : 0.0f;
            for (int n = g * ng; n < (g + 1) * ng; n++) {
                size_t o = ((size_t)n * C + c) * HW;
                const float *dy = dout + o, *x = in + o, *z = out ? out + o : NULL;
                float *dx = din + o;
                if (s->din_set) { /* dx is not read: it may hold anything */
                    if (z) {
#pragma omp simd
                        for (int i = 0; i < HW; i++)
                            dx[i] = k * ((z[i] > 0.0f ? dy[i] : 0.0f) - mdy - (x[i] - mean) * cx);
                    } else {
#pragma omp simd
                        for (int i = 0; i < HW; i++)
                            dx[i] = k * (dy[i] - mdy - (x[i] - mean) * cx);
                    }
                } else if (z) {
#pragma omp simd
                    for (int i = 0; i < HW; i++)
                        dx[i] += k * ((z[i] > 0.0f ? dy[i] : 0.0f) - mdy - (x[i] - mean) * cx);
                } else {
#pragma omp simd
                    for (int i = 0; i < HW; i++)
                        dx[i] += k * (dy[i] - mdy - (x[i] - mean) * cx);
                }
            }
        }
    }
}

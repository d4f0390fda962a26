/* contrast.c — InfoNCE forward/backward and the score statistics and histograms on the CPU
 * (OpenBLAS GEMMs); the formulas are in core/contrast/infonce.h and scores.h. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend/cpu/cpu.h"
#include "core/contrast/infonce.h"
#include "core/contrast/scores.h"

static float dot(const float *a, const float *b, int D)
{
    float s = 0.0f;
    for (int d = 0; d < D; d++) s += a[d] * b[d];
    return s;
}

/* Fills w->logits for `in`: positives, the queue block by one sgemm, the extras by sgemv. */
static void logits_fill(InfoNCE *w, const InfoNCEInput *in)
{
    const int N = w->N, D = w->D, K = w->K, L = w->L;
    const float invT = 1.0f / w->T;
    for (int n = 0; n < N; n++)
        w->logits[(size_t)n * L] = dot(in->q + (size_t)n * D, in->k + (size_t)n * D, D) * invT;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, K, D, invT, in->q, D, in->queue, D,
                0.0f, w->logits + 1, L);
    for (int n = 0; n < N && in->E > 0; n++)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, in->E, D, invT, in->extra + (size_t)n * in->E * D,
                    D, in->q + (size_t)n * D, 1, 0.0f, w->logits + (size_t)n * L + 1 + K, 1);
}

void infonce_forward_cpu(InfoNCE *w, const InfoNCEInput *in, double *stats)
{
    logits_fill(w, in);
    const int L = w->L;
    double loss = 0.0;
    int correct = 0;
    for (int n = 0; n < w->N; n++) {
        const float *l = w->logits + (size_t)n * L; /* (L,) */
        float *e = w->grad + (size_t)n * L;         /* (L,) */
        float mneg = l[1];
        for (int j = 2; j < L; j++) mneg = l[j] > mneg ? l[j] : mneg;
        correct += l[0] > mneg; /* strict: a tie with a negative is not a hit */
        float mx = l[0] > mneg ? l[0] : mneg;
        double sneg = 0.0;
        for (int j = 1; j < L; j++) {
            e[j] = expf(l[j] - mx);
            sneg += e[j];
        }
        e[0] = expf(l[0] - mx);
        w->row_max[n] = mx;
        w->neg_sum[n] = sneg;
        w->row_sum[n] = sneg + e[0];
        /* −log p_0 = log Σ_j exp(l_j − mx) − (l_0 − mx) */
        loss += log(w->row_sum[n]) - ((double)l[0] - mx);
    }
    stats[STEP_STAT_LOSS] = loss / w->N;
    stats[STEP_STAT_INST_ACC] = (double)correct / w->N;
}

void infonce_backward_cpu(InfoNCE *w, const InfoNCEInput *in, float *dq_hat, float *dk_hat)
{
    const int N = w->N, D = w->D, K = w->K, L = w->L, E = w->E;
    const float invT = 1.0f / w->T;
    for (int n = 0; n < N; n++) {
        float *g = w->grad + (size_t)n * L; /* (L,) exp → dL/dlogits */
        const float scale = (float)(1.0 / (w->row_sum[n] * N));
        for (int j = 0; j < L; j++) g[j] *= scale;
        g[0] -= 1.0f / N;
        const float g0 = g[0] * invT;
        const float *qn = in->q + (size_t)n * D, *kn = in->k + (size_t)n * D;
        float *dqn = dq_hat + (size_t)n * D;
        for (int d = 0; d < D; d++) dqn[d] += g0 * kn[d];
        if (dk_hat)
            for (int d = 0; d < D; d++) dk_hat[(size_t)n * D + d] += g0 * qn[d];
        if (E > 0)
            cblas_sgemv(CblasRowMajor, CblasTrans, E, D, invT, in->extra + (size_t)n * E * D, D,
                        g + 1 + K, 1, 1.0f, dqn, 1);
    }
    /* dq̂ (N, D) += (1/T) G_queue (N, K; stride L) × queuê (K, D) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, D, K, invT, w->grad + 1, L,
                in->queue, D, 1.0f, dq_hat, D);
}

/* ---- score statistics ---- */

void scores_compute_cpu(double *post, void *hist_v, const InfoNCE *w)
{
    ScoreHist *hist = hist_v;
    const int N = w->N, L = w->L, nneg = L - 1;
    const double T = w->T;
    double sp = 0, sp2 = 0, snm = 0, snv = 0, sep = 0, sen = 0;
    for (int n = 0; n < N; n++) {
        const float *l = w->logits + (size_t)n * L; /* (L,) */
        double s1 = 0.0, s2 = 0.0;
        for (int j = 1; j < L; j++) {
            double s = T * l[j];
            s1 += s;
            s2 += s * s;
            if (hist) scores_hist_count(hist->neg, &hist->neg_under, &hist->neg_over, s);
        }
        double mean = s1 / nneg;
        /* Negative scores are bounded (|s| ≤ 3), so the one-pass form loses nothing in double. */
        double var = nneg > 1 ? (s2 - s1 * mean) / (nneg - 1) : 0.0;
        double pos = T * l[0];
        if (hist) scores_hist_count(hist->pos, &hist->pos_under, &hist->pos_over, pos);
        sp += pos;
        sp2 += pos * pos;
        snm += mean;
        snv += var;
        sep += exp((double)l[0]);
        /* mean_j exp(l_j) = exp(row_max) Σ_j exp(l_j − row_max) / nneg */
        sen += exp(w->row_max[n]) * w->neg_sum[n] / nneg;
    }
    ScoreStats *out = (ScoreStats *)post;
    out->pos_mean = sp / N;
    out->pos_var = N > 1 ? (sp2 - sp * out->pos_mean) / (N - 1) : 0.0;
    out->neg_mean = snm / N;
    out->neg_var = snv / N;
    out->exp_pos_mean = sep / N;
    out->exp_neg_mean = sen / N;
}

void scores_pre_compute_cpu(double *pre, const float *q, const float *k, const float *queue, int N,
                            int D, int K, float *M, double *mu)
{
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, D, K, 1.0f / K, queue, D, 0.0f, M, D);
    for (int d = 0; d < D; d++) mu[d] = 0.0;
    for (int j = 0; j < K; j++)
        for (int d = 0; d < D; d++) mu[d] += queue[(size_t)j * D + d];
    for (int d = 0; d < D; d++) mu[d] /= K;
    double sp = 0, sp2 = 0, snm = 0, snv = 0;
    for (int n = 0; n < N; n++) {
        const float *qn = q + (size_t)n * D, *kn = k + (size_t)n * D;
        double pos = 0.0, m = 0.0, quad = 0.0;
        for (int a = 0; a < D; a++) {
            pos += (double)qn[a] * kn[a];
            m += (double)qn[a] * mu[a];
            double row = 0.0; /* Σ_{b>a} M_ab q_b: the upper triangle only */
            for (int b = a + 1; b < D; b++) row += (double)M[(size_t)a * D + b] * qn[b];
            quad += qn[a] * (2.0 * row + (double)M[(size_t)a * D + a] * qn[a]);
        }
        double var = (quad - m * m) * K / (K - 1);
        sp += pos;
        sp2 += pos * pos;
        snm += m;
        snv += var > 0.0 ? var : 0.0;
    }
    PreScoreStats *out = (PreScoreStats *)pre;
    out->pos_mean = sp / N;
    out->pos_var = N > 1 ? (sp2 - sp * out->pos_mean) / (N - 1) : 0.0;
    out->neg_mean = snm / N;
    out->neg_var = snv / N;
}

void scores_pre_hist_cpu(void *hist_v, const float *q, const float *k, const float *queue, int N,
                         int D, int K, float *block)
{
    ScoreHist *hist = hist_v;
    for (int n = 0; n < N; n++) {
        double s = 0.0;
        for (int d = 0; d < D; d++) s += (double)q[(size_t)n * D + d] * k[(size_t)n * D + d];
        scores_hist_count(hist->pos, &hist->pos_under, &hist->pos_over, s);
    }
    for (int j0 = 0; j0 < K; j0 += SCORES_PRE_BLOCK) {
        const int kb = K - j0 < SCORES_PRE_BLOCK ? K - j0 : SCORES_PRE_BLOCK;
        /* block (N, kb) = q (N, D) · queue[j0 : j0 + kb]ᵀ */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, kb, D, 1.0f, q, D,
                    queue + (size_t)j0 * D, D, 0.0f, block, kb);
        for (size_t i = 0; i < (size_t)N * kb; i++)
            scores_hist_count(hist->neg, &hist->neg_under, &hist->neg_over, block[i]);
    }
}

/* scores.c — per-step score statistics and per-epoch histograms (PAPER.md §3); see scores.h. */
#include "core/contrast/scores.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"

#define HIST_SCALE (SCORES_HIST_BINS / (SCORES_HIST_HI - SCORES_HIST_LO))

void scores_hist_reset(ScoreHist *h) { memset(h, 0, sizeof *h); }

double scores_hist_bin_lo(int b) { return SCORES_HIST_LO + (double)b / HIST_SCALE; }

double scores_hist_bin_hi(int b) { return SCORES_HIST_LO + (double)(b + 1) / HIST_SCALE; }

static inline int hist_bin(double s)
{
    if (!(s >= SCORES_HIST_LO)) return -1;
    if (s >= SCORES_HIST_HI) return SCORES_HIST_BINS;
    int b = (int)((s - SCORES_HIST_LO) * HIST_SCALE); /* ≥ 0 here, so truncation is floor */
    return b < SCORES_HIST_BINS ? b : SCORES_HIST_BINS - 1; /* rounding just below HI */
}

int scores_hist_bin(double s) { return hist_bin(s); }

static inline void hist_add(uint64_t *bins, uint64_t *under, uint64_t *over, double s)
{
    int b = hist_bin(s);
    if (b < 0)
        (*under)++;
    else if (b >= SCORES_HIST_BINS)
        (*over)++;
    else
        bins[b]++;
}

void scores_compute(ScoreStats *out, ScoreHist *hist, const InfoNCE *w)
{
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
            if (hist) hist_add(hist->neg, &hist->neg_under, &hist->neg_over, s);
        }
        double mean = s1 / nneg;
        /* Negative scores are bounded (|s| ≤ 3), so the one-pass form loses nothing in double. */
        double var = nneg > 1 ? (s2 - s1 * mean) / (nneg - 1) : 0.0;
        double pos = T * l[0];
        if (hist) hist_add(hist->pos, &hist->pos_under, &hist->pos_over, pos);
        sp += pos;
        sp2 += pos * pos;
        snm += mean;
        snv += var;
        sep += exp((double)l[0]);
        /* mean_j exp(l_j) = exp(row_max) Σ_j exp(l_j − row_max) / nneg */
        sen += exp(w->row_max[n]) * w->neg_sum[n] / nneg;
    }
    out->pos_mean = sp / N;
    out->pos_var = N > 1 ? (sp2 - sp * out->pos_mean) / (N - 1) : 0.0;
    out->neg_mean = snm / N;
    out->neg_var = snv / N;
    out->exp_pos_mean = sep / N;
    out->exp_neg_mean = sen / N;
}

void scores_pre_init(PreScores *p, int D)
{
    p->D = D;
    p->M = xaligned_alloc((size_t)D * D * sizeof(float));
    p->mu = xcalloc((size_t)D, sizeof(double));
}

void scores_pre_free(PreScores *p)
{
    free(p->M);
    free(p->mu);
    p->M = NULL;
    p->mu = NULL;
}

void scores_pre_compute(PreScores *p, PreScoreStats *out, const float *q, const float *k,
                        const float *queue, int N, int K)
{
    const int D = p->D;
    ASSERT(N > 0 && D > 0 && K > 1);
    const float *M = p->M;
    const double *mu = p->mu;
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, D, K, 1.0f / K, queue, D, 0.0f, p->M, D);
    for (int d = 0; d < D; d++) p->mu[d] = 0.0;
    for (int j = 0; j < K; j++)
        for (int d = 0; d < D; d++) p->mu[d] += queue[(size_t)j * D + d];
    for (int d = 0; d < D; d++) p->mu[d] /= K;
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
    out->pos_mean = sp / N;
    out->pos_var = N > 1 ? (sp2 - sp * out->pos_mean) / (N - 1) : 0.0;
    out->neg_mean = snm / N;
    out->neg_var = snv / N;
}

void scores_pre_hist(ScoreHist *hist, const float *q, const float *k, const float *queue, int N,
                     int D, int K, float *block)
{
    for (int n = 0; n < N; n++) {
        double s = 0.0;
        for (int d = 0; d < D; d++) s += (double)q[(size_t)n * D + d] * k[(size_t)n * D + d];
        hist_add(hist->pos, &hist->pos_under, &hist->pos_over, s);
    }
    for (int j0 = 0; j0 < K; j0 += SCORES_PRE_BLOCK) {
        const int kb = K - j0 < SCORES_PRE_BLOCK ? K - j0 : SCORES_PRE_BLOCK;
        /* block (N, kb) = q (N, D) · queue[j0 : j0 + kb]ᵀ */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, kb, D, 1.0f, q, D,
                    queue + (size_t)j0 * D, D, 0.0f, block, kb);
        for (size_t i = 0; i < (size_t)N * kb; i++)
            hist_add(hist->neg, &hist->neg_under, &hist->neg_over, block[i]);
    }
}

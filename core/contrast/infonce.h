/* infonce.h — MoCo logits and the InfoNCE loss with its backward (PAPER.md §1; Oord et al. 2018;
 * He et al. CVPR 2020, Algorithm 1).
 *
 *     logits[n] = [ q̂_n·k̂_n,  q̂_n·queuê_0 .. q̂_n·queuê_{K-1},  q̂_n·extra_{n,0} .. q̂_n·extra_{n,E-1} ] / T
 *     loss      = mean_n ( logsumexp(logits[n]) − logits[n][0] )        (cross-entropy, label 0)
 *     inst_acc  = fraction of rows whose positive logit is STRICTLY larger than every other logit
 *
 * The queue part is one row-major GEMM (q̂ (N, D) × queuêᵀ (D, K), alpha = 1/T, written straight
 * into the logits with ldc = 1+K+E); the per-query extra negatives (MoCHi) are one GEMV per row.
 * The log-softmax subtracts the row maximum (numerically stable for any T). The kernels are the
 * backend's infonce_forward / infonce_backward (core/backend/cpu/contrast.c, ref/contrast.c).
 *
 * Backward (the loss is the last node, dL = 1): with p = softmax(logits) and g = (p − e_0) / N,
 *     dq̂_n += (1/T) (g_n0 k̂_n + Σ_j g_n,1+j queuê_j + Σ_e g_n,1+K+e extra_{n,e})
 *     dk̂_n += (1/T) g_n0 q̂_n
 * Gradients ACCUMULATE (+=, STYLE.md rule 9). The queue and the extras receive no gradient.
 *
 * All buffers live on the backend and are allocated once in infonce_init for the largest E the
 * run will use (E_max). Loss and instance accuracy are written to the step statistics
 * (backend.h STEP_STAT_LOSS, STEP_STAT_INST_ACC), downloaded by the caller with the score moments.
 */
#ifndef CLFT_INFONCE_H
#define CLFT_INFONCE_H

#include "core/backend/backend.h"

typedef struct InfoNCEInput {
    const float *q;     /* (N, D) q̂ */
    const float *k;     /* (N, D) k̂ */
    const float *queue; /* (K, D) queuê */
    const float *extra; /* (N, E, D) per-query extra negatives, or NULL when E = 0 */
    int E;              /* 0 ≤ E ≤ E_max */
} InfoNCEInput;

typedef struct InfoNCE {
    const Backend *be;
    int N, D, K, E_max;
    float T;
    int E, L;         /* E of the last forward and the row stride L = 1 + K + E */
    float *logits;    /* (N, L) — capacity (N, 1+K+E_max) — the logits of the last forward */
    float *grad;      /* (N, L) the backend's between forward and backward (exp(logit − row_max) or
                         already dL/dlogits); dL/dlogits after backward */
    double *row_max;  /* (N,) max_j logits[n][j] */
    double *neg_sum;  /* (N,) Σ_{j≥1} exp(logits[n][j] − row_max[n]) */
    double *row_sum;  /* (N,) neg_sum + exp(logits[n][0] − row_max[n]) */
    double *rows;     /* (INFONCE_ROW_SCRATCH · N) per-row partial results of the backend's kernels */
} InfoNCE;

#define INFONCE_ROW_SCRATCH 5 /* doubles per row of InfoNCE.rows */

void infonce_init(InfoNCE *w, const Backend *be, int N, int D, int K, int E_max, float T);
void infonce_free(InfoNCE *w);
/* Computes logits and softmax terms of `in` into w, the mean loss and the instance accuracy into
 * stats[STEP_STAT_LOSS] and stats[STEP_STAT_INST_ACC], and — in the same pass over the logits —
 * the score statistics of core/contrast/scores.h into stats[STEP_STAT_POST ..] (6 doubles), adding
 * the scores to *hist when hist is not NULL (stats and hist: backend buffers). */
struct ScoreHist;
void infonce_forward(InfoNCE *w, const InfoNCEInput *in, double *stats, struct ScoreHist *hist);
/* dq_hat (N, D) += dL/dq̂ and dk_hat (N, D) += dL/dk̂ for the SAME `in` as the last forward.
 * Call once per forward: it turns w->grad into dL/dlogits in place. dk_hat may be NULL. */
void infonce_backward(InfoNCE *w, const InfoNCEInput *in, float *dq_hat, float *dk_hat);

#endif

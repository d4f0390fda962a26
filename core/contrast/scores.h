/* scores.h — the positive/negative score statistics of PAPER.md §3 (the paper's visualisation).
 *
 * Per query n of a step, from raw dot products s = q̂·x BEFORE the division by T (recovered from
 * the InfoNCE logits as T·logit, so no dot product is computed twice), the official code records
 *     neg mean  = mean over the K+E negatives of s_n,j
 *     neg var   = variance over the K+E negatives (unbiased, ÷(K+E−1), as torch.var)
 *     pos       = s_n,0
 *     exp neg   = mean over the negatives of exp(s_n,j / T)
 *     exp pos   = exp(s_n,0 / T)
 * and a step's ScoreStats row aggregates them over the batch:
 *     pos_mean = batch mean of pos            pos_var  = batch variance of pos (unbiased, ÷(N−1))
 *     neg_mean = batch mean of neg mean       neg_var  = batch mean of neg var
 *     exp_pos_mean, exp_neg_mean = batch means of exp pos and exp neg.
 * With FT on these are the TRANSFORMED scores (PAPER.md §2.6). All accumulation is in double.
 * Cost: one pass over the (N, 1+K+E) logits; exp terms come from InfoNCE's row sums.
 *
 * Histograms (per epoch, accumulated over steps): SCORES_HIST_BINS = 100 bins of width 0.04 over
 * [−2, 2): bin b covers [−2 + 0.04 b, −2 + 0.04 (b+1)). Unit-norm scores live in [−1, 1];
 * FT moves them outside (‖q̂‖ reaches √(1 + 2λ(λ−1)(1−s)) ≤ 3 for λ ∈ [1, 2]), so scores below −2
 * are counted in `under` and scores ≥ 2 in `over` (NaN counts as under), never folded into the
 * edge bins. score_hist.csv can write them as rows (-inf, -2) and (2, inf).
 *
 * Pre-transform statistics (scores_pre_compute): pos_mean/pos_var/neg_mean/neg_var of q·k and
 * q·queueᵀ on the ORIGINAL features, for the trainer to log beside the transformed ones when the
 * variant is not the identity. They use the queue's first two moments instead of the N × K score
 * matrix:  mean_j q·x_j = q·μ  and  var_j q·x_j = (K/(K−1)) (qᵀ M q − (q·μ)²)  with μ = mean row,
 * M = (1/K) Σ_j x_j x_jᵀ (one SYRK, K·D² flops, a quarter of the logits sgemm at N = 256,
 * D = 128, plus N·D² for the quadratic forms). Exact up to float rounding (pinned by a test
 * against the direct computation).
 *
 * The kernels are backend ops (scores_compute, scores_pre_compute, scores_pre_hist): the moments are
 * written into the step statistics block on the backend (backend.h STEP_STAT_POST / _PRE) and the
 * histograms accumulate in a ScoreHist that lives on the backend, downloaded at the epoch's end.
 */
#ifndef CLFT_SCORES_H
#define CLFT_SCORES_H

#include <stdint.h>

#include "core/contrast/infonce.h"

#define SCORES_HIST_BINS 100
#define SCORES_HIST_LO (-2.0)
#define SCORES_HIST_HI 2.0

typedef struct {
    double pos_mean, pos_var, neg_mean, neg_var, exp_pos_mean, exp_neg_mean;
} ScoreStats;

typedef struct {
    uint64_t pos[SCORES_HIST_BINS]; /* counts of positive scores per bin */
    uint64_t neg[SCORES_HIST_BINS]; /* counts of negative scores per bin */
    uint64_t pos_under, pos_over, neg_under, neg_over;
} ScoreHist;

typedef struct {
    double pos_mean, pos_var, neg_mean, neg_var;
} PreScoreStats;

/* The backend ops write these through a double * into the step statistics block. */
_Static_assert(sizeof(ScoreStats) == 6 * sizeof(double), "ScoreStats is 6 doubles");
_Static_assert(sizeof(PreScoreStats) == 4 * sizeof(double), "PreScoreStats is 4 doubles");

/* Statistics of the last infonce_forward of w into post (6 doubles on w's backend); when hist (a
 * ScoreHist on the backend) is not NULL the scores are added to it. */
void scores_compute(double *post, ScoreHist *hist, const InfoNCE *w);
void scores_hist_reset(ScoreHist *h);
/* Lower / upper edge of bin b. */
double scores_hist_bin_lo(int b);
double scores_hist_bin_hi(int b);
/* Bin of score s, or −1 (under, NaN) / SCORES_HIST_BINS (over). */
static inline int scores_hist_bin(double s)
{
    const double scale = SCORES_HIST_BINS / (SCORES_HIST_HI - SCORES_HIST_LO);
    if (!(s >= SCORES_HIST_LO)) return -1;
    if (s >= SCORES_HIST_HI) return SCORES_HIST_BINS;
    int b = (int)((s - SCORES_HIST_LO) * scale); /* ≥ 0 here, so truncation is floor */
    return b < SCORES_HIST_BINS ? b : SCORES_HIST_BINS - 1; /* rounding just below HI */
}

/* Counts score s into bins / under / over (one of the pos or neg halves of a ScoreHist). */
static inline void scores_hist_count(uint64_t *bins, uint64_t *under, uint64_t *over, double s)
{
    int b = scores_hist_bin(s);
    if (b < 0)
        (*under)++;
    else if (b >= SCORES_HIST_BINS)
        (*over)++;
    else
        bins[b]++;
}

/* Workspace of scores_pre_compute on a backend, allocated once. */
typedef struct {
    const Backend *be;
    int D;
    float *M;     /* (D, D) upper triangle of (1/K) Σ_j x_j x_jᵀ */
    double *mu;   /* (D,) mean queue row */
} PreScores;

void scores_pre_init(PreScores *p, const Backend *be, int D);
void scores_pre_free(PreScores *p);
/* Pre-transform statistics of q (N, D), k (N, D) and queue (K, D), K > 1, into pre (4 doubles on
 * the backend). */
void scores_pre_compute(PreScores *p, double *pre, const float *q, const float *k,
                        const float *queue, int N, int K);

/* Histogram of the ORIGINAL scores q·k (pos) and q·queueᵀ (neg) — the pre-transform distribution a
 * variant changes — added into *hist. The N × K products are formed in blocks of
 * SCORES_PRE_BLOCK queue rows with a GEMM into `block` (N × SCORES_PRE_BLOCK floats, the
 * caller's), so the cost is one extra q·queueᵀ product and no allocation. */
#define SCORES_PRE_BLOCK 1024
void scores_pre_hist(const Backend *be, ScoreHist *hist, const float *q /* (N, D) */,
                     const float *k /* (N, D) */, const float *queue /* (K, D) */, int N, int D,
                     int K, float *block);

#endif

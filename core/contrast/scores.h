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
 * Pre-transform statistics (scores_pre): pos_mean/pos_var/neg_mean/neg_var of q·k and q·queueᵀ on
 * the ORIGINAL features, and their histogram, for the trainer to log beside the transformed ones
 * when the variant is not the identity. The N × K scores are formed in blocks of SCORES_PRE_BLOCK
 * queue rows (a GEMM into the workspace's block), each block's moments and bins taken while it is
 * in cache: one extra q·queueᵀ product a step, and no allocation. (A backend may instead use the
 * queue's first two moments, mean_j q·x_j = q·μ and var_j q·x_j = (K/(K−1)) (qᵀ M q − (q·μ)²)
 * with μ the mean row and M = (1/K) Σ_j x_j x_jᵀ, for the moments: the workspace has M and μ.)
 * Both are exact up to float rounding (pinned by a test against the direct computation).
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

typedef struct ScoreHist {
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

/* Per-row terms summed over a batch (in row order, for the same bits whatever the threads), and
 * the batch's ScoreStats / PreScoreStats from them: the one place the aggregation above is coded. */
typedef struct {
    double pos, pos2, neg_mean, neg_var, exp_pos, exp_neg;
} ScoreSums;

static inline void score_sums_add(ScoreSums *s, double pos, double neg_mean, double neg_var,
                                  double exp_pos, double exp_neg)
{
    s->pos += pos, s->pos2 += pos * pos, s->neg_mean += neg_mean, s->neg_var += neg_var;
    s->exp_pos += exp_pos, s->exp_neg += exp_neg;
}

static inline ScoreStats score_stats_of(const ScoreSums *s, int N)
{
    const double pos_mean = s->pos / N;
    return (ScoreStats){pos_mean, N > 1 ? (s->pos2 - s->pos * pos_mean) / (N - 1) : 0.0,
                        s->neg_mean / N, s->neg_var / N, s->exp_pos / N, s->exp_neg / N};
}

static inline PreScoreStats pre_score_stats_of(const ScoreSums *s, int N)
{
    const ScoreStats a = score_stats_of(s, N);
    return (PreScoreStats){a.pos_mean, a.pos_var, a.neg_mean, a.neg_var};
}

/* The statistics of the scores used in the loss are computed by infonce_forward, in its pass over
 * the logits (stats[STEP_STAT_POST ..] and the ScoreHist); the pre-transform ones below. */
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

/* Workspace of scores_pre on a backend, allocated once. */
#define SCORES_PRE_BLOCK 1024
typedef struct PreScores {
    const Backend *be;
    int N, D;
    float *block; /* (N, SCORES_PRE_BLOCK) q · a block of the queue's rows */
    double *rows; /* (2N) per-row sums of the scores and their squares */
    float *M;     /* (D, D) upper triangle of (1/K) Σ_j x_j x_jᵀ, for a backend that uses it */
    double *mu;   /* (D,) mean queue row, likewise */
} PreScores;

void scores_pre_init(PreScores *p, const Backend *be, int N, int D);
void scores_pre_free(PreScores *p);
/* Pre-transform statistics of q (N, D), k (N, D) and queue (K, D), K > 1, into pre (4 doubles on
 * the backend), and the scores q·k (pos) and q·queueᵀ (neg) added to *hist (a ScoreHist on the
 * backend; NULL: the statistics only). */
void scores_pre(PreScores *p, double *pre, ScoreHist *hist, const float *q, const float *k,
                const float *queue, int N, int K);

#endif

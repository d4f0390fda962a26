/* scores.c — per-step score statistics and per-epoch histograms (PAPER.md §3); see scores.h. The
 * kernels are backend ops; this file owns the histogram bins and the workspace. */
#include "core/contrast/scores.h"

#include <string.h>

#include "core/common.h"

#define HIST_SCALE (SCORES_HIST_BINS / (SCORES_HIST_HI - SCORES_HIST_LO))

void scores_hist_reset(ScoreHist *h) { memset(h, 0, sizeof *h); }

double scores_hist_bin_lo(int b) { return SCORES_HIST_LO + (double)b / HIST_SCALE; }

double scores_hist_bin_hi(int b) { return SCORES_HIST_LO + (double)(b + 1) / HIST_SCALE; }

void scores_pre_init(PreScores *p, const Backend *be, int N, int D)
{
    p->be = be;
    p->N = N;
    p->D = D;
    p->block = backend_alloc(be, (size_t)N * SCORES_PRE_BLOCK * sizeof(float));
    p->rows = backend_alloc(be, 2 * (size_t)N * sizeof(double));
    p->M = backend_alloc(be, (size_t)D * D * sizeof(float));
    p->mu = backend_alloc(be, (size_t)D * sizeof(double));
}

void scores_pre_free(PreScores *p)
{
    if (p->be) {
        backend_free(p->be, p->block);
        backend_free(p->be, p->rows);
        backend_free(p->be, p->M);
        backend_free(p->be, p->mu);
    }
    p->block = NULL;
    p->rows = p->mu = NULL;
    p->M = NULL;
}

void scores_pre(PreScores *p, double *pre, ScoreHist *hist, const float *q, const float *k,
                const float *queue, int N, int K)
{
    ASSERT(N > 0 && N <= p->N && p->D > 0 && K > 1);
    p->be->scores_pre(p, pre, hist, q, k, queue, N, K);
}

/* scores.c — per-step score statistics and per-epoch histograms (PAPER.md §3); see scores.h. The
 * kernels are backend ops; this file owns the histogram bins and the workspace. */
#include "core/contrast/scores.h"

#include <string.h>

#include "core/common.h"

#define HIST_SCALE (SCORES_HIST_BINS / (SCORES_HIST_HI - SCORES_HIST_LO))

void scores_hist_reset(ScoreHist *h) { memset(h, 0, sizeof *h); }

double scores_hist_bin_lo(int b) { return SCORES_HIST_LO + (double)b / HIST_SCALE; }

double scores_hist_bin_hi(int b) { return SCORES_HIST_LO + (double)(b + 1) / HIST_SCALE; }

void scores_compute(double *post, ScoreHist *hist, const InfoNCE *w)
{
    w->be->scores_compute(post, hist, w);
}

void scores_pre_init(PreScores *p, const Backend *be, int D)
{
    p->be = be;
    p->D = D;
    p->M = backend_alloc(be, (size_t)D * D * sizeof(float));
    p->mu = backend_alloc(be, (size_t)D * sizeof(double));
}

void scores_pre_free(PreScores *p)
{
    if (p->be) {
        backend_free(p->be, p->M);
        backend_free(p->be, p->mu);
    }
    p->M = NULL;
    p->mu = NULL;
}

void scores_pre_compute(PreScores *p, double *pre, const float *q, const float *k,
                        const float *queue, int N, int K)
{
    ASSERT(N > 0 && p->D > 0 && K > 1);
    p->be->scores_pre_compute(pre, q, k, queue, N, p->D, K, p->M, p->mu);
}

void scores_pre_hist(const Backend *be, ScoreHist *hist, const float *q, const float *k,
                     const float *queue, int N, int D, int K, float *block)
{
    be->scores_pre_hist(hist, q, k, queue, N, D, K, block);
}

/* topk.c — top-1 / top-5 accuracy from class scores (ranking rule in topk.h). */
#include "downstream/topk.h"

#include <math.h>

#include "core/common.h"

double topk_top1(const TopkCounts *c)
{
    return c->n > 0 ? (double)c->correct1 / (double)c->n : NAN;
}

double topk_top5(const TopkCounts *c)
{
    return c->n > 0 ? (double)c->correct5 / (double)c->n : NAN;
}

int topk_rank_of(const double *scores, int C, int label)
{
    ASSERT(label >= 0 && label < C);
    const double s = scores[label];
    int before = 0;
    for (int c = 0; c < C; c++)
        before += (scores[c] > s) || (scores[c] == s && c < label);
    return before;
}

int topk_argmax(const double *scores, int C)
{
    ASSERT(C > 0);
    int best = 0;
    for (int c = 1; c < C; c++)
        if (scores[c] > scores[best]) best = c; /* strict: ties keep the lower index */
    return best;
}

void topk_count(TopkCounts *c, const double *scores, int C, int label)
{
    int rank = topk_rank_of(scores, C, label);
    c->n++;
    c->correct1 += (rank == 0);
    c->correct5 += (rank < 5);
}

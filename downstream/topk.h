/* topk.h — top-1 / top-5 accuracy from class scores, shared by the kNN monitor and the linear
 * probe.
 *
 * Ranking rule (used everywhere in downstream/): classes are ordered by score, descending, and
 * equal scores by class index, ascending. So a prediction is always the lowest-indexed class among
 * those with the highest score, and "label in top 5" means fewer than 5 classes rank before the
 * label. With fewer than 5 classes every label is in the top 5.
 */
#ifndef CLFT_DOWNSTREAM_TOPK_H
#define CLFT_DOWNSTREAM_TOPK_H

/* Counts of correct top-1 / top-5 predictions over n samples. */
typedef struct {
    long n;
    long correct1;
    long correct5;
} TopkCounts;

/* Accuracy in [0, 1]; NaN when nothing was counted. */
double topk_top1(const TopkCounts *c);
double topk_top5(const TopkCounts *c);

/* Number of classes that rank strictly before `label` under the ranking rule. scores: (C). */
int topk_rank_of(const double *scores, int C, int label);
/* The top-1 class under the ranking rule. scores: (C). */
int topk_argmax(const double *scores, int C);
/* Adds one sample with class scores `scores` (C) and true label `label` to the counts. */
void topk_count(TopkCounts *c, const double *scores, int C, int label);

#endif

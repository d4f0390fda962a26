/* sampling.c — label-fraction and long-tailed subsets, shot groups and per-group accuracy
 * (definitions and references in sampling.h). */
#include "downstream/sampling.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"

/* rng_init(..., RNG_STREAM_EVAL, tag, class) tags (1 and 2 are the linear probe's). */
#define SAMPLING_TAG_FRACTION 3
#define SAMPLING_TAG_LONGTAIL 4

ClftStatus sampling_class_counts(const int *labels, int N, int C, int *counts)
{
    memset(counts, 0, (size_t)C * sizeof *counts);
    for (int i = 0; i < N; i++) {
        if (labels[i] < 0 || labels[i] >= C) {
            clft_set_error("sampling: label %d of sample %d outside [0, %d)", labels[i], i, C);
            return CLFT_ERR_VALUE;
        }
        counts[labels[i]]++;
    }
    return CLFT_OK;
}

int sampling_fraction_count(int n_c, double frac)
{
    long m = llround(frac * n_c);
    if (m < 1) m = 1;
    return m > n_c ? n_c : (int)m;
}

int sampling_longtail_count(int n_max, double rho, int c, int C)
{
    if (C == 1) return n_max;
    return (int)floor(n_max * pow(1.0 / rho, c / (C - 1.0)));
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Keeps keep[c] seeded-random samples of each class c (labels already checked): idx receives them
 * ascending. */
static void sampling_select(const int *labels, int N, int C, const int *keep, uint64_t seed,
                            int tag, int *idx, int *n_out)
{
    int *start =
        xcalloc((size_t)C + 1, sizeof *start); /* (C + 1): class c at [start[c], start[c+1]) */
    int *members =
        xmalloc((size_t)N * sizeof *members);      /* (N): indices grouped by class, in order */
    int *perm = xmalloc((size_t)N * sizeof *perm); /* (N) */
    for (int i = 0; i < N; i++)
        start[labels[i] + 1]++;
    for (int c = 0; c < C; c++)
        start[c + 1] += start[c];
    int *fill = xmalloc((size_t)C * sizeof *fill); /* (C): next free slot of each class */
    memcpy(fill, start, (size_t)C * sizeof *fill);
    for (int i = 0; i < N; i++)
        members[fill[labels[i]]++] = i;
    free(fill);
    int n = 0;
    for (int c = 0; c < C; c++) {
        const int nc = start[c + 1] - start[c];
        ASSERT(keep[c] <= nc);
        Rng r;
        rng_init(&r, seed, RNG_STREAM_EVAL, (uint64_t)tag, (uint64_t)c);
        rng_permutation(&r, perm, nc);
        for (int j = 0; j < keep[c]; j++)
            idx[n++] = members[start[c] + perm[j]];
    }
    qsort(idx, (size_t)n, sizeof *idx, cmp_int);
    *n_out = n;
    free(start), free(members), free(perm);
}

ClftStatus sampling_label_fraction(const int *labels, int N, int C, double frac, uint64_t seed,
                                   int *idx, int *n_out)
{
    if (!(frac > 0.0 && frac <= 1.0) || C <= 0 || N < 0) {
        clft_set_error("label fraction: fraction %g must be in (0, 1] (C=%d, N=%d)", frac, C, N);
        return CLFT_ERR_VALUE;
    }
    int *keep = xmalloc((size_t)C * sizeof *keep); /* (C) */
    ClftStatus st = sampling_class_counts(labels, N, C, keep);
    if (st == CLFT_OK) {
        for (int c = 0; c < C; c++)
            keep[c] = keep[c] ? sampling_fraction_count(keep[c], frac) : 0;
        sampling_select(labels, N, C, keep, seed, SAMPLING_TAG_FRACTION, idx, n_out);
    }
    free(keep);
    return st;
}

ClftStatus sampling_longtail(const int *labels, int N, int C, int n_max, double rho, uint64_t seed,
                             int *idx, int *n_out)
{
    if (!(rho >= 1.0) || C <= 0 || N < 0) {
        clft_set_error("long-tailed subset: imbalance ratio %g must be >= 1 (C=%d)", rho, C);
        return CLFT_ERR_VALUE;
    }
    int *have = xmalloc((size_t)C * sizeof *have); /* (C) available per class */
    int *keep = xmalloc((size_t)C * sizeof *keep); /* (C) n_c */
    ClftStatus st = sampling_class_counts(labels, N, C, have);
    if (st == CLFT_OK && n_max <= 0) {
        n_max = have[0];
        for (int c = 1; c < C; c++)
            n_max = have[c] < n_max ? have[c] : n_max;
    }
    for (int c = 0; st == CLFT_OK && c < C; c++) {
        keep[c] = sampling_longtail_count(n_max, rho, c, C);
        if (keep[c] > have[c]) {
            clft_set_error("long-tailed subset: class %d needs %d samples (n_max %d, rho %g) but "
                           "has %d",
                           c, keep[c], n_max, rho, have[c]);
            st = CLFT_ERR_VALUE;
        }
    }
    if (st == CLFT_OK) sampling_select(labels, N, C, keep, seed, SAMPLING_TAG_LONGTAIL, idx, n_out);
    free(have), free(keep);
    return st;
}

void sampling_shot_groups(const int *train_counts, int C, const GroupOptions *opt, ShotGroup *group)
{
    if (opt->rule == GROUP_RULE_THRESHOLD) {
        for (int c = 0; c < C; c++)
            group[c] = train_counts[c] > opt->many_above  ? SHOT_MANY
                       : train_counts[c] < opt->few_below ? SHOT_FEW
                                                          : SHOT_MEDIUM;
        return;
    }
    ASSERT(opt->rule == GROUP_RULE_TERCILE);
    const int third = (C + 1) / 3;
    for (int c = 0; c < C; c++) {
        /* rank of c by count descending, ties by class index ascending */
        int rank = 0;
        for (int o = 0; o < C; o++)
            rank +=
                train_counts[o] > train_counts[c] || (train_counts[o] == train_counts[c] && o < c);
        group[c] = rank < third ? SHOT_MANY : rank >= C - third ? SHOT_FEW : SHOT_MEDIUM;
    }
}

GroupAccuracy sampling_group_accuracy(const int *pred, const int *labels, int N,
                                      const ShotGroup *group, int C)
{
    GroupAccuracy a = {0};
    for (int i = 0; i < N; i++) {
        ASSERT(labels[i] >= 0 && labels[i] < C);
        const ShotGroup g = group[labels[i]];
        const int ok = pred[i] == labels[i];
        a.n[g]++, a.correct[g] += ok;
        a.n_all++, a.correct_all += ok;
    }
    return a;
}

double sampling_group_acc(const GroupAccuracy *a, ShotGroup g)
{
    long n = g == SHOT_N_GROUPS ? a->n_all : a->n[g];
    long k = g == SHOT_N_GROUPS ? a->correct_all : a->correct[g];
    return n > 0 ? (double)k / (double)n : NAN;
}

/* sampling.h — training subsets for the semi-supervised and long-tailed protocols, and the
 * many/medium/few-shot accuracy of the long-tailed protocol (PAPER.md §5; issue 6).
 *
 * Label fractions (semi-supervised 1% / 10%, class-balanced as SimCLR's ImageNet subsets):
 *   class c keeps n'_c = min(n_c, max(1, round(frac · n_c))) samples, round = halves away from zero
 *   (llround). Fashion-MNIST (6000 per class): 60 at 1%, 600 at 10%.
 *
 * Long-tailed (Cao et al. 2019, LDAM-DRW, CIFAR-LT's imbalance_cifar.py):
 *   class c keeps n_c = floor(n_max · (1/ρ)^(c / (C - 1))) samples, ρ = 100 by default, computed
 *   exactly as the reference code (int(img_max * (imb_factor ** (c / (C - 1.0))))). Fashion-MNIST
 *   with n_max = 6000, ρ = 100: 6000 3596 2156 1292 774 464 278 166 100 60.
 *
 * Which samples: for each class, a seeded uniform permutation of that class's samples (in dataset
 * order) from stream (RNG_STREAM_EVAL, a = tag, b = c), tag 3 for fractions and 4 for long-tailed
 * subsets; the first n'_c are kept. The permutation does not depend on the fraction, so with one
 * seed the 1% subset is contained in the 10% subset. Selected indices are returned sorted
 * ascending (dataset order).
 *
 * Shot groups (Liu et al. 2019, OLTR): on ImageNet-LT, many-shot classes have > 100 training
 * images, medium 20–100, few < 20 (GROUP_RULE_THRESHOLD with many_above = 100, few_below = 20).
 * Those absolute thresholds do not fit Fashion-MNIST-LT (n from 6000 to 60: 8 "many", 2 "medium",
 * 0 "few"), so the default is GROUP_RULE_TERCILE: classes sorted by training count (descending,
 * ties by class index) — the first floor((C + 1) / 3) are many-shot, the last floor((C + 1) / 3)
 * few-shot, the rest medium. C = 10 gives 3 / 4 / 3 (Fashion-MNIST-LT: ≥ 2156 / 278–1292 /
 * ≤ 166); C = 100 gives 33 / 34 / 33, close to what the absolute thresholds give on CIFAR-100-LT.
 *
 * Group accuracy is counted over test samples whose TRUE label is in the group (on a balanced test
 * set this equals the mean per-class accuracy of the group, as OLTR reports it).
 */
#ifndef CLFT_DOWNSTREAM_SAMPLING_H
#define CLFT_DOWNSTREAM_SAMPLING_H

#include <stdint.h>

#include "core/common.h"

#define SAMPLING_DEFAULT_RHO 100.0

typedef enum { SHOT_MANY = 0, SHOT_MEDIUM = 1, SHOT_FEW = 2, SHOT_N_GROUPS = 3 } ShotGroup;
typedef enum { GROUP_RULE_TERCILE = 0, GROUP_RULE_THRESHOLD } GroupRule;

typedef struct {
    GroupRule rule;
    int many_above; /* THRESHOLD: many-shot if count > many_above */
    int few_below;  /* THRESHOLD: few-shot if count < few_below */
} GroupOptions;

#define GROUP_OPTIONS_DEFAULT                                                                      \
    ((GroupOptions){.rule = GROUP_RULE_TERCILE, .many_above = 100, .few_below = 20})

typedef struct {
    long n[SHOT_N_GROUPS];       /* test samples per group */
    long correct[SHOT_N_GROUPS]; /* correct top-1 predictions per group */
    long n_all, correct_all;
} GroupAccuracy;

/* counts (C) = number of samples of each class; CLFT_ERR_VALUE on a label outside [0, C). */
ClftStatus sampling_class_counts(const int *labels, int N, int C, int *counts);

/* Per-class sizes of the two subset kinds (definitions above). */
int sampling_fraction_count(int n_c, double frac);
int sampling_longtail_count(int n_max, double rho, int c, int C);

/* Class-balanced label-fraction subset: idx (capacity N) receives the selected sample indices,
 * ascending; *n_out their number. CLFT_ERR_VALUE for frac outside (0, 1] or bad labels. */
ClftStatus sampling_label_fraction(const int *labels, int N, int C, double frac, uint64_t seed,
                                   int *idx, int *n_out);

/* Long-tailed subset with head size n_max (<= 0: the smallest class size) and ratio rho >= 1.
 * CLFT_ERR_VALUE if a class has fewer samples than its n_c, or for bad arguments. */
ClftStatus sampling_longtail(const int *labels, int N, int C, int n_max, double rho, uint64_t seed,
                             int *idx, int *n_out);

/* group (C): each class's shot group from its training count train_counts (C). */
void sampling_shot_groups(const int *train_counts, int C, const GroupOptions *opt,
                          ShotGroup *group);

/* Counts correct top-1 predictions pred (N) against labels (N) overall and per shot group. */
GroupAccuracy sampling_group_accuracy(const int *pred, const int *labels, int N,
                                      const ShotGroup *group, int C);
/* Accuracy of one group (or overall with SHOT_N_GROUPS); NaN when the group has no samples. */
double sampling_group_acc(const GroupAccuracy *a, ShotGroup g);

#endif

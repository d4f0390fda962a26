/* knn.h — weighted k-nearest-neighbour classifier on L2-normalised features: the kNN monitor of
 * InstDisc (Wu et al. 2018, §3.5) as used by MoCo-style repositories, and the "raw pixels" floor.
 *
 * For a test feature q (unit norm) and train features x_i (unit norm): s_i = q·x_i (cosine
 * similarity); the k most similar train samples N_k vote for their class with weight exp(s_i / T);
 * class score_c = Σ_{i ∈ N_k, y_i = c} exp(s_i / T). Top-1 / top-5 follow the ranking rule in
 * topk.h. Defaults k = 200, T = 0.07 (InstDisc).
 *
 * Neighbour ties: train samples are ordered by similarity, descending, then by index, ascending, so
 * the k-set is always well defined (the k-th and (k+1)-th of equal similarity keep the lower
 * index).
 *
 * The raw-pixel floor is this same function on the flattened, mean/std-normalised images after
 * knn_l2_normalize() — cosine similarity between images.
 *
 * Memory: one similarity block of (block_rows, Ntr) floats, a k-entry heap and C class scores,
 * allocated once per knn_classify() call; the similarities are computed with one GEMM of the host
 * backend per block of test rows, so memory stays bounded whatever Nte is.
 */
#ifndef CLFT_DOWNSTREAM_KNN_H
#define CLFT_DOWNSTREAM_KNN_H

#include "core/common.h"
#include "downstream/topk.h"

typedef struct {
    int k;          /* neighbours (clamped to Ntr) */
    float T;        /* temperature of the vote weights exp(s / T) */
    int block_rows; /* test rows per similarity GEMM; 0 = as many as fit in 64 MiB */
} KnnOptions;

#define KNN_DEFAULT_K 200
#define KNN_DEFAULT_T 0.07f
#define KNN_OPTIONS_DEFAULT ((KnnOptions){.k = KNN_DEFAULT_K, .T = KNN_DEFAULT_T, .block_rows = 0})

/* The labelled train set (the "memory bank"). Features must already be L2-normalised. */
typedef struct {
    const float *x;    /* (Ntr, D) */
    const int *labels; /* (Ntr), in [0, C) */
    int n;             /* Ntr */
    int D;
    int n_classes; /* C */
} KnnBank;

/* Optional per-sample outputs; either pointer may be NULL. */
typedef struct {
    int *pred;     /* (Nte): top-1 class */
    float *scores; /* (Nte, C): class scores Σ exp(s / T) */
} KnnOutputs;

/* Scales each row of x (N, D) to unit L2 norm in place; an all-zero row stays zero. */
void knn_l2_normalize(float *x, int N, int D);

/* Classifies test (Nte, D) against the bank and counts top-1 / top-5 against test_labels (Nte).
 * Returns CLFT_ERR_VALUE (with clft_last_error) for bad options, labels or shapes. */
ClftStatus knn_classify(const KnnBank *bank, const float *test, const int *test_labels, int n_test,
                        const KnnOptions *opt, KnnOutputs *out, TopkCounts *counts);

/* Features and labels of one split: x (n, D), labels (n). */
typedef struct {
    float *x;
    const int *labels;
    int n;
} KnnSet;

/* The kNN protocol on raw features, the one entry of `clft eval --protocol knn` and the
 * pre-training monitor: L2-normalises train.x and test.x in place, then knn_classify of test
 * against the bank of train (n_classes classes). */
ClftStatus knn_evaluate(KnnSet train, KnnSet test, int D, int n_classes, const KnnOptions *opt,
                        TopkCounts *counts);

#endif

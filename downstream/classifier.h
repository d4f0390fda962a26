/* classifier.h — the linear classifier both downstream trainers step: the linear probe on frozen
 * features (linear.h, on the host) and fine-tuning's head on the encoder's backend (finetune.c).
 * logits = x·Wᵀ + b, the mean softmax cross-entropy, SGD with momentum (torch.optim.SGD:
 * v = m·v + (g + wd·w), w −= lr·v), all through the backend's ops, so both sides compute it alike.
 * W ~ N(0, 0.01²) as MoCo's main_lincls.py (fc.weight.data.normal_(0, 0.01)), b = 0.
 */
#ifndef CLFT_CLASSIFIER_H
#define CLFT_CLASSIFIER_H

#include <stdint.h>

#include "core/backend/backend.h"
#include "core/optim/optim.h"
#include "downstream/topk.h"

typedef struct {
    const Backend *be;
    int D, C, N;                      /* features, classes, the largest batch */
    float *mem;                       /* everything below, on be */
    float *W, *b, *dW, *db, *vW, *vb; /* (C, D), (C) each; dW, db of the last batch's mean loss */
    float *logits;                    /* (N, C) the last batch's logits, then dLoss/dlogits */
    double *loss;                     /* (1) the last batch's mean cross-entropy */
} Classifier;

/* Allocates on be; W from rng_init(seed, RNG_STREAM_EVAL, tag, 0)'s normal draws × 0.01, b and
 * the momentum buffers 0. */
void classifier_init(Classifier *c, const Backend *be, int D, int C, int N, uint64_t seed,
                     uint32_t tag);
void classifier_free(Classifier *c);

/* x (B, D) and labels y (B) on be, 1 <= B <= N: the logits, the mean cross-entropy (c->loss),
 * dW and db; dx (B, D), when not NULL, receives += dLoss/dx. */
void classifier_forward_backward(Classifier *c, const float *x, const int *y, int B, float *dx);
/* One SGD step of W and b from dW and db. */
void classifier_sgd(Classifier *c, const SgdOptions *sgd);
/* The last batch's mean cross-entropy, brought to the host. */
double classifier_loss(const Classifier *c);

/* Evaluation on the host, for both trainers: adds to *counts the top-1/top-5 of B feature rows
 * x (B, D) with labels in [0, C) under host weights W (C, D) and b (C). logits (B, C) and scores
 * (C) are the caller's scratch; pred (B), when not NULL, receives each row's top-1 class. */
void classifier_count_host(TopkCounts *counts, const float *x, const int *labels, int B,
                           const float *W, const float *b, int D, int C, float *logits,
                           double *scores, int *pred);

#endif

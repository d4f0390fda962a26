/* linear.h — the linear probe: one Linear layer (C, D) on frozen features, trained with SGD and
 * cross-entropy, evaluated by top-1 / top-5 (PAPER.md §5; MoCo's main_lincls.py protocol).
 *
 * Protocol defaults (MoCo): SGD lr 30, momentum 0.9 (PyTorch form: v = m·v + g + wd·w; w -= lr·v),
 * weight decay 0 (applied to W and b when set), batch 256 (the last, smaller batch of an epoch is
 * kept, as DataLoader(drop_last=False)), lr × 0.1 at 60% and 80% of the epochs
 * (linear_probe_schedule(); the lr is core/optim's Schedule, any step milestones may be given),
 * W ~ N(0, 0.01²), b = 0 (as main_lincls.py). Loss: mean cross-entropy with a max-shifted
 * log-softmax (stable for the large logits lr 30 produces): the host backend's softmax_xent, the
 * one fine-tuning runs on its backend.
 *
 * lr is a parameter: 30 suits MoCo's small-norm backbone features; the raw-pixel and
 * random-encoder floors need a much lower lr (their features are larger and unnormalised) — the
 * caller chooses it per feature source.
 *
 * Training, linear_probe_train(): the features (N, D) in memory, shuffled each epoch (seeded) into
 * batches. Two protocols use it:
 *   (a) augmented — the paper's: a LinearProbeFeed re-extracts the training features under a
 *       random RandomResizedCrop + flip before every epoch;
 *   (b) cached — features extracted ONCE without augmentation. Much faster, but a slightly
 *       different protocol (no augmentation of the training images), so its numbers are not the
 *       paper's.
 *
 * Feature standardisation (optional, off by default, not part of MoCo's protocol): inputs are
 * mapped to (x - mean_d) / std_d with per-dimension mean/std of the TRAIN features (population
 * std, floored at 1e-6), in both step and eval. Set it with linear_probe_fit_standardization()
 * (from cached features) or linear_probe_set_standardization() (statistics from a pass over the
 * train set).
 *
 * Randomness (RNG_STREAM_EVAL, seed from the options): W init draws stream (EVAL, a = 1, b = 0);
 * the epoch-e permutation draws stream (EVAL, a = 2, b = e).
 *
 * Memory: everything (W, b, gradients, momentum buffers, a batch of standardised inputs, logits,
 * gather buffer) is allocated in linear_probe_init(); step and eval do no allocation.
 */
#ifndef CLFT_DOWNSTREAM_LINEAR_H
#define CLFT_DOWNSTREAM_LINEAR_H

#include <stdint.h>

#include "core/common.h"
#include "core/optim/optim.h"
#include "downstream/classifier.h"
#include "downstream/topk.h"

typedef enum {
    PROBE_STANDARDIZE_OFF = 0, /* MoCo's protocol: raw features */
    PROBE_STANDARDIZE_ON,      /* per-dimension (x - mean) / std from the train features */
} ProbeStandardize;

typedef struct {
    int D;                        /* feature dimension */
    int n_classes;                /* C */
    int batch;                    /* largest batch passed to step (256) */
    Schedule schedule;            /* epochs and the lr per epoch: STEP or CONSTANT, no warm-up */
    float momentum;               /* 0.9 */
    float weight_decay;           /* 0 */
    ProbeStandardize standardize; /* off by default */
    uint64_t seed;                /* init and (cached mode) data order */
} LinearProbeOptions;

#define LINEAR_PROBE_OPTIONS_DEFAULT                                                               \
    ((LinearProbeOptions){.batch = 256,                                                            \
                          .schedule = {.kind = SCHEDULE_STEP,                                      \
                                       .base_lr = 30.0,                                            \
                                       .epochs = 100,                                              \
                                       .milestones = {60, 80},                                     \
                                       .n_milestones = 2,                                          \
                                       .gamma = 0.1},                                              \
                          .momentum = 0.9f,                                                        \
                          .weight_decay = 0.0f,                                                    \
                          .standardize = PROBE_STANDARDIZE_OFF,                                    \
                          .seed = 1})

typedef struct {
    LinearProbeOptions opt;
    Classifier cls;     /* W (C, D), b (C) and their SGD state on the host (classifier.h) */
    float *mean;        /* (D) standardisation mean (0 when off) */
    float *inv_std;     /* (D) standardisation 1 / std (1 when off) */
    float *xs;          /* (batch, D) standardised inputs of the current batch */
    float *gather;      /* (batch, D) training: rows of the current batch */
    int *gather_labels; /* (batch) training: labels of the current batch */
    double *scores;     /* (C) one row of logits in double, for ranking */
    long steps;         /* optimiser steps taken */
    int diverged;       /* linear_probe_train met a loss that is not finite */
} LinearProbe;

/* Allocates and initialises W ~ N(0, 0.01²), b = 0. Dies on impossible options. */
void linear_probe_init(LinearProbe *p, const LinearProbeOptions *opt);
void linear_probe_free(LinearProbe *p);

/* MoCo's schedule of `epochs` epochs from `lr`: × 0.1 from epoch round(0.6·E), × 0.01 from
 * round(0.8·E) (rounding halves up; E = 100 gives milestones 60 and 80, as main_lincls.py
 * --schedule 60 80). */
Schedule linear_probe_schedule(float lr, int epochs);
/* The lr of epoch `epoch` (0-based): (float)base_lr, × (float)gamma per milestone reached
 * (schedule_decays), multiplied in float. */
float linear_probe_lr(const LinearProbeOptions *opt, int epoch);

/* Standardisation statistics: from train features X (N, D), or given (mean, std) (D). No-ops
 * (with the statistics left at 0 / 1) when opt.standardize is off. */
void linear_probe_fit_standardization(LinearProbe *p, const float *X, int N);
void linear_probe_set_standardization(LinearProbe *p, const float *mean, const float *std);

/* One SGD step on a batch: feats (B, D), labels (B), 1 <= B <= opt.batch, at learning rate lr.
 * Returns the batch's mean cross-entropy before the update (NaN/inf if the probe diverged). */
double linear_probe_step(LinearProbe *p, const float *feats, const int *labels, int B, float lr);

/* Top-1 / top-5 of the probe on X (N, D) with labels (N); pred (N) receives top-1 classes when
 * non-NULL. Processes opt.batch rows at a time. */
TopkCounts linear_probe_eval(LinearProbe *p, const float *X, const int *labels, int N, int *pred);

/* Refills X (N, D) and labels (N) before epoch `epoch`: the augmented protocol's features of the
 * training set under that epoch's random transform. */
typedef struct {
    ClftStatus (*refill)(void *ctx, int epoch, float *X, int *labels);
    void *ctx;
} LinearProbeFeed;

/* opt.schedule.epochs epochs over X (N, D), labels (N): before each epoch `feed` (when non-NULL)
 * refills them; then the epoch's seeded permutation cut into batches of opt.batch (the last one
 * smaller), one linear_probe_step each at linear_probe_lr. loss_out (epochs), when non-NULL,
 * receives each epoch's mean batch loss. Stops at the first loss that is not finite: p->diverged,
 * CLFT_ERR_NUMERIC with clft_last_error. A refill's error is returned as it is. Standardisation is
 * the caller's (linear_probe_fit_standardization before). */
ClftStatus linear_probe_train(LinearProbe *p, float *X, int *labels, int N,
                              const LinearProbeFeed *feed, double *loss_out);

#endif

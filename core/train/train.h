/* train.h — the pre-training loop (DESIGN.md "One training step, as data"; issue "MoCo v1 and v2
 * pre-training"): dataset → two-view loader → moco_step → CSV logs, checkpoints, progress line.
 *
 * Files in the run directory:
 *   config.ini       the resolved config (+ version, commit, BLAS core, threads, machine)
 *   train.csv        epoch, step, lr, loss, inst_acc, img_per_s, elapsed_s       (every log_every steps)
 *   scores.csv       epoch, step, pos_mean, pos_var, neg_mean, neg_var, exp_pos_mean, exp_neg_mean,
 *                    pre_pos_mean, pre_pos_var, pre_neg_mean, pre_neg_var          (every step)
 *   score_hist.csv   epoch, kind (pos|neg|pre_pos|pre_neg), bin_lo, bin_hi, count (every epoch;
 *                    pre_* only with a variant: the original scores)
 *   ckpt/epochEEEE-stepSSSSSSSSS.safetensors                                       (every ckpt_every epochs)
 * `epoch` is 0-based, `step` the global step count after the step (1, 2, ...). img_per_s and
 * elapsed_s measure the wall clock: they are the only columns that differ between two identical
 * runs. On resume, every CSV is cut back to the checkpoint's step/epoch, so a resumed run writes
 * the same rows as an uninterrupted one.
 *
 * Data parallel (TrainOptions.dist, core/dist/dist.h): every rank loads its shard of each global
 * batch and runs the step; rank 0 alone takes the run directory's lock, resumes, writes config.ini
 * (with the world size), the CSVs and the checkpoints, and hands its state to the others before
 * the first step. A checkpoint records the world size, and a resume with another one is refused.
 */
#ifndef CLFT_TRAIN_H
#define CLFT_TRAIN_H

#include "core/contrast/variant_hook.h"
#include "core/data/augment.h"
#include "core/data/dataset.h"
#include "core/dist/dist.h"
#include "core/io/config.h"
#include "core/model/model.h"

typedef enum { RESUME_NEVER, RESUME_AUTO } ResumeMode;

/* Called after each epoch in which cfg.run.knn_every says so: evaluates the query encoder (eval
 * mode) and returns rows for eval.csv. Supplied by the caller (downstream/ sits above core/). */
typedef struct {
    void *ctx;
    /* Returns top-1 (%) of the kNN monitor, or a negative value on failure. */
    double (*knn)(void *ctx, Model *encoder, int epoch);
} TrainMonitor;

typedef struct {
    const Backend *be;     /* where the step runs (backend_select'ed by the caller) */
    ResumeMode resume;
    int quiet;             /* no progress line */
    VariantHook variant;   /* instantiated by the caller on the same backend */
    TrainMonitor monitor;  /* optional (knn == NULL: none) */
    /* The training augmentation of cfg at size px and C channels: its [aug] preset's recipe
     * with the overrides (baselines/: baseline_train_aug; core knows no recipe). */
    ClftStatus (*aug)(const Config *cfg, int size, int C, AugConfig *out);
    long kill_at_step;     /* tests of exact resume: raise SIGKILL right after this global step
                              (nothing flushed, like a real kill); 0 = never */
    long poison_at_step;   /* tests of the NaN guard: a NaN written into the query encoder's
                              first weight right after this global step; 0 = never */
    Dist *dist;            /* the ranks of a data-parallel run, attached to be; NULL: one process */
    int kill_rank;         /* the rank kill_at_step kills (one process is rank 0); -1 = every one */
    int kill_signal;       /* the signal it raises; 0 = SIGKILL (SIGSTOP: a rank that hangs) */
    long nan_input_step;   /* tests of bad input: a NaN in the first pixel of rank nan_input_rank's
                              query batch of this global step (1-based); 0 = never */
    int nan_input_rank;
} TrainOptions;

/* Runs (or resumes) the pre-training of `cfg` in cfg->run.out. Returns CLFT_OK, or a status with
 * clft_last_error() saying what failed (NaN loss, disk full, bad data) — the last good checkpoint
 * is kept in every case. */
ClftStatus train_run(const Config *cfg, const TrainOptions *opt);

/* The dataset options of a run's training data (subset, data.classes, data.train_limit, seed). */
DatasetOptions train_dataset_options(const Config *cfg);

/* The backend a run of `cfg` asks for (run.device, run.precision, run.deterministic), opened and
 * checked for the op groups `needs` (BackendNeeds); NULL with clft_last_error() set when it cannot
 * serve the run. */
const Backend *train_backend(const Config *cfg, int needs);
/* The same on device ordinal `device` (a GPU per rank: the rank's node-local rank). */
const Backend *train_backend_device(const Config *cfg, int needs, int device);

/* The model configuration that `cfg` describes, for `in_channels` input channels. */
ModelConfig train_model_config(const Config *cfg, int in_channels);

#endif

/* matrix.h — the experiment matrices of `clft reproduce` (issue 8; DESIGN.md "Scales"): which
 * (baseline, method) arms each preset pre-trains, with how many seeds, which evaluations, and which
 * arm each method is compared against; plus the test of whether a run is already complete.
 *
 * An arm is one method: a baseline (moco_v1 | moco_v2), a label (its name in results/summary.csv's
 * `variant` column and in its run directory's name), the `clft pretrain --variant` it runs and any
 * extra `--set` assignments (e.g. the momentum study's moco.m). An arm with a `reference` is compared,
 * paired by seed, against the arm of the same baseline labelled `reference` (the baseline rows have
 * none). The matrices themselves are the tables at the top of matrix.c, meant to be read.
 *
 * Run directories: <runs_dir>/<group>/<baseline>_<label>_<data>_s<seed>. Presets sharing a group
 * share runs: mini-ablations uses mini's group and config, so its baseline seeds ARE mini's runs.
 *
 * A run is complete when (1) its latest checkpoint ckpt/epochEEEE-*.safetensors has EEEE >= the
 * configured epochs and (2) its eval.csv holds, for each of the preset's evaluation protocols, a row
 * with that protocol, metric "top1" and a split other than "train".
 */
#ifndef CLFT_REPRODUCE_MATRIX_H
#define CLFT_REPRODUCE_MATRIX_H

#include <stddef.h>

#include "core/common.h"

#define MATRIX_MAX_SETS 3
#define MATRIX_MAX_PROTOCOLS 2

/* A set whose value is "@epochs/N" (N a positive integer) takes optim.epochs / N of the resolved
 * config (integer division): FT started after a quarter or half of the training. */
#define MATRIX_SET_START_QUARTER "variant.start_epoch=@epochs/4"
#define MATRIX_SET_START_HALF "variant.start_epoch=@epochs/2"

typedef struct {
    const char *baseline;  /* moco_v1 | moco_v2 */
    const char *label;     /* summary.csv `variant` column and run-directory name */
    const char *variant;   /* clft pretrain --variant */
    const char *sets[MATRIX_MAX_SETS]; /* extra --set section.key=value, NULL-terminated */
    const char *reference; /* label of the same-baseline arm it is compared with; NULL = a reference */
    const char *figures;   /* figure group: arms drawn together in <figures>/ (first seed of each) */
} MatrixArm;

typedef struct {
    const char *name;      /* smoke | mini | mini-ablations | mini-long | mini-bf16 | in100 | in1k */
    const char *config;    /* clft pretrain --preset */
    const char *group;     /* runs sub-directory (shared by presets that share runs) */
    int seeds;             /* default number of seeds (seeds are 1..n) */
    int needs_imagefolder; /* 1: --data imagefolder:DIR is required */
    const char *protocols[MATRIX_MAX_PROTOCOLS]; /* clft eval --protocol, in order */
    int cached;            /* 1: clft eval ... --cached for the linear probe */
    int jobs;              /* default --jobs: runs at once, each on cores/jobs threads */
    const MatrixArm *arms;
    int n_arms;
    const char *about;     /* one line for --dry-run and RESULTS.md */
} MatrixPreset;

/* The preset named `name`, or NULL. */
const MatrixPreset *matrix_find(const char *name);
/* An arm's set as given to --set: "@epochs/N" values (MATRIX_SET_START_QUARTER) replaced by
 * epochs / N; *deferred = 1 for such a set (it cannot be applied before epochs is known). An
 * error naming the set when N is not a positive integer or out does not hold it. */
ClftStatus matrix_expand_set(const char *set, int epochs, char *out, size_t cap, int *deferred);
/* NULL-terminated list of every preset (for --help). */
const MatrixPreset *const *matrix_all(void);
/* The arm of `p` with this baseline and label, or NULL. */
const MatrixArm *matrix_arm(const MatrixPreset *p, const char *baseline, const char *label);

/* out = "<runs_dir>/<group>/<baseline>_<label>_<data>_s<seed>", the data spec reduced to
 * [A-Za-z0-9._-] (others become '-') and to its first 40 characters. CLFT_ERR_VALUE if it does not
 * fit in cap. */
ClftStatus matrix_run_dir(const MatrixPreset *p, const MatrixArm *a, const char *data, int seed,
                          const char *runs_dir, char *out, size_t cap);

/* What is left to do for a run directory. */
typedef struct {
    int pretrained;                     /* the final checkpoint exists */
    int evaluated[MATRIX_MAX_PROTOCOLS]; /* eval.csv holds protocol i's top1 row */
} MatrixRunState;

/* Inspects `run_dir` (missing = nothing done) for a run of `epochs` epochs and the preset's protocols.
 * CLFT_ERR_IO / CLFT_ERR_FORMAT only when a file exists but cannot be read. */
ClftStatus matrix_run_state(const MatrixPreset *p, const char *run_dir, int epochs,
                            MatrixRunState *st);
/* 1 when every step of the run is done. */
int matrix_run_complete(const MatrixPreset *p, const MatrixRunState *st);

#endif

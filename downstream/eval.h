/* eval.h — `clft eval`: the downstream protocols of PAPER.md §5 (issue 6) on a run's frozen query
 * encoder, with raw-pixel and random-encoder floors computed by the same code, as rows of
 * runs/<name>/eval.csv.
 *
 * The encoder: the run's config.ini gives the architecture and data; the checkpoint (the latest in
 * runs/<name>/ckpt, or a given file) gives the weights `encoder_q.<torchvision name>`. The model is
 * built WITHOUT its head (features = the global-pooled backbone output, PAPER.md §5), BN in eval
 * mode, for batches of EvalOptions.batch images. Its input channels come from the checkpoint's
 * conv1.weight, so a dataset with another channel count is an error naming both.
 *
 * Data: the run's data.spec (or EvalOptions.data); the training set is the run's (data.classes,
 * data.train_limit as in pre-training, like the kNN monitor; EvalOptions.train_limit overrides the
 * limit, 0 = all), the test set the whole test split (class-filtered like the training set). Images
 * go through the evaluation transform (features_eval_aug: centre crop).
 *
 * Feature sources (the floors): EVAL_SOURCE_ENCODER (the checkpoint), EVAL_SOURCE_PIXELS (the
 * normalised image flattened to C·H·W numbers), EVAL_SOURCE_RANDOM (the same architecture with
 * torchvision's init drawn from stream (RNG_STREAM_INIT, 0, 0) of run.seed: the run's own encoder
 * before training). Floor rows carry the protocol name + "_pixels" / "_random".
 *
 * Protocols (values are percentages; rows: protocol, dataset, split, metric, value, epoch with
 * epoch = the checkpoint's epochs completed; `dataset` names the training data of the row):
 *   knn       weighted kNN on L2-normalised features (eval.knn_k, eval.knn_t): top1, top5.
 *   linear    MoCo's linear probe (downstream/linear.h): SGD eval.linear_lr, momentum, wd, batch;
 *             lr × 0.1 at each eval.linear_milestones epoch (scaled by epochs / eval.linear_epochs
 *             when --epochs changes the length). EVAL_PROBE_AUGMENTED: every epoch the training
 *             features are re-extracted under RandomResizedCrop(scale 0.08–1) + flip drawn from
 *             (run.seed, epoch, index), then shuffled (stream EVAL, 2, epoch) into batches — the
 *             paper's protocol. EVAL_PROBE_CACHED: centre-crop features extracted once, shuffled
 *             each epoch — faster, and a slightly different protocol (no training augmentation).
 *             Floors always use cached features, standardised per dimension with the training
 *             set's mean/std (linear.h), at lr EVAL_FLOOR_LR = 0.05: unstandardised random-encoder
 *             features are ill-conditioned (smoke run, 5 epochs: 10–29% top-1 for lr 0.005–30,
 *             56% standardised) and raw pixels do best near lr 0.05 — so each floor gets its best
 *             measured chance.
 *   semisup   for each eval.semisup_fractions f: the class-balanced subset of sampling.h
 *             (seed run.seed); "semisup_linear": the linear probe on it; "semisup_finetune": the
 *             whole backbone + a linear classifier trained on it (downstream/finetune.h).
 *             dataset "<spec>:frac=<f>".
 *   longtail  the long-tailed subset of sampling.h (ρ = eval.longtail_rho, n_max = the smallest
 *             class size), linear probe, balanced test set: top1, top5 and top1_many /
 *             top1_medium / top1_few (tercile shot groups, sampling.h). dataset
 *             "<spec>:lt_rho=<ρ>".
 *   transfer  the run pre-trained on classes A = data.classes; train and test restricted to the
 *             other classes B of the dataset (labels 0..|B|-1 in B's order): kNN and cached
 *             linear probe, dataset "<spec>:classes=<B>".
 */
#ifndef CLFT_DOWNSTREAM_EVAL_H
#define CLFT_DOWNSTREAM_EVAL_H

#include <stdio.h>

#include "core/data/augment.h"
#include "core/data/dataset.h"
#include "core/io/config.h"
#include "core/io/eval_csv.h"
#include "core/io/safetensors.h"
#include "core/model/model.h"
#include "downstream/topk.h"

#define EVAL_DEFAULT_BATCH 256
#define EVAL_FLOOR_LR 0.05f

typedef enum { EVAL_KNN, EVAL_LINEAR, EVAL_SEMISUP, EVAL_LONGTAIL, EVAL_TRANSFER } EvalProtocol;
typedef enum { EVAL_PROBE_FROM_CONFIG, EVAL_PROBE_CACHED, EVAL_PROBE_AUGMENTED } EvalProbeMode;
typedef enum { EVAL_FLOORS_ON, EVAL_FLOORS_OFF } EvalFloors;
typedef enum { EVAL_FINETUNE_ON, EVAL_FINETUNE_OFF } EvalFinetune;
typedef enum { EVAL_SOURCE_ENCODER, EVAL_SOURCE_PIXELS, EVAL_SOURCE_RANDOM } EvalSource;

typedef struct {
    EvalProtocol protocol;
    const char *ckpt;    /* NULL = the run's latest checkpoint */
    const char *data;    /* NULL = the run's data.spec */
    int epochs;          /* linear-probe epochs; 0 = eval.linear_epochs */
    EvalProbeMode probe; /* FROM_CONFIG = eval.linear_cached */
    EvalFloors floors;   /* pixel and random-encoder rows */
    EvalFinetune finetune;
    int finetune_epochs; /* 0 = FINETUNE_DEFAULT_EPOCHS (finetune.h) */
    int batch;           /* encoder batch for feature extraction; 0 = EVAL_DEFAULT_BATCH */
    int train_limit;     /* < 0 = the run's data.train_limit; 0 = all */
    int quiet;           /* no progress lines on stderr */
    const char *device;  /* backend of the encoders; NULL = the run's run.device */
} EvalOptions;

#define EVAL_OPTIONS_DEFAULT                                                                       \
    ((EvalOptions){.protocol = EVAL_KNN,                                                           \
                   .probe = EVAL_PROBE_FROM_CONFIG,                                                \
                   .floors = EVAL_FLOORS_ON,                                                       \
                   .finetune = EVAL_FINETUNE_ON,                                                   \
                   .train_limit = -1})

typedef struct {
    int n, cap;
    EvalRow *rows;
} EvalResults;

/* Features of one source on one dataset, kept for the next protocol of the same process. */
typedef struct {
    int used;
    EvalSource src;
    char name[64]; /* Dataset.name and .n identify the set (see eval_features) */
    int n, D;
    float *f; /* (n, D) */
    int *l;   /* (n) */
} EvalFeatCache;

#define EVAL_FEAT_CACHE 4 /* encoder and random encoder, train and test */

/* A run opened for evaluation: its config, checkpoint and frozen encoder. */
typedef struct {
    const Backend *be; /* where the encoders run; kNN and probes run on the host's features */
    char dir[1024];
    char ckpt[4096];
    Config cfg;
    const char *spec; /* data spec evaluated */
    StFile ckpt_file; /* kept open: fine-tuning loads the weights again */
    Model enc;        /* HEAD_NONE, eval batch */
    int epoch;        /* the checkpoint's epochs completed */
    int in_channels;
    int size;    /* encoder input H = W */
    int threads; /* loader workers */
    int quiet;
    /* Set by the knn and linear protocols, whose sets are always the run's whole training and
     * test sets: encoder and random-encoder features are then extracted once per process, so
     * `clft eval --protocol knn,linear` runs the encoder over the data once, not twice. */
    int cache_features;
    EvalFeatCache cache[EVAL_FEAT_CACHE];
} EvalRun;

/* Reads <dir>/config.ini and the checkpoint, builds the encoder and checks the data's channels.
 * Every failure is a status with a one-line clft_last_error() naming what does not match. */
ClftStatus eval_run_open(EvalRun *r, const char *dir, const EvalOptions *opt);
void eval_run_close(EvalRun *r);

/* Runs opt->protocol and appends its rows to res. */
ClftStatus eval_protocol_run(EvalRun *r, const EvalOptions *opt, EvalResults *res);
/* "knn", "linear", ... → the enum; CLFT_ERR_VALUE naming the choices otherwise. */
ClftStatus eval_protocol_parse(const char *name, EvalProtocol *out);

void eval_results_add(EvalResults *res, const char *protocol, const char *dataset,
                      const char *split, const char *metric, double value, int epoch);
void eval_results_free(EvalResults *res);
/* Appends the rows to `path` (header protocol,dataset,split,metric,value,epoch; an existing file
 * must carry exactly that header). */
ClftStatus eval_results_append_csv(const EvalResults *res, const char *path);
void eval_results_print(const EvalResults *res, FILE *f);

/* ---- building blocks, shared by the protocols (eval.c) and tests ---- */

/* Opens `split` of the evaluated spec with a class filter (NULL = the run's data.classes) and
 * the training limit (test split: none); checks the channels against the encoder. */
ClftStatus eval_open_data(const EvalRun *r, DataSplit split, const int *classes, int n_keep,
                          int limit, Dataset **out);
/* A view of ds restricted to samples idx (n): shares ds's images; free with eval_view_free. */
Dataset *eval_view(const Dataset *ds, const int *idx, int n);
void eval_view_free(Dataset *view);
/* Features (ds->n, *D) of a source under the evaluation transform, labels (ds->n); malloc'ed. */
ClftStatus eval_features(EvalRun *r, EvalSource src, const Dataset *ds, float **feats, int **labels,
                         int *D);

/* kNN and linear-probe results of one source on one (train, test) pair, as rows named
 * `protocol`[+ source suffix]. `pred` (test->n), when non-NULL, receives the probe's predictions.
 */
typedef struct {
    const char *protocol; /* e.g. "linear"; the source suffix is added */
    const char *dataset;  /* the dataset column */
    EvalProbeMode probe;  /* CACHED or AUGMENTED (encoder only; floors are always cached) */
    int epochs;
    float lr; /* encoder lr; floors use EVAL_FLOOR_LR */
} EvalProbeTask;
ClftStatus eval_knn(EvalRun *r, EvalSource src, const Dataset *train, const Dataset *test,
                    const char *protocol, const char *dataset, EvalResults *res);
ClftStatus eval_linear(EvalRun *r, EvalSource src, const Dataset *train, const Dataset *test,
                       const EvalProbeTask *task, int *pred, EvalResults *res);
/* A head-less encoder of the run's architecture for batches of N at the run's size, with
 * gradients when with_grads (fine-tuning). Its weights are torchvision's init until loaded. */
ClftStatus eval_build_encoder(const EvalRun *r, Model *m, int N, int with_grads);
/* The training transform of the augmented probe and of fine-tuning: RandomResizedCrop
 * (torchvision's default scale 0.08–1) + flip. */
AugConfig eval_train_aug(const EvalRun *r);

/* The protocol name of a source: "knn" → "knn", "knn_pixels", "knn_random". */
void eval_source_name(char *out, size_t cap, const char *protocol, EvalSource src);

#endif

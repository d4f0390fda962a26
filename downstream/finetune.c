/* finetune.c — see finetune.h: the classifier head on the encoder's backend, one SGD step of
 * backbone + head, and the evaluation on the host. */
#include "downstream/finetune.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/data/loader.h"
#include "core/optim/optim.h"
#include "core/rng.h"
#include "core/train/features.h"
#include "downstream/classifier.h"

/* The head (classifier.h) on the encoder's backend, and the step's buffers there. */
typedef struct {
    Classifier cls;
    float *dfeat; /* (N, D) */
    int *labels;  /* (N) the batch's labels, uploaded */
    float *x;     /* (N, C, H, W) the batch upload; NULL on host memory */
} FtHead;

/* rng_init(..., RNG_STREAM_EVAL, FT_TAG_INIT, 0): the head's initial weights */
#define FT_TAG_INIT 5

static void ft_head_init(FtHead *h, const Model *m, int C, uint64_t seed)
{
    const Backend *be = m->be;
    const int D = m->feat_dim, N = m->N;
    *h = (FtHead){0};
    classifier_init(&h->cls, be, D, C, N, seed, FT_TAG_INIT);
    h->dfeat = backend_alloc(be, (size_t)N * D * sizeof(float));
    h->labels = backend_alloc(be, (size_t)N * sizeof(int));
    if (!be->host_memory) h->x = backend_alloc(be, (size_t)N * m->C * m->H * m->W * sizeof(float));
}

static void ft_head_free(FtHead *h)
{
    const Backend *be = h->cls.be;
    classifier_free(&h->cls);
    backend_free(be, h->dfeat);
    backend_free(be, h->labels);
    backend_free(be, h->x);
}

/* One SGD step of backbone + head on batch x (N, C, H, W) in host memory; returns the loss. */
static double ft_step(Model *m, FtHead *h, float *vparams, const float *x_host, const int *labels)
{
    const Backend *be = m->be;
    const int N = h->cls.N, D = h->cls.D;
    const float *x =
        backend_write(be, h->x, x_host, (size_t)N * m->C * m->H * m->W * sizeof(float));
    const int *y = backend_write(be, h->labels, labels, (size_t)N * sizeof(int));
    model_forward(m, x, MODEL_TRAIN);
    be->memset_zero(h->dfeat, (size_t)N * D * sizeof(float));
    classifier_forward_backward(&h->cls, model_features(m), y, N, h->dfeat);
    model_zero_grads(m);
    model_backward(m, h->dfeat);
    SgdOptions sgd = {.lr = FINETUNE_LR, .momentum = 0.9f, .weight_decay = 0.0f};
    be->sgd_step(m->param_arena.base, m->grad_arena.base, vparams, m->param_arena.cap, &sgd);
    classifier_sgd(&h->cls, &sgd);
    return classifier_loss(&h->cls);
}

/* Top-1/top-5 of the fine-tuned model on test (eval-mode BN, centre crop): the features and the
 * head come to the host, where the classifier runs. */
static ClftStatus ft_evaluate(EvalRun *r, Model *m, FtHead *h, const Dataset *test,
                              TopkCounts *counts)
{
    const Classifier *c = &h->cls;
    float *f = xmalloc((size_t)test->n * c->D * sizeof(float)); /* (Nte, D) */
    int *l = xmalloc((size_t)(test->n > 0 ? test->n : 1) * sizeof(int));
    float *W = xmalloc(((size_t)c->C * c->D + c->C) * sizeof(float)); /* (C, D) and (C) */
    c->be->download(W, c->W, (size_t)c->C * c->D * sizeof(float));
    c->be->download(W + (size_t)c->C * c->D, c->b, (size_t)c->C * sizeof(float));
    AugConfig aug = features_eval_aug(test, r->size);
    ClftStatus st =
        features_extract(m, test, &(FeaturesOptions){.aug = &aug, .threads = r->threads}, f, l);
    const int Bmax = EVAL_DEFAULT_BATCH; /* rows per host GEMM */
    float *z = xmalloc((size_t)Bmax * c->C * sizeof(float));
    double *sc = xmalloc((size_t)c->C * sizeof(double));
    memset(counts, 0, sizeof *counts);
    for (int n0 = 0; st == CLFT_OK && n0 < test->n; n0 += Bmax) {
        const int B = test->n - n0 < Bmax ? test->n - n0 : Bmax;
        classifier_count_host(counts, f + (size_t)n0 * c->D, l + n0, B, W, W + (size_t)c->C * c->D,
                              c->D, c->C, z, sc, NULL);
    }
    free(f), free(l), free(W), free(z), free(sc);
    return st;
}

ClftStatus finetune_eval(EvalRun *r, const Dataset *train, const Dataset *test, int epochs,
                         TopkCounts *counts)
{
    const int N = train->n < FINETUNE_BATCH ? train->n : FINETUNE_BATCH;
    if (N < 2) {
        clft_set_error("fine-tuning needs at least 2 training images (%s has %d)", train->name,
                       train->n);
        return CLFT_ERR_VALUE;
    }
    Model m;
    ClftStatus st = eval_build_encoder(r, &m, N, 1);
    if (st != CLFT_OK) return st;
    if ((st = model_load(&m, &r->ckpt_file, "encoder_q.")) != CLFT_OK) {
        model_free(&m);
        return st;
    }
    AugConfig aug = eval_train_aug(r);
    LoaderOptions lo = {.batch = N,
                        .threads = r->threads,
                        .seed = (uint64_t)r->cfg.run.seed,
                        .views = 1,
                        .aug1 = &aug,
                        .aug2 = &aug,
                        .order = LOADER_SHUFFLE,
                        .tail = LOADER_DROP_LAST};
    Loader *l;
    if ((st = loader_init(&l, train, &lo)) != CLFT_OK) {
        model_free(&m);
        return st;
    }
    FtHead h;
    ft_head_init(&h, &m, train->n_classes, (uint64_t)r->cfg.run.seed);
    float *vparams = backend_alloc(r->be, m.param_arena.cap * sizeof(float)); /* (P) momentum */
    double loss = 0.0;
    for (int e = 0; e < epochs && isfinite(loss) && st == CLFT_OK; e++) {
        loader_seek(l, e, 0);
        for (int s = 0, steps = loader_steps_per_epoch(l); s < steps && isfinite(loss); s++) {
            LoaderBatch b;
            if ((st = loader_next(l, &b)) != CLFT_OK) break;
            loss = ft_step(&m, &h, vparams, b.x1, b.labels);
        }
        if (!r->quiet) fprintf(stderr, "  fine-tune epoch %d/%d: loss %.4f\n", e + 1, epochs, loss);
    }
    loader_free(l);
    if (st != CLFT_OK) {
        /* the loader's error stands */
    } else if (!isfinite(loss)) {
        clft_set_error("fine-tuning diverged (loss %g at lr %g)", loss, (double)FINETUNE_LR);
        st = CLFT_ERR_NUMERIC;
    } else {
        st = ft_evaluate(r, &m, &h, test, counts);
    }
    backend_free(r->be, vparams);
    ft_head_free(&h);
    model_free(&m);
    return st;
}

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

/* Classifier on pooled features with its gradients and momentum buffers, on the encoder's
 * backend: one buffer, named pointers into it. */
typedef struct {
    const Backend *be;
    int D, C, N;
    float *mem;                       /* everything below */
    float *W, *b, *dW, *db, *vW, *vb; /* (C, D), (C) each */
    float *logits;                    /* (N, C) */
    float *dfeat;                     /* (N, D) */
    int *labels;                      /* (N) the batch's labels, uploaded */
    double *loss;                     /* (1) */
    float *x;                         /* (N, C, H, W) the batch upload; NULL on host memory */
} FtHead;

static void ft_head_init(FtHead *h, const Model *m, int C, uint64_t seed)
{
    const Backend *be = m->be;
    const int D = m->feat_dim, N = m->N;
    const size_t cd = (size_t)C * D,
                 floats = 3 * cd + 3 * (size_t)C + (size_t)N * C + (size_t)N * D;
    *h = (FtHead){.be = be, .D = D, .C = C, .N = N};
    h->mem = backend_alloc(be, floats * sizeof(float));
    h->W = h->mem, h->dW = h->W + cd, h->vW = h->dW + cd;
    h->b = h->vW + cd, h->db = h->b + C, h->vb = h->db + C;
    h->logits = h->vb + C, h->dfeat = h->logits + (size_t)N * C;
    h->labels = backend_alloc(be, (size_t)N * sizeof(int));
    h->loss = backend_alloc(be, sizeof(double));
    if (!be->host_memory) h->x = backend_alloc(be, (size_t)N * m->C * m->H * m->W * sizeof(float));
    float *W = backend_stage_begin(be, h->W, cd * sizeof(float)); /* the zeroed b stays 0 */
    Rng rng;
    rng_init(&rng, seed, RNG_STREAM_EVAL, 5, 0);
    for (size_t i = 0; i < cd; i++)
        W[i] = (float)(0.01 * rng_normal(&rng));
    backend_stage_end(be, h->W, W, cd * sizeof(float));
}

static void ft_head_free(FtHead *h)
{
    backend_free(h->be, h->mem);
    backend_free(h->be, h->labels);
    backend_free(h->be, h->loss);
    backend_free(h->be, h->x);
}

/* One SGD step of backbone + head on batch x (N, C, H, W) in host memory; returns the loss. */
static double ft_step(Model *m, FtHead *h, float *vparams, const float *x_host, const int *labels)
{
    const Backend *be = m->be;
    const int N = h->N, D = h->D, C = h->C;
    const float *x =
        backend_write(be, h->x, x_host, (size_t)N * m->C * m->H * m->W * sizeof(float));
    const int *y = backend_write(be, h->labels, labels, (size_t)N * sizeof(int));
    model_forward(m, x, MODEL_TRAIN);
    const float *f = model_features(m); /* (N, D) */
    be->linear_forward(h->logits, f, h->W, h->b, N, D, C);
    be->softmax_xent(h->loss, h->logits, y, N, C); /* logits → dL/dlogits */
    be->memset_zero(h->dW, (size_t)C * D * sizeof(float));
    be->memset_zero(h->db, (size_t)C * sizeof(float));
    be->memset_zero(h->dfeat, (size_t)N * D * sizeof(float));
    be->linear_backward(h->dfeat, h->dW, h->db, h->logits, f, h->W, N, D, C);
    model_zero_grads(m);
    model_backward(m, h->dfeat);
    SgdOptions sgd = {.lr = FINETUNE_LR, .momentum = 0.9f, .weight_decay = 0.0f};
    be->sgd_step(m->param_arena.base, m->grad_arena.base, vparams, m->param_arena.cap, &sgd);
    be->sgd_step(h->W, h->dW, h->vW, (size_t)C * D, &sgd);
    be->sgd_step(h->b, h->db, h->vb, (size_t)C, &sgd);
    double loss;
    be->download(&loss, h->loss, sizeof loss);
    return loss;
}

/* Top-1/top-5 of the fine-tuned model on test (eval-mode BN, centre crop): the features and the
 * head come to the host, where the classifier runs. */
static ClftStatus ft_evaluate(EvalRun *r, Model *m, FtHead *h, const Dataset *test,
                              TopkCounts *counts)
{
    const Backend *host = backend_host();
    float *f = xmalloc((size_t)test->n * h->D * sizeof(float)); /* (Nte, D) */
    int *l = xmalloc((size_t)(test->n > 0 ? test->n : 1) * sizeof(int));
    float *W = xmalloc(((size_t)h->C * h->D + h->C) * sizeof(float)); /* (C, D) and (C) */
    h->be->download(W, h->W, (size_t)h->C * h->D * sizeof(float));
    h->be->download(W + (size_t)h->C * h->D, h->b, (size_t)h->C * sizeof(float));
    AugConfig aug = features_eval_aug(test, r->size);
    ClftStatus st =
        features_extract(m, test, &(FeaturesOptions){.aug = &aug, .threads = r->threads}, f, l);
    float *z = xmalloc((size_t)h->C * sizeof(float));
    double *sc = xmalloc((size_t)h->C * sizeof(double));
    memset(counts, 0, sizeof *counts);
    for (int i = 0; st == CLFT_OK && i < test->n; i++) {
        host->linear_forward(z, f + (size_t)i * h->D, W, W + (size_t)h->C * h->D, 1, h->D, h->C);
        for (int j = 0; j < h->C; j++)
            sc[j] = z[j];
        topk_count(counts, sc, h->C, l[i]);
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

/* eval.c — see eval.h: opening a run for evaluation, feature sources, the kNN and linear-probe
 * building blocks, and eval.csv. The protocols themselves are in eval_protocols.c, fine-tuning in
 * finetune.c. */
#include "downstream/eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "baselines/baseline.h"
#include "core/data/loader.h"
#include "core/io/eval_csv.h"
#include "core/io/rundir.h"
#include "core/nn/nn.h"
#include "core/optim/optim.h"
#include "core/train/features.h"
#include "core/train/train.h"
#include "downstream/knn.h"
#include "downstream/linear.h"

static const char *const PROTOCOL_NAMES[] = {"knn", "linear", "semisup", "longtail", "transfer"};

ClftStatus eval_protocol_parse(const char *name, EvalProtocol *out)
{
    for (int i = 0; i < 5; i++) {
        if (!strcmp(name, PROTOCOL_NAMES[i])) {
            *out = (EvalProtocol)i;
            return CLFT_OK;
        }
    }
    clft_set_error("--protocol: '%s' is not knn, linear, semisup, longtail or transfer", name);
    return CLFT_ERR_VALUE;
}

/* ---- results ---- */

void eval_results_add(EvalResults *res, const char *protocol, const char *dataset,
                      const char *split, const char *metric, double value, int epoch)
{
    if (res->n == res->cap) {
        res->cap = res->cap ? 2 * res->cap : 16;
        res->rows = xrealloc(res->rows, (size_t)res->cap * sizeof *res->rows);
    }
    res->rows[res->n++] = eval_row(protocol, dataset, split, metric, value, epoch);
}

void eval_results_free(EvalResults *res)
{
    free(res->rows);
    memset(res, 0, sizeof *res);
}

ClftStatus eval_results_append_csv(const EvalResults *res, const char *path)
{
    return eval_csv_append(path, res->rows, res->n);
}

void eval_results_print(const EvalResults *res, FILE *f)
{
    fprintf(f, "%-22s %-34s %-6s %-12s %8s %6s\n", "protocol", "dataset", "split", "metric",
            "value", "epoch");
    for (int i = 0; i < res->n; i++) {
        const EvalRow *r = &res->rows[i];
        fprintf(f, "%-22s %-34s %-6s %-12s %8.2f %6d\n", r->protocol, r->dataset, r->split,
                r->metric, r->value, r->epoch);
    }
}

void eval_source_name(char *out, size_t cap, const char *protocol, EvalSource src)
{
    static const char *const suffix[] = {"", "_pixels", "_random"};
    snprintf(out, cap, "%s%s", protocol, suffix[src]);
}

/* ---- opening a run ---- */

/* The checkpoint to evaluate and its epochs completed; the encoder's input channels. */
static ClftStatus open_ckpt(EvalRun *r, const EvalOptions *opt)
{
    if (opt->ckpt) {
        snprintf(r->ckpt, sizeof r->ckpt, "%s", opt->ckpt);
    } else {
        ClftStatus st = rundir_latest_ckpt(r->dir, r->ckpt, sizeof r->ckpt);
        if (st != CLFT_OK) return st;
        if (!r->ckpt[0]) {
            clft_set_error("%s: no checkpoint in %s/ckpt (pre-train first, or pass --ckpt FILE)",
                           r->dir, r->dir);
            return CLFT_ERR_IO;
        }
    }
    ClftStatus st = st_read(&r->ckpt_file, r->ckpt);
    if (st != CLFT_OK) return st;
    const StTensor *conv1 = st_find(&r->ckpt_file, "encoder_q.conv1.weight");
    if (!conv1 || conv1->ndim != 4) {
        clft_set_error("%s: not a clft pre-training checkpoint (no 4-d tensor "
                       "'encoder_q.conv1.weight')",
                       r->ckpt);
        return CLFT_ERR_FORMAT;
    }
    if (conv1->shape[1] < 1 || conv1->shape[1] > 64) { /* the range of model.in_channels */
        clft_set_error("%s: tensor 'encoder_q.conv1.weight' has %lld input channels, not in [1, 64]",
                       r->ckpt, (long long)conv1->shape[1]);
        return CLFT_ERR_FORMAT;
    }
    r->in_channels = (int)conv1->shape[1];
    const StTensor *pos = st_find(&r->ckpt_file, "position");
    r->epoch =
        pos && pos->dtype == ST_I64 && pos->nbytes >= 8 ? (int)((const int64_t *)pos->data)[0] : 0;
    return CLFT_OK;
}

ClftStatus eval_build_encoder(const EvalRun *r, Model *m, int N, int with_grads)
{
    ModelConfig mc = train_model_config(&r->cfg, r->in_channels);
    mc.in_channels = r->in_channels;
    mc.head = HEAD_NONE;
    ModelOptions mo = {.with_grads = with_grads, .bn_groups = 1};
    return model_init(m, r->be, &mc, N, r->in_channels, r->size, r->size, &mo);
}

ClftStatus eval_run_open(EvalRun *r, const char *dir, const EvalOptions *opt)
{
    memset(r, 0, sizeof *r);
    snprintf(r->dir, sizeof r->dir, "%s", dir);
    r->quiet = opt->quiet;
    char path[1200];
    path_join(path, sizeof path, dir, "config.ini");
    FILE *fp = fopen(path, "r");
    if (!fp) {
        clft_set_error("%s: no config.ini (not a run directory of clft pretrain?)", dir);
        return CLFT_ERR_IO;
    }
    fclose(fp);
    config_defaults(&r->cfg);
    ClftStatus st = config_load_ini(&r->cfg, path);
    if (st != CLFT_OK) return st;
    if (opt->device && config_set_kv(&r->cfg, "run", "device", opt->device, "--device") != CLFT_OK)
        return CLFT_ERR_VALUE;
    if (!(r->be = train_backend(&r->cfg, BACKEND_NEEDS_EVAL))) return CLFT_ERR_VALUE;
    r->spec = opt->data ? opt->data : r->cfg.data.spec;
    r->threads = r->cfg.data.workers > 0 ? r->cfg.data.workers : 1;
    if ((st = open_ckpt(r, opt)) != CLFT_OK) return st;
    Dataset *probe_ds;
    /* Opened unfiltered: only the channels and image size are read here. */
    if ((st = dataset_open(&probe_ds, r->spec, SPLIT_TEST, &(DatasetOptions){0})) != CLFT_OK)
        return st;
    int C = probe_ds->C, H = probe_ds->H;
    char name[64];
    snprintf(name, sizeof name, "%s", probe_ds->name);
    dataset_free(probe_ds);
    if (C != r->in_channels) {
        clft_set_error("%s has %d channel%s; the encoder in %s takes %d", name, C,
                       C == 1 ? "" : "s", r->ckpt, r->in_channels);
        return CLFT_ERR_SHAPE;
    }
    r->size = r->cfg.data.size ? r->cfg.data.size : H;
    if (r->size <= 0) {
        clft_set_error("data.size must be set in %s/config.ini for %s (its images vary in size)",
                       dir, r->spec);
        return CLFT_ERR_VALUE;
    }
    if ((st = eval_build_encoder(r, &r->enc, opt->batch > 0 ? opt->batch : EVAL_DEFAULT_BATCH,
                                 0)) != CLFT_OK)
        return st;
    return model_load(&r->enc, &r->ckpt_file, "encoder_q.");
}

void eval_run_close(EvalRun *r)
{
    for (int i = 0; i < EVAL_FEAT_CACHE; i++)
        free(r->cache[i].f), free(r->cache[i].l);
    if (r->enc.ops) model_free(&r->enc);
    if (r->ckpt_file.bytes) st_close(&r->ckpt_file);
    memset(r, 0, sizeof *r);
}

/* ---- data ---- */

ClftStatus eval_open_data(const EvalRun *r, DataSplit split, const int *classes, int n_keep,
                          int limit, Dataset **out)
{
    DatasetOptions o = train_dataset_options(&r->cfg);
    if (classes) {
        o.classes = classes;
        o.n_keep = n_keep;
    }
    o.limit = split == SPLIT_TRAIN ? limit : 0;
    ClftStatus st = dataset_open(out, r->spec, split, &o);
    if (st != CLFT_OK) return st;
    if ((*out)->C != r->in_channels) {
        clft_set_error("%s has %d channels; the encoder in %s takes %d", (*out)->name, (*out)->C,
                       r->ckpt, r->in_channels);
        dataset_free(*out);
        *out = NULL;
        return CLFT_ERR_SHAPE;
    }
    return CLFT_OK;
}

Dataset *eval_view(const Dataset *ds, const int *idx, int n)
{
    Dataset *v = xmalloc(sizeof *v);
    *v = *ds;
    v->n = n;
    v->labels = xmalloc((size_t)(n > 0 ? n : 1) * sizeof(int)); /* (n) */
    v->base = xmalloc((size_t)(n > 0 ? n : 1) * sizeof(int));   /* (n) */
    for (int i = 0; i < n; i++) {
        ASSERT(idx[i] >= 0 && idx[i] < ds->n);
        v->labels[i] = ds->labels[idx[i]];
        v->base[i] = ds->base[idx[i]];
    }
    return v;
}

void eval_view_free(Dataset *view)
{
    if (!view) return;
    free(view->labels);
    free(view->base);
    free(view);
}

/* The normalised, centre-cropped images themselves, flattened: (ds->n, C·H·W). */
static ClftStatus pixel_features(const EvalRun *r, const Dataset *ds, float *feats, int *labels)
{
    AugConfig aug = features_eval_aug(ds, r->size);
    LoaderOptions lo = {.batch = EVAL_DEFAULT_BATCH,
                        .threads = r->threads,
                        .seed = 0,
                        .views = 1,
                        .aug1 = &aug,
                        .aug2 = &aug,
                        .order = LOADER_SEQUENTIAL,
                        .tail = LOADER_KEEP_LAST};
    Loader *l;
    ClftStatus st = loader_init(&l, ds, &lo);
    if (st != CLFT_OK) return st;
    const size_t D = (size_t)ds->C * r->size * r->size;
    loader_seek(l, 0, 0);
    for (int s = 0, steps = loader_steps_per_epoch(l); s < steps && st == CLFT_OK; s++) {
        LoaderBatch b;
        if ((st = loader_next(l, &b)) != CLFT_OK) break;
        for (int i = 0; i < b.n; i++) {
            memcpy(feats + (size_t)b.indices[i] * D, b.x1 + (size_t)i * D, D * sizeof(float));
            labels[b.indices[i]] = b.labels[i];
        }
    }
    loader_free(l);
    return st;
}

static EvalFeatCache *cache_find(EvalRun *r, EvalSource src, const Dataset *ds)
{
    for (int i = 0; i < EVAL_FEAT_CACHE; i++) {
        EvalFeatCache *c = &r->cache[i];
        if (c->used && c->src == src && c->n == ds->n && !strcmp(c->name, ds->name)) return c;
    }
    return NULL;
}

static void cache_put(EvalRun *r, EvalSource src, const Dataset *ds, const float *f, const int *l,
                      int D)
{
    EvalFeatCache *c = NULL;
    for (int i = 0; i < EVAL_FEAT_CACHE && !c; i++)
        if (!r->cache[i].used) c = &r->cache[i];
    if (!c) return; /* full: extract again next time */
    const size_t n = (size_t)ds->n;
    *c = (EvalFeatCache){.used = 1, .src = src, .n = ds->n, .D = D};
    snprintf(c->name, sizeof c->name, "%s", ds->name);
    c->f = xmalloc((n ? n : 1) * D * sizeof(float));
    c->l = xmalloc((n ? n : 1) * sizeof(int));
    memcpy(c->f, f, n * D * sizeof(float));
    memcpy(c->l, l, n * sizeof(int));
}

static ClftStatus extract(EvalRun *r, EvalSource src, const Dataset *ds, float *feats, int *labels)
{
    AugConfig aug = features_eval_aug(ds, r->size);
    FeaturesOptions fo = {.aug = &aug, .threads = r->threads};
    if (src == EVAL_SOURCE_PIXELS) return pixel_features(r, ds, feats, labels);
    if (src == EVAL_SOURCE_ENCODER) return features_extract(&r->enc, ds, &fo, feats, labels);
    Model rnd;
    ClftStatus st = eval_build_encoder(r, &rnd, r->enc.N, 0);
    if (st != CLFT_OK) return st;
    Rng init;
    rng_init(&init, (uint64_t)r->cfg.run.seed, RNG_STREAM_INIT, 0, 0);
    model_init_weights(&rnd, &init);
    st = features_extract(&rnd, ds, &fo, feats, labels);
    model_free(&rnd);
    return st;
}

ClftStatus eval_features(EvalRun *r, EvalSource src, const Dataset *ds, float **feats, int **labels,
                         int *D)
{
    *D = src == EVAL_SOURCE_PIXELS ? ds->C * r->size * r->size : r->enc.feat_dim;
    *feats = xmalloc((size_t)ds->n * *D * sizeof(float));             /* (n, D) */
    *labels = xmalloc((size_t)(ds->n > 0 ? ds->n : 1) * sizeof(int)); /* (n) */
    /* Raw pixels are cheap to make again and large to keep: never cached. The callers own (and may
     * change) what they get, so a cache hit is a copy. */
    const int cacheable = r->cache_features && src != EVAL_SOURCE_PIXELS;
    const EvalFeatCache *hit = cacheable ? cache_find(r, src, ds) : NULL;
    if (hit) {
        memcpy(*feats, hit->f, (size_t)ds->n * *D * sizeof(float));
        memcpy(*labels, hit->l, (size_t)ds->n * sizeof(int));
        return CLFT_OK;
    }
    ClftStatus st = extract(r, src, ds, *feats, *labels);
    if (st == CLFT_OK && cacheable) cache_put(r, src, ds, *feats, *labels, *D);
    return st;
}

/* ---- kNN ---- */

ClftStatus eval_knn(EvalRun *r, EvalSource src, const Dataset *train, const Dataset *test,
                    const char *protocol, const char *dataset, EvalResults *res)
{
    float *ftr = NULL, *fte = NULL; /* (Ntr, D), (Nte, D) */
    int *ltr = NULL, *lte = NULL, D;
    ClftStatus st = eval_features(r, src, train, &ftr, &ltr, &D);
    if (st == CLFT_OK) st = eval_features(r, src, test, &fte, &lte, &D);
    TopkCounts counts = {0};
    if (st == CLFT_OK) {
        KnnOptions ko = {.k = r->cfg.eval.knn_k, .T = (float)r->cfg.eval.knn_t, .block_rows = 0};
        st = knn_evaluate((KnnSet){ftr, ltr, train->n}, (KnnSet){fte, lte, test->n}, D,
                          train->n_classes, &ko, &counts);
    }
    if (st == CLFT_OK) {
        char name[64];
        eval_source_name(name, sizeof name, protocol, src);
        eval_results_add(res, name, dataset, "test", "top1", 100.0 * topk_top1(&counts), r->epoch);
        eval_results_add(res, name, dataset, "test", "top5", 100.0 * topk_top5(&counts), r->epoch);
    }
    free(ftr), free(fte), free(ltr), free(lte);
    return st;
}

/* ---- linear probe ---- */

/* The probe's lr: base × 0.1 at each eval.linear_milestones epoch, the milestones scaled by
 * epochs / eval.linear_epochs when the probe runs for another number of epochs. */
static Schedule probe_schedule(const Config *c, float base, int epochs)
{
    Schedule s = {.kind = SCHEDULE_STEP,
                  .base_lr = base,
                  .epochs = epochs,
                  .n_milestones = c->eval.linear_milestones.n,
                  .gamma = 0.1};
    for (int i = 0; i < s.n_milestones; i++) {
        long m = c->eval.linear_milestones.v[i];
        if (epochs != c->eval.linear_epochs)
            m = lround((double)m * epochs / (double)c->eval.linear_epochs);
        s.milestones[i] = (int)m;
    }
    return s;
}

AugConfig eval_train_aug(const EvalRun *r)
{
    AugConfig a = aug_moco_v2(r->size, r->in_channels);
    a.scale_lo = 0.08f;
    a.scale_hi = 1.0f;
    a.jitter_p = 0.0f;
    a.gray_p = 0.0f;
    a.blur_p = 0.0f;
    a.flip_p = 0.5f;
    return a;
}

/* The augmented protocol's feed: the encoder's features of the training set under a random
 * transform whose draws are (run.seed, epoch, index). */
typedef struct {
    EvalRun *r;
    const Dataset *train;
    const AugConfig *aug;
    const LinearProbe *p;
} ProbeRefill;

static ClftStatus probe_refill(void *ctx, int epoch, float *X, int *labels)
{
    const ProbeRefill *f = ctx;
    EvalRun *r = f->r;
    if (!r->quiet)
        fprintf(stderr, "  linear probe epoch %d/%d (lr %g)\n", epoch + 1,
                f->p->opt.schedule.epochs, linear_probe_lr(&f->p->opt, epoch));
    FeaturesOptions fo = {
        .aug = f->aug, .threads = r->threads, .seed = (uint64_t)r->cfg.run.seed, .epoch = epoch};
    return features_extract(&r->enc, f->train, &fo, X, labels);
}

ClftStatus eval_linear(EvalRun *r, EvalSource src, const Dataset *train, const Dataset *test,
                       const EvalProbeTask *task, int *pred, EvalResults *res)
{
    float *ftr = NULL, *fte = NULL; /* (Ntr, D), (Nte, D) */
    int *ltr = NULL, *lte = NULL, D;
    int augmented = src == EVAL_SOURCE_ENCODER && task->probe == EVAL_PROBE_AUGMENTED;
    ClftStatus st = eval_features(r, src, test, &fte, &lte, &D);
    if (st == CLFT_OK && !augmented) st = eval_features(r, src, train, &ftr, &ltr, &D);
    if (st == CLFT_OK && augmented) {
        ftr = xmalloc((size_t)train->n * D * sizeof(float)); /* (Ntr, D) */
        ltr = xmalloc((size_t)(train->n > 0 ? train->n : 1) * sizeof(int));
    }
    if (st != CLFT_OK) goto done;
    const Config *c = &r->cfg;
    LinearProbeOptions o = LINEAR_PROBE_OPTIONS_DEFAULT;
    o.D = D;
    o.n_classes = train->n_classes;
    o.batch = c->eval.linear_batch;
    o.schedule =
        probe_schedule(c, src == EVAL_SOURCE_ENCODER ? task->lr : EVAL_FLOOR_LR, task->epochs);
    o.momentum = (float)c->eval.linear_momentum;
    o.weight_decay = (float)c->eval.linear_wd;
    o.seed = (uint64_t)c->run.seed;
    /* floors: standardised features (see eval.h) */
    o.standardize = src == EVAL_SOURCE_ENCODER ? PROBE_STANDARDIZE_OFF : PROBE_STANDARDIZE_ON;
    LinearProbe p;
    linear_probe_init(&p, &o);
    linear_probe_fit_standardization(&p, ftr, train->n);
    AugConfig aug = eval_train_aug(r);
    ProbeRefill refill = {.r = r, .train = train, .aug = &aug, .p = &p};
    LinearProbeFeed feed = {.refill = probe_refill, .ctx = &refill};
    st = linear_probe_train(&p, ftr, ltr, train->n, augmented ? &feed : NULL, NULL);
    const int diverged = p.diverged;
    if (diverged) st = CLFT_OK; /* recorded as nan below */
    char name[64];
    eval_source_name(name, sizeof name, task->protocol, src);
    if (st == CLFT_OK) {
        TopkCounts counts = linear_probe_eval(&p, fte, lte, test->n, pred);
        if (diverged)
            fprintf(stderr, "clft eval: warning: %s diverged (lr %g): recorded as nan\n", name,
                    o.schedule.base_lr);
        double t1 = diverged ? NAN : 100.0 * topk_top1(&counts);
        double t5 = diverged ? NAN : 100.0 * topk_top5(&counts);
        eval_results_add(res, name, task->dataset, "test", "top1", t1, r->epoch);
        eval_results_add(res, name, task->dataset, "test", "top5", t5, r->epoch);
    }
    linear_probe_free(&p);
done:
    free(ftr), free(fte), free(ltr), free(lte);
    return st;
}

/* loader.c — see loader.h. A mutex-protected claim counter hands out (batch, sample) pairs in
 * sequence order; a batch's slot is reused only after the consumer has moved past it. */
#include "core/data/loader.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"

typedef struct {
    float *x1, *x2;        /* (N, C, S, S) each */
    int *labels, *indices; /* (N) */
    long seq;              /* loader-sequence number of the batch in this slot, -1 = none */
    int n, done;
} Slot;

typedef struct {
    Loader *l;
    DataImage img;
    AugScratch scratch;
    pthread_t tid;
} Worker;

struct Loader {
    const Dataset *ds;
    LoaderOptions opt;
    AugConfig aug[2];
    int N, C, S, steps, R, min_side;
    int n_shard, shard_off; /* samples of this shard in each batch, and its first position */
    Slot *slots;       /* (R) */
    int e0, s0;        /* sequence number 0 is (epoch e0, step s0) */
    long claim_seq;    /* next (batch, sample) to hand out */
    int claim_j;
    long head;         /* next batch for the consumer */
    long released;     /* slots of batches < released may be reused */
    int busy, claim_ok, stop;
    ClftStatus failed; /* a worker's first error (its message in err); CLFT_OK = none */
    char err[512];
    int *perm;         /* (n) order of perm_epoch */
    int perm_epoch;
    pthread_mutex_t mu;
    pthread_cond_t work_cv, ready_cv, idle_cv;
    Worker *workers;   /* (threads) */
};

static void seq_pos(const Loader *l, long q, int *epoch, int *step)
{
    long k = (long)l->s0 + q;
    *epoch = l->e0 + (int)(k / l->steps);
    *step = (int)(k % l->steps);
}

static int batch_size(const Loader *l, int step)
{
    if (l->n_shard != l->N) return l->n_shard; /* sharded: every batch is full (DROP_LAST) */
    int left = l->ds->n - step * l->N;
    return left < l->N ? left : l->N;
}

/* The epoch's order (under the lock; recomputed only when the claimed epoch changes). */
static const int *epoch_perm(Loader *l, int epoch)
{
    if (l->perm_epoch != epoch) {
        if (l->opt.order == LOADER_SHUFFLE) {
            Rng r;
            rng_init(&r, l->opt.seed, RNG_STREAM_ORDER, (uint64_t)epoch, 0);
            rng_permutation(&r, l->perm, l->ds->n);
        } else {
            for (int i = 0; i < l->ds->n; i++) l->perm[i] = i;
        }
        l->perm_epoch = epoch;
    }
    return l->perm;
}

/* Decodes and augments dataset sample idx into position j of slot. */
static void process_sample(Worker *w, Slot *slot, int j, int epoch, int idx)
{
    Loader *l = w->l;
    size_t chw = (size_t)l->C * l->S * l->S;
    ClftStatus st = dataset_get(l->ds, idx, l->min_side, &w->img);
    if (st != CLFT_OK) {
        pthread_mutex_lock(&l->mu);
        if (!l->failed) {
            snprintf(l->err, sizeof l->err, "%s", clft_last_error());
            l->failed = st;
        }
        pthread_cond_broadcast(&l->ready_cv);
        pthread_mutex_unlock(&l->mu);
        return;
    }
    Rng r;
    rng_init(&r, l->opt.seed, RNG_STREAM_AUG, (uint64_t)epoch, (uint64_t)idx);
    const DataImage *im = &w->img;
    aug_apply(&l->aug[0], &r, im->pixels, im->H, im->W, im->C, slot->x1 + j * chw, &w->scratch);
    if (l->opt.views == 2)
        aug_apply(&l->aug[1], &r, im->pixels, im->H, im->W, im->C, slot->x2 + j * chw, &w->scratch);
    slot->labels[j] = im->label;
    slot->indices[j] = idx;
}

static void *worker_main(void *arg)
{
    Worker *w = arg;
    Loader *l = w->l;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (!l->stop && !(l->claim_ok && l->claim_seq < l->released + l->R))
            pthread_cond_wait(&l->work_cv, &l->mu);
        if (l->stop) break;
        long q = l->claim_seq;
        int j = l->claim_j, epoch, step;
        seq_pos(l, q, &epoch, &step);
        Slot *slot = &l->slots[q % l->R];
        if (j == 0) slot->seq = q, slot->done = 0, slot->n = batch_size(l, step);
        if (++l->claim_j == slot->n) l->claim_seq++, l->claim_j = 0;
        int idx = epoch_perm(l, epoch)[step * l->N + l->shard_off + j];
        l->busy++;
        pthread_mutex_unlock(&l->mu);
        process_sample(w, slot, j, epoch, idx);
        pthread_mutex_lock(&l->mu);
        l->busy--;
        if (++slot->done == slot->n) pthread_cond_broadcast(&l->ready_cv);
        if (l->busy == 0) pthread_cond_broadcast(&l->idle_cv);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

static ClftStatus check_options(const Dataset *ds, const LoaderOptions *o)
{
    if (o->batch < 1 || o->threads < 1 || (o->views != 1 && o->views != 2) || !o->aug1 ||
        (o->views == 2 && !o->aug2)) {
        clft_set_error("loader: needs batch >= 1, threads >= 1, views 1 or 2 with their aug configs");
        return CLFT_ERR_VALUE;
    }
    if (o->shards > 1 && (o->tail != LOADER_DROP_LAST || o->batch % o->shards || o->shard < 0 ||
                          o->shard >= o->shards)) {
        clft_set_error("loader: %d shards of batch %d (shard %d) need drop-last batches that the "
                       "shards divide",
                       o->shards, o->batch, o->shard);
        return CLFT_ERR_VALUE;
    }
    if (o->tail == LOADER_DROP_LAST && o->batch > ds->n) {
        clft_set_error("loader: batch %d exceeds the %d samples of %s", o->batch, ds->n, ds->name);
        return CLFT_ERR_VALUE;
    }
    if (o->aug1->channels != ds->C || (o->views == 2 && (o->aug2->channels != ds->C ||
                                                         o->aug2->size != o->aug1->size))) {
        clft_set_error("loader: aug configs must match %s's %d channels and each other's size",
                       ds->name, ds->C);
        return CLFT_ERR_VALUE;
    }
    return CLFT_OK;
}

/* A view's batch buffer: pinned memory from the consuming device's backend when it offers it. */
static float *batch_alloc(const Loader *l, size_t bytes)
{
    const Backend *be = l->opt.pinned;
    if (!be || !be->host_alloc) return xaligned_alloc(bytes);
    float *p = be->host_alloc(bytes);
    if (!p) clft_die("out of pinned host memory for the loader's batches (%zu bytes, %s)", bytes, be->name);
    return p;
}

static void batch_free(const Loader *l, float *p)
{
    const Backend *be = l->opt.pinned;
    if (be && be->host_alloc)
        be->host_free(p);
    else
        free(p);
}

static void alloc_slots(Loader *l)
{
    size_t chw = (size_t)l->C * l->S * l->S;
    l->slots = xcalloc((size_t)l->R, sizeof(Slot));
    for (int k = 0; k < l->R; k++) {
        Slot *s = &l->slots[k];
        s->x1 = batch_alloc(l, sizeof(float) * l->n_shard * chw);
        s->x2 = l->opt.views == 2 ? batch_alloc(l, sizeof(float) * l->n_shard * chw) : NULL;
        s->labels = xmalloc(sizeof(int) * (size_t)l->n_shard);
        s->indices = xmalloc(sizeof(int) * (size_t)l->n_shard);
        s->seq = -1;
    }
}

ClftStatus loader_init(Loader **out, const Dataset *ds, const LoaderOptions *opt)
{
    ClftStatus st = check_options(ds, opt);
    if (st != CLFT_OK) return st;
    Loader *l = xcalloc(1, sizeof *l);
    l->ds = ds, l->opt = *opt;
    l->aug[0] = *opt->aug1;
    l->aug[1] = opt->views == 2 ? *opt->aug2 : *opt->aug1;
    l->N = opt->batch, l->C = ds->C, l->S = opt->aug1->size;
    l->n_shard = opt->shards > 1 ? l->N / opt->shards : l->N;
    l->shard_off = opt->shards > 1 ? opt->shard * l->n_shard : 0;
    l->steps = opt->tail == LOADER_DROP_LAST ? ds->n / l->N : (ds->n + l->N - 1) / l->N;
    l->R = (opt->ring > 0 ? opt->ring : 2) + 1; /* + the slot the consumer holds */
    int m0 = aug_min_side(&l->aug[0]), m1 = aug_min_side(&l->aug[1]);
    l->min_side = m0 > m1 ? m0 : m1;
    l->perm = xmalloc(sizeof(int) * (size_t)ds->n);
    l->perm_epoch = -1;
    alloc_slots(l);
    l->claim_ok = 1;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->work_cv, NULL);
    pthread_cond_init(&l->ready_cv, NULL);
    pthread_cond_init(&l->idle_cv, NULL);
    l->workers = xcalloc((size_t)opt->threads, sizeof(Worker));
    for (int t = 0; t < opt->threads; t++) {
        l->workers[t].l = l;
        if (pthread_create(&l->workers[t].tid, NULL, worker_main, &l->workers[t]) != 0) {
            clft_set_error("loader: cannot start worker thread %d of %d", t + 1, opt->threads);
            l->opt.threads = t; /* loader_free joins the ones that started */
            loader_free(l);
            return CLFT_ERR_IO;
        }
    }
    *out = l;
    return CLFT_OK;
}

ClftStatus loader_next(Loader *l, LoaderBatch *b)
{
    pthread_mutex_lock(&l->mu);
    l->released = l->head; /* the batch returned last time is no longer used */
    pthread_cond_broadcast(&l->work_cv);
    Slot *slot = &l->slots[l->head % l->R];
    while (!l->failed && !(slot->seq == l->head && slot->done == slot->n))
        pthread_cond_wait(&l->ready_cv, &l->mu);
    if (l->failed) {
        pthread_mutex_unlock(&l->mu);
        clft_set_error("%s", l->err);
        return l->failed;
    }
    *b = (LoaderBatch){.x1 = slot->x1, .x2 = slot->x2, .labels = slot->labels,
                       .indices = slot->indices, .n = slot->n, .C = l->C, .H = l->S, .W = l->S};
    seq_pos(l, l->head, &b->epoch, &b->step);
    l->head++;
    pthread_mutex_unlock(&l->mu);
    return CLFT_OK;
}

void loader_seek(Loader *l, int epoch, int step)
{
    ASSERT(epoch >= 0 && step >= 0 && step < l->steps);
    pthread_mutex_lock(&l->mu);
    l->claim_ok = 0;
    while (l->busy > 0) pthread_cond_wait(&l->idle_cv, &l->mu);
    l->e0 = epoch, l->s0 = step;
    l->claim_seq = 0, l->claim_j = 0, l->head = 0, l->released = 0;
    for (int k = 0; k < l->R; k++) l->slots[k].seq = -1;
    l->claim_ok = 1;
    pthread_cond_broadcast(&l->work_cv);
    pthread_mutex_unlock(&l->mu);
}

int loader_steps_per_epoch(const Loader *l) { return l->steps; }

void loader_free(Loader *l)
{
    if (!l) return;
    pthread_mutex_lock(&l->mu);
    l->stop = 1;
    pthread_cond_broadcast(&l->work_cv);
    pthread_mutex_unlock(&l->mu);
    for (int t = 0; t < l->opt.threads; t++) {
        pthread_join(l->workers[t].tid, NULL);
        data_image_free(&l->workers[t].img);
        aug_scratch_free(&l->workers[t].scratch);
    }
    for (int k = 0; k < l->R; k++) {
        batch_free(l, l->slots[k].x1);
        if (l->slots[k].x2) batch_free(l, l->slots[k].x2);
        free(l->slots[k].labels), free(l->slots[k].indices);
    }
    free(l->slots), free(l->perm), free(l->workers);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->work_cv);
    pthread_cond_destroy(&l->ready_cv);
    pthread_cond_destroy(&l->idle_cv);
    free(l);
}

/* checkpoint.c — see checkpoint.h. */
#include "core/train/checkpoint.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

ClftStatus checkpoint_save(const char *path, Moco *mc, const TrainPosition *pos,
                           const char *config_text)
{
    const Backend *be = mc->be;
    StWriter w;
    st_writer_init(&w);
    model_save(&mc->q, &w, "encoder_q.");
    model_save(&mc->k, &w, "encoder_k.");
    /* The optimiser state and the queue, read from the backend (in place on host memory). */
    const size_t n_opt = mc->q.param_arena.cap, n_queue = (size_t)mc->queue.K * mc->queue.D;
    float *mirror = be->host_memory ? NULL : xmalloc((n_opt + n_queue) * sizeof(float));
    const float *opt = backend_read(be, mirror, mc->optim_arena.base, n_opt * sizeof(float));
    const float *queue = backend_read(be, mirror ? mirror + n_opt : NULL, mc->queue.data,
                                      n_queue * sizeof(float));
    int64_t n_param[1] = {(int64_t)n_opt};
    st_writer_add(&w, "optim.momentum_buffer", ST_F32, 1, n_param, opt);
    int64_t qshape[2] = {mc->queue.K, mc->queue.D}, one[1] = {1}, four[1] = {4}, three[1] = {3};
    st_writer_add(&w, "queue", ST_F32, 2, qshape, queue);
    int64_t ptr[1] = {mc->queue.ptr};
    st_writer_add(&w, "queue_ptr", ST_I64, 1, one, ptr);
    st_writer_add(&w, "rng.shuffle", ST_I64, 1, four, mc->rng_shuffle.s);
    st_writer_add(&w, "rng.ft", ST_I64, 1, four, mc->rng_ft.s);
    int64_t position[3] = {pos->epoch, pos->step, pos->step_in_epoch};
    st_writer_add(&w, "position", ST_I64, 1, three, position);
    st_writer_add(&w, "elapsed_s", ST_F64, 1, one, &pos->elapsed_s);
    st_writer_meta(&w, "config", config_text ? config_text : "");
    st_writer_meta(&w, "commit", CLFT_GIT_COMMIT);
    char world[16];
    snprintf(world, sizeof world, "%d", mc->world > 0 ? mc->world : 1);
    st_writer_meta(&w, "world_size", world);
    st_writer_meta(&w, "format", CHECKPOINT_FORMAT);
    ClftStatus st = st_write(&w, path);
    st_writer_free(&w);
    free(mirror);
    return st;
}

/* The tensor `name` of exactly this dtype and shape (ndim dims), or NULL with the reason set. */
static const StTensor *expect_tensor(const StFile *f, const char *name, StDtype dtype, int ndim,
                                     const int64_t *shape)
{
    const StTensor *t = st_find(f, name);
    if (!t) {
        clft_set_error("%s: not a clft checkpoint (no tensor '%s')", f->path, name);
        return NULL;
    }
    int same = t->dtype == dtype && t->ndim == ndim;
    for (int d = 0; same && d < ndim; d++) same = t->shape[d] == shape[d];
    if (!same) {
        char want[96], got[96];
        st_format_shape(want, sizeof want, ndim, shape);
        st_format_shape(got, sizeof got, t->ndim, t->shape);
        clft_set_error("%s: tensor '%s' is %s %s, this run expects %s %s (another configuration?)",
                       f->path, name, st_dtype_name(t->dtype), got, st_dtype_name(dtype), want);
        return NULL;
    }
    return t;
}

static int all_finite(const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) return 0;
    return 1;
}

/* The resolved config the checkpoint was written with, against the run's: keys that may change
 * on resume (where and how fast it runs, not what it computes) are left out. */
static ClftStatus check_config(const StFile *f, const Config *want)
{
    static const char *const may_differ[] = {"run.name",   "run.out",      "run.device",
                                             "run.precision", "run.deterministic",
                                             "run.threads", "run.keep_ckpt", "data.workers",
                                             NULL};
    const char *text = st_metadata(f, "config");
    Config have;
    config_defaults(&have);
    if (!text || config_load_string(&have, text, f->path) != CLFT_OK) {
        char why[600];
        snprintf(why, sizeof why, "%s", text ? clft_last_error() : "no config in its metadata");
        clft_set_error("%s: the checkpoint's config is unreadable: %s", f->path, why);
        return CLFT_ERR_FORMAT;
    }
    char diff[1500];
    int n = config_diff(&have, want, may_differ, diff, sizeof diff);
    if (n > 0) {
        clft_set_error("%s was written with another configuration (%d key%s: %s); resume "
                       "with the same settings, or start afresh with --resume never",
                       f->path, n, n == 1 ? " differs" : "s differ", diff);
        return CLFT_ERR_VALUE;
    }
    return CLFT_OK;
}

/* The number of processes the checkpoint's run had against this run's: the same data with
 * another world size is another sequence of steps (BN groups, shards), so the resume is refused. */
static ClftStatus check_world(const StFile *f, int want)
{
    const char *text = st_metadata(f, "world_size");
    long have = 1; /* written before data parallelism: one process */
    if (text && parse_int(text, 1, 1 << 20, &have) != CLFT_OK) {
        clft_set_error("%s: world_size '%s' in its metadata is not a process count", f->path, text);
        return CLFT_ERR_FORMAT;
    }
    if (have == want) return CLFT_OK;
    char how[64];
    if (have == 1) snprintf(how, sizeof how, "one process (no mpirun)");
    else snprintf(how, sizeof how, "mpirun -np %ld", have);
    clft_set_error("%s was written by a run of %ld process%s and this run has %d (another "
                   "configuration: world_size differs); resume with %s, or start afresh with "
                   "--resume never",
                   f->path, have, have == 1 ? "" : "es", want, how);
    return CLFT_ERR_VALUE;
}

/* The position (epochs completed, global steps, steps into the current epoch) of a run of
 * `e->epochs` epochs of `e->steps_per_epoch` steps. */
static ClftStatus check_position(const StFile *f, const int64_t *p, const CheckpointExpect *e)
{
    const long spe = e->steps_per_epoch;
    int ok = p[0] >= 0 && p[0] <= e->epochs && p[2] >= 0 && p[2] < spe && p[1] == p[0] * spe + p[2] &&
             (p[0] < e->epochs || p[2] == 0);
    if (ok) return CLFT_OK;
    clft_set_error("%s: position (epoch %lld, step %lld, step in epoch %lld) is impossible for a "
                   "run of %d epochs of %ld steps",
                   f->path, (long long)p[0], (long long)p[1], (long long)p[2], e->epochs, spe);
    return CLFT_ERR_FORMAT;
}

/* Everything checkpoint_load reads, checked before anything is changed. */
static ClftStatus validate(const StFile *f, const Moco *mc, const CheckpointExpect *e)
{
    const char *format = st_metadata(f, "format");
    if (!format || strcmp(format, CHECKPOINT_FORMAT)) {
        clft_set_error("%s: format '%s' is not %s (not a clft checkpoint, or one of another "
                       "version)",
                       f->path, format ? format : "(none)", CHECKPOINT_FORMAT);
        return CLFT_ERR_FORMAT;
    }
    ClftStatus st = model_check(&mc->q, f, "encoder_q.");
    if (st == CLFT_OK) st = model_check(&mc->k, f, "encoder_k.");
    if (st != CLFT_OK) return st;
    const int64_t n_opt[1] = {(int64_t)mc->q.param_arena.cap}, qs[2] = {mc->queue.K, mc->queue.D};
    const int64_t one[1] = {1}, three[1] = {3}, four[1] = {4};
    const StTensor *opt = expect_tensor(f, "optim.momentum_buffer", ST_F32, 1, n_opt);
    const StTensor *queue = expect_tensor(f, "queue", ST_F32, 2, qs);
    const StTensor *ptr = expect_tensor(f, "queue_ptr", ST_I64, 1, one);
    const StTensor *rs = expect_tensor(f, "rng.shuffle", ST_I64, 1, four);
    const StTensor *rf = expect_tensor(f, "rng.ft", ST_I64, 1, four);
    const StTensor *pos = expect_tensor(f, "position", ST_I64, 1, three);
    const StTensor *el = expect_tensor(f, "elapsed_s", ST_F64, 1, one);
    if (!opt || !queue || !ptr || !rs || !rf || !pos || !el) return CLFT_ERR_FORMAT;
    if (!all_finite(opt->data, (size_t)n_opt[0]) || !all_finite(queue->data, (size_t)(qs[0] * qs[1]))) {
        clft_set_error("%s: the %s holds a non-finite value", f->path,
                       all_finite(opt->data, (size_t)n_opt[0]) ? "queue" : "optimiser state");
        return CLFT_ERR_FORMAT;
    }
    const int64_t p = *(const int64_t *)ptr->data;
    if (p < 0 || p >= mc->queue.K) {
        clft_set_error("%s: queue_ptr %lld outside [0, %d)", f->path, (long long)p, mc->queue.K);
        return CLFT_ERR_FORMAT;
    }
    const StTensor *rngs[2] = {rs, rf};
    for (int i = 0; i < 2; i++) {
        const uint64_t *w = rngs[i]->data;
        if (!(w[0] | w[1] | w[2] | w[3])) { /* xoshiro256** never leaves the all-zero state */
            clft_set_error("%s: random stream %s is all zero (not a state the generator reaches)",
                           f->path, i ? "rng.ft" : "rng.shuffle");
            return CLFT_ERR_FORMAT;
        }
    }
    const double elapsed = *(const double *)el->data;
    if (!(elapsed >= 0.0 && isfinite(elapsed))) {
        clft_set_error("%s: elapsed_s = %g is not a time", f->path, elapsed);
        return CLFT_ERR_FORMAT;
    }
    if (!e) return CLFT_OK;
    /* the configuration first: another one also makes a sound position look impossible */
    if (e->cfg && (st = check_config(f, e->cfg)) != CLFT_OK) return st;
    if (e->world_size > 0 && (st = check_world(f, e->world_size)) != CLFT_OK) return st;
    return check_position(f, pos->data, e);
}

ClftStatus checkpoint_load(const char *path, Moco *mc, const CheckpointExpect *e,
                           TrainPosition *pos)
{
    StFile f;
    ClftStatus st = st_read(&f, path);
    if (st != CLFT_OK) return st;
    if ((st = validate(&f, mc, e)) != CLFT_OK) {
        st_close(&f);
        return st;
    }
    /* Valid: now, and only now, the state changes. */
    model_load(&mc->q, &f, "encoder_q.");
    model_load(&mc->k, &f, "encoder_k.");
    const Backend *be = mc->be;
    be->upload(mc->optim_arena.base, st_find(&f, "optim.momentum_buffer")->data,
               mc->q.param_arena.cap * sizeof(float));
    be->upload(mc->queue.data, st_find(&f, "queue")->data,
               (size_t)mc->queue.K * mc->queue.D * sizeof(float));
    mc->queue.ptr = (int)*(const int64_t *)st_find(&f, "queue_ptr")->data;
    memcpy(mc->rng_shuffle.s, st_find(&f, "rng.shuffle")->data, sizeof mc->rng_shuffle.s);
    memcpy(mc->rng_ft.s, st_find(&f, "rng.ft")->data, sizeof mc->rng_ft.s);
    const int64_t *p = st_find(&f, "position")->data;
    pos->epoch = (int)p[0];
    pos->step = (long)p[1];
    pos->step_in_epoch = (int)p[2];
    pos->elapsed_s = *(const double *)st_find(&f, "elapsed_s")->data;
    st_close(&f);
    return CLFT_OK;
}

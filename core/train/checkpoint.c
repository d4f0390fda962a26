/* checkpoint.c — see checkpoint.h. */
#include "core/train/checkpoint.h"

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
    st_writer_meta(&w, "format", "clft-checkpoint-1");
    ClftStatus st = st_write(&w, path);
    st_writer_free(&w);
    free(mirror);
    return st;
}

/* The tensor `name` of exactly `nbytes` bytes and dtype, or NULL with the reason set. */
static const StTensor *find_exact(const StFile *f, const char *name, StDtype dtype, size_t nbytes)
{
    const StTensor *t = st_find(f, name);
    if (!t) {
        clft_set_error("%s: not a clft checkpoint (no tensor '%s')", f->path, name);
        return NULL;
    }
    if (t->dtype != dtype || t->nbytes != nbytes) {
        clft_set_error("%s: tensor '%s' has %zu bytes, this run expects %zu (another configuration?)",
                       f->path, name, t->nbytes, nbytes);
        return NULL;
    }
    return t;
}

/* Copies tensor `name` into host memory dst. */
static ClftStatus take(const StFile *f, const char *name, StDtype dtype, void *dst, size_t nbytes)
{
    const StTensor *t = find_exact(f, name, dtype, nbytes);
    if (!t) return CLFT_ERR_FORMAT;
    memcpy(dst, t->data, nbytes);
    return CLFT_OK;
}

/* Uploads tensor `name` into the backend buffer dst. */
static ClftStatus take_upload(const Backend *be, const StFile *f, const char *name, void *dst,
                              size_t nbytes)
{
    const StTensor *t = find_exact(f, name, ST_F32, nbytes);
    if (!t) return CLFT_ERR_FORMAT;
    be->upload(dst, t->data, nbytes);
    return CLFT_OK;
}

ClftStatus checkpoint_load(const char *path, Moco *mc, TrainPosition *pos)
{
    StFile f;
    ClftStatus st = st_read(&f, path);
    if (st != CLFT_OK) return st;
    int64_t ptr = 0, position[3] = {0, 0, 0};
    if ((st = model_load(&mc->q, &f, "encoder_q.")) != CLFT_OK) goto done;
    if ((st = model_load(&mc->k, &f, "encoder_k.")) != CLFT_OK) goto done;
    st = take_upload(mc->be, &f, "optim.momentum_buffer", mc->optim_arena.base,
                     mc->q.param_arena.cap * sizeof(float));
    if (st != CLFT_OK) goto done;
    st = take_upload(mc->be, &f, "queue", mc->queue.data,
                     (size_t)mc->queue.K * mc->queue.D * sizeof(float));
    if (st != CLFT_OK) goto done;
    if ((st = take(&f, "queue_ptr", ST_I64, &ptr, sizeof ptr)) != CLFT_OK) goto done;
    if ((st = take(&f, "rng.shuffle", ST_I64, mc->rng_shuffle.s, 32)) != CLFT_OK) goto done;
    if ((st = take(&f, "rng.ft", ST_I64, mc->rng_ft.s, 32)) != CLFT_OK) goto done;
    if ((st = take(&f, "position", ST_I64, position, sizeof position)) != CLFT_OK) goto done;
    if ((st = take(&f, "elapsed_s", ST_F64, &pos->elapsed_s, sizeof(double))) != CLFT_OK) goto done;
    if (ptr < 0 || ptr >= mc->queue.K) {
        clft_set_error("%s: queue_ptr %lld outside [0, %d)", path, (long long)ptr, mc->queue.K);
        st = CLFT_ERR_FORMAT;
        goto done;
    }
    mc->queue.ptr = (int)ptr;
    pos->epoch = (int)position[0];
    pos->step = (long)position[1];
    pos->step_in_epoch = (int)position[2];
done:
    st_close(&f);
    return st;
}

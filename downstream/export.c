/* export.c — see export.h. */
#include "downstream/export.h"

#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "core/io/rundir.h"

static ClftStatus make_parent_dir(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    const char *dir = dirname(buf);
    if (!strcmp(dir, ".")) return CLFT_OK;
    return rundir_create(dir);
}

ClftStatus export_torchvision(EvalRun *r, const char *path)
{
    ClftStatus st = make_parent_dir(path);
    if (st != CLFT_OK) return st;
    const Config *c = &r->cfg;
    StWriter w;
    st_writer_init(&w);
    model_save(&r->enc, &w, "");
    char num[5][24];
    snprintf(num[0], sizeof num[0], "%d", c->model.width);
    snprintf(num[1], sizeof num[1], "%d", c->model.stages);
    snprintf(num[2], sizeof num[2], "%d", c->model.blocks);
    snprintf(num[3], sizeof num[3], "%d", r->in_channels);
    snprintf(num[4], sizeof num[4], "%d", r->epoch);
    st_writer_meta(&w, "format", "clft-torchvision-1");
    st_writer_meta(&w, "arch", config_enum_name("model", "arch", (int)c->model.arch));
    st_writer_meta(&w, "stem", config_enum_name("model", "stem", (int)c->model.stem));
    st_writer_meta(&w, "width", num[0]);
    st_writer_meta(&w, "stages", num[1]);
    st_writer_meta(&w, "blocks", num[2]);
    st_writer_meta(&w, "in_channels", num[3]);
    st_writer_meta(&w, "epoch", num[4]);
    st_writer_meta(&w, "source", r->ckpt);
    st_writer_meta(&w, "commit", CLFT_GIT_COMMIT);
    st = st_write(&w, path);
    st_writer_free(&w);
    return st;
}

ClftStatus export_features(EvalRun *r, const char *path)
{
    ClftStatus st = make_parent_dir(path);
    if (st != CLFT_OK) return st;
    Model *m = &r->enc;
    const size_t n_in = (size_t)m->N * m->C * m->H * m->W;
    float *x = xmalloc(n_in * sizeof(float)); /* (N, C, H, W) */
    Rng rng;
    rng_init(&rng, 0, RNG_STREAM_EVAL, 6, 0);
    for (size_t i = 0; i < n_in; i++)
        x[i] = (float)rng_normal(&rng);
    const Backend *be = m->be;
    float *x_dev = be->host_memory ? NULL : backend_alloc(be, n_in * sizeof(float));
    float *f_host = be->host_memory ? NULL : xmalloc((size_t)m->N * m->feat_dim * sizeof(float));
    model_forward(m, backend_write(be, x_dev, x, n_in * sizeof(float)), MODEL_EVAL);
    StWriter w;
    st_writer_init(&w);
    int64_t xs[4] = {m->N, m->C, m->H, m->W}, fs[2] = {m->N, m->feat_dim};
    st_writer_add(&w, "input", ST_F32, 4, xs, x);
    st_writer_add(&w, "features", ST_F32, 2, fs,
                  backend_read(be, f_host, model_features(m), (size_t)fs[0] * fs[1] * sizeof(float)));
    st = st_write(&w, path);
    st_writer_free(&w);
    free(x);
    free(f_host);
    backend_free(be, x_dev);
    return st;
}

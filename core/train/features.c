/* features.c — see features.h. */
#include "core/train/features.h"

#include <stdlib.h>
#include <string.h>

#include "core/data/loader.h"

AugConfig features_eval_aug(const Dataset *ds, int size)
{
    if (ds->H == size && ds->W == size) return aug_eval(size, size, ds->C);
    return aug_eval(size * 8 / 7, size, ds->C);
}

ClftStatus features_extract(Model *m, const Dataset *ds, const FeaturesOptions *opt, float *feats,
                            int *labels)
{
    if (ds->C != m->C) {
        clft_set_error("%s has %d channels; the encoder was trained on %d", ds->name, ds->C, m->C);
        return CLFT_ERR_SHAPE;
    }
    LoaderOptions lo = {.batch = m->N,
                        .threads = opt->threads > 0 ? opt->threads : 1,
                        .seed = opt->seed,
                        .views = 1,
                        .aug1 = opt->aug,
                        .aug2 = opt->aug,
                        .order = LOADER_SEQUENTIAL,
                        .tail = LOADER_KEEP_LAST,
                        .pinned = m->be};
    Loader *l;
    ClftStatus st = loader_init(&l, ds, &lo);
    if (st != CLFT_OK) return st;
    const Backend *be = m->be;
    const size_t img = (size_t)m->C * m->H * m->W;
    const size_t batch_bytes = (size_t)m->N * img * sizeof(float);
    const size_t feat_bytes = (size_t)m->N * m->feat_dim * sizeof(float);
    float *pad = NULL; /* (N, C, H, W) for the last, partial batch */
    /* the batch upload and the features' download (device backends only) */
    float *x_dev = be->host_memory ? NULL : backend_alloc(be, batch_bytes);
    float *f_host = be->host_memory ? NULL : xmalloc(feat_bytes);
    loader_seek(l, opt->epoch, 0);
    int steps = loader_steps_per_epoch(l);
    for (int s = 0; s < steps; s++) {
        LoaderBatch b;
        if ((st = loader_next(l, &b)) != CLFT_OK) break;
        const float *x = b.x1;
        if (b.n < m->N) {
            if (!pad) pad = xcalloc((size_t)m->N * img, sizeof(float));
            memcpy(pad, b.x1, (size_t)b.n * img * sizeof(float));
            x = pad;
        }
        model_forward(m, backend_write(be, x_dev, x, batch_bytes), MODEL_EVAL);
        const float *f = backend_read(be, f_host, model_features(m), feat_bytes);
        for (int i = 0; i < b.n; i++) {
            memcpy(feats + (size_t)b.indices[i] * m->feat_dim, f + (size_t)i * m->feat_dim,
                   (size_t)m->feat_dim * sizeof(float));
            labels[b.indices[i]] = b.labels[i];
        }
    }
    free(pad);
    free(f_host);
    backend_free(be, x_dev);
    loader_free(l);
    return st;
}

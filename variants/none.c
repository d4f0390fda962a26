/* none.c — the identity variant: plain MoCo. q̂ = q, k̂ = k, queuê = queue. */
#include <stddef.h>
#include <stdlib.h>

#include "core/common.h"
#include "variants/variant.h"

typedef struct {
    const Backend *be;
    int N, D;
} NoneState;

static void *none_create(const VariantOptions *opt, const Backend *be, int N, int D, int K)
{
    (void)opt;
    (void)K;
    NoneState *s = xmalloc(sizeof *s);
    s->be = be;
    s->N = N;
    s->D = D;
    return s;
}

static void none_forward(void *self, const VariantInput *in, Rng *rng, VariantOutput *out)
{
    (void)self;
    (void)rng;
    out->q = in->q;
    out->k = in->k;
    out->queue = in->queue;
    out->extra = NULL;
    out->E = 0;
}

/* dq += dL/dq̂; k̂ = k does not depend on q, so dL/dk̂ contributes nothing. */
static void none_backward(void *self, const float *dq_hat, const float *dk_hat, float *dq)
{
    const NoneState *s = self;
    (void)dk_hat;
    s->be->add_inplace(dq, dq_hat, (size_t)s->N * s->D);
}

static void none_destroy(void *self) { free(self); }

const Variant variant_none = {
    .name = "none",
    .preset = NULL,
    .n_extra = NULL,
    .summary = "plain MoCo (identity)",
    .create = none_create,
    .forward = none_forward,
    .backward = none_backward,
    .destroy = none_destroy,
};

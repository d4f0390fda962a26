/* mochi.c — hard negative mixing (Kalantidis et al., NeurIPS 2020); see mochi.h. */
#include "variants/mochi.h"

#include <stdlib.h>

#include "core/common.h"

struct MochiState {
    VariantOptions opt;
    const Backend *be;
    int N, D, K, n_hard, s, sp, E;
    /* On the backend: */
    float *scratch; /* topk_scratch_floats(K, n_hard): the score block and the heap */
    int *hard;      /* (N, n_hard) each query's hardest queue rows */
    float *extra;   /* (N, E, D) */
    int *pos_a_dev, *pos_b_dev; /* (N, E) */
    float *coef_dev;            /* (N, E) */
    /* On the host, where they are drawn: positions into a query's hard list (−1: the query) */
    int *pos_a, *pos_b; /* (N, E) */
    float *coef;        /* (N, E) α or β */
    /* mochi_trace: the hard rows and the picked queue rows, filled on demand */
    int *hard_host, *src_a, *src_b; /* (N, n_hard), (N, E), (N, E) */
};

void mochi_sizes(const VariantOptions *opt, int K, int *n_hard, int *s, int *s_prime)
{
    int nh = opt->mochi_n_hard >= 0 ? opt->mochi_n_hard : K / 64;
    nh = nh < 2 ? 2 : nh;
    nh = nh > K ? K : nh;
    *n_hard = nh;
    *s = opt->mochi_s >= 0 ? opt->mochi_s : nh;
    *s_prime = opt->mochi_s_prime >= 0 ? opt->mochi_s_prime : (nh / 8 > 1 ? nh / 8 : 1);
}

MochiState *mochi_create(const VariantOptions *opt, const Backend *be, int N, int D, int K)
{
    ASSERT(N > 0 && D > 0 && K >= 2);
    MochiState *m = xcalloc(1, sizeof *m);
    m->opt = *opt;
    m->be = be;
    m->N = N;
    m->D = D;
    m->K = K;
    mochi_sizes(opt, K, &m->n_hard, &m->s, &m->sp);
    m->E = m->s + m->sp;
    size_t NE = (size_t)N * (m->E > 0 ? m->E : 1);
    m->scratch = backend_alloc(be, topk_scratch_floats(K, m->n_hard) * sizeof(float));
    m->hard = backend_alloc(be, (size_t)N * m->n_hard * sizeof(int));
    m->extra = backend_alloc(be, NE * D * sizeof(float));
    m->pos_a_dev = backend_alloc(be, NE * sizeof(int));
    m->pos_b_dev = backend_alloc(be, NE * sizeof(int));
    m->coef_dev = backend_alloc(be, NE * sizeof(float));
    m->pos_a = xcalloc(NE, sizeof(int));
    m->pos_b = xcalloc(NE, sizeof(int));
    m->coef = xcalloc(NE, sizeof(float));
    m->hard_host = xcalloc((size_t)N * m->n_hard, sizeof(int));
    m->src_a = xcalloc(NE, sizeof(int));
    m->src_b = xcalloc(NE, sizeof(int));
    return m;
}

void mochi_destroy(MochiState *m)
{
    if (!m) return;
    void *dev[] = {m->scratch, m->hard, m->extra, m->pos_a_dev, m->pos_b_dev, m->coef_dev};
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++) backend_free(m->be, dev[i]);
    free(m->pos_a);
    free(m->pos_b);
    free(m->coef);
    free(m->hard_host);
    free(m->src_a);
    free(m->src_b);
    free(m);
}

int mochi_n_extra(const MochiState *m) { return m->E; }

MochiTrace mochi_trace(MochiState *m)
{
    const int nh = m->n_hard, E = m->E;
    m->be->download(m->hard_host, m->hard, (size_t)m->N * nh * sizeof(int));
    for (int n = 0; n < m->N; n++)
        for (int e = 0; e < E; e++) {
            const size_t t = (size_t)n * E + e;
            const int *hard = m->hard_host + (size_t)n * nh;
            m->src_a[t] = m->pos_a[t] >= 0 ? hard[m->pos_a[t]] : -1;
            m->src_b[t] = hard[m->pos_b[t]];
        }
    return (MochiTrace){.n_hard = nh, .E = E, .hard = m->hard_host, .src_a = m->src_a,
                        .src_b = m->src_b, .coef = m->coef};
}

/* This step's picks, in the documented draw order: for each query, its s mixes of two distinct
 * hard negatives (i, j, α), then its s' mixes of itself and one (j, β). They depend on no data,
 * so they are drawn on the host before the hard negatives are known. */
static void draw_picks(MochiState *m, Rng *rng)
{
    const int nh = m->n_hard, E = m->E;
    for (int n = 0; n < m->N; n++)
        for (int e = 0; e < E; e++) {
            const size_t t = (size_t)n * E + e;
            if (e < m->s) { /* two distinct hard negatives, α ~ U(0, 1) */
                int i = (int)rng_below(rng, (uint32_t)nh);
                int j = (int)rng_below(rng, (uint32_t)(nh - 1));
                j += j >= i;
                m->pos_a[t] = i;
                m->pos_b[t] = j;
                m->coef[t] = (float)rng_uniform(rng);
            } else { /* the (detached) query and a hard negative, β ~ U(0, beta_max) */
                m->pos_a[t] = -1;
                m->pos_b[t] = (int)rng_below(rng, (uint32_t)nh);
                m->coef[t] = (float)(m->opt.mochi_beta_max * rng_uniform(rng));
            }
        }
}

void mochi_forward(MochiState *m, const VariantInput *in, Rng *rng, VariantOutput *out)
{
    ASSERT(in->N == m->N && in->D == m->D && in->K == m->K);
    const Backend *be = m->be;
    out->q = in->q;
    out->k = in->k;
    out->queue = in->queue;
    out->extra = NULL;
    out->E = 0;
    if (in->epoch < m->opt.start_epoch || m->E == 0) return;
    be->topk_rows(m->hard, in->q, in->queue, m->N, m->D, m->K, m->n_hard, m->scratch);
    draw_picks(m, rng);
    const size_t NE = (size_t)m->N * m->E;
    const int *pa = backend_write(be, m->pos_a_dev, m->pos_a, NE * sizeof(int));
    const int *pb = backend_write(be, m->pos_b_dev, m->pos_b, NE * sizeof(int));
    const float *c = backend_write(be, m->coef_dev, m->coef, NE * sizeof(float));
    be->mix_picked(m->extra, in->q, in->queue, m->hard, m->n_hard, pa, pb, c, m->N, m->E, m->D);
    out->extra = m->extra;
    out->E = m->E;
}

/* ---- the Variant hook ---- */

static void *hook_create(const VariantOptions *opt, const Backend *be, int N, int D, int K)
{
    return mochi_create(opt, be, N, D, K);
}

static void hook_forward(void *self, const VariantInput *in, Rng *rng, VariantOutput *out)
{
    mochi_forward(self, in, rng, out);
}

/* Synthetic negatives are detached and q̂ = q, k̂ = k: only the q̂ path reaches q. */
static void hook_backward(void *self, const float *dq_hat, const float *dk_hat, float *dq)
{
    const MochiState *m = self;
    (void)dk_hat;
    m->be->add_inplace(dq, dq_hat, (size_t)m->N * m->D);
}

static void hook_destroy(void *self) { mochi_destroy(self); }

static int hook_n_extra(const void *self) { return mochi_n_extra(self); }

const Variant variant_mochi = {
    .name = "mochi",
    .summary = "MoCHi hard negative mixing (Kalantidis et al. 2020), per-query synthetic negatives",
    .preset = NULL,
    .create = hook_create,
    .forward = hook_forward,
    .backward = hook_backward,
    .destroy = hook_destroy,
    .n_extra = hook_n_extra,
};

/* mochi.c — hard negative mixing (Kalantidis et al., NeurIPS 2020); see mochi.h. */
#include "variants/mochi.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>

#include "core/common.h"

#define MOCHI_BLOCK 64 /* queries per q·queueᵀ block: each sgemm re-packs the queue, so larger
                          * blocks are faster; (64, K) scores = 16 MiB at K = 65536 */

struct MochiState {
    VariantOptions opt;
    int N, D, K, n_hard, s, sp, E;
    float *scores; /* (MOCHI_BLOCK, K) */
    float *heap_v; /* (n_hard,) min-heap of scores */
    int *heap_i;   /* (n_hard,) their queue rows */
    int *hard;     /* (N, n_hard) */
    float *extra;  /* (N, E, D) */
    int *src_a;    /* (N, E) */
    int *src_b;    /* (N, E) */
    float *coef;   /* (N, E) */
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

MochiState *mochi_create(const VariantOptions *opt, int N, int D, int K)
{
    ASSERT(N > 0 && D > 0 && K >= 2);
    MochiState *m = xcalloc(1, sizeof *m);
    m->opt = *opt;
    m->N = N;
    m->D = D;
    m->K = K;
    mochi_sizes(opt, K, &m->n_hard, &m->s, &m->sp);
    m->E = m->s + m->sp;
    size_t NE = (size_t)N * (m->E > 0 ? m->E : 1);
    m->scores = xaligned_alloc((size_t)MOCHI_BLOCK * K * sizeof(float));
    m->heap_v = xaligned_alloc((size_t)m->n_hard * sizeof(float));
    m->heap_i = xcalloc((size_t)m->n_hard, sizeof(int));
    m->hard = xcalloc((size_t)N * m->n_hard, sizeof(int));
    m->extra = xaligned_alloc(NE * D * sizeof(float));
    m->src_a = xcalloc(NE, sizeof(int));
    m->src_b = xcalloc(NE, sizeof(int));
    m->coef = xaligned_alloc(NE * sizeof(float));
    return m;
}

void mochi_destroy(MochiState *m)
{
    if (!m) return;
    free(m->scores);
    free(m->heap_v);
    free(m->heap_i);
    free(m->hard);
    free(m->extra);
    free(m->src_a);
    free(m->src_b);
    free(m->coef);
    free(m);
}

int mochi_n_extra(const MochiState *m) { return m->E; }

MochiTrace mochi_trace(const MochiState *m)
{
    return (MochiTrace){.n_hard = m->n_hard, .E = m->E, .hard = m->hard, .src_a = m->src_a,
                        .src_b = m->src_b, .coef = m->coef};
}

/* Restores the min-heap property below node i of (v, idx)[0..n). */
static void sift_down(float *v, int *idx, int n, int i)
{
    for (;;) {
        int c = 2 * i + 1;
        if (c >= n) return;
        if (c + 1 < n && v[c + 1] < v[c]) c++;
        if (!(v[c] < v[i])) return;
        float tv = v[i];
        v[i] = v[c];
        v[c] = tv;
        int ti = idx[i];
        idx[i] = idx[c];
        idx[c] = ti;
        i = c;
    }
}

/* out (n_hard,) ← the rows of the n_hard largest entries of row (K,) (ties: lower row first). */
static void select_hardest(MochiState *m, const float *row, int *out)
{
    const int nh = m->n_hard;
    for (int j = 0; j < nh; j++) {
        m->heap_v[j] = row[j];
        m->heap_i[j] = j;
    }
    for (int i = nh / 2 - 1; i >= 0; i--) sift_down(m->heap_v, m->heap_i, nh, i);
    for (int j = nh; j < m->K; j++)
        if (row[j] > m->heap_v[0]) {
            m->heap_v[0] = row[j];
            m->heap_i[0] = j;
            sift_down(m->heap_v, m->heap_i, nh, 0);
        }
    for (int j = 0; j < nh; j++) out[j] = m->heap_i[j];
}

/* o (D,) ← normalise(c a + (1 − c) b) */
static void mix_unit(float *o, const float *a, const float *b, float c, int D)
{
    double ss = 0.0;
    for (int d = 0; d < D; d++) {
        o[d] = c * a[d] + (1.0f - c) * b[d];
        ss += (double)o[d] * o[d];
    }
    float inv = (float)(1.0 / (ss > 1e-24 ? sqrt(ss) : 1e-12));
    for (int d = 0; d < D; d++) o[d] *= inv;
}

static void synthesise(MochiState *m, const VariantInput *in, int n, Rng *rng)
{
    const int D = m->D, nh = m->n_hard, E = m->E;
    const int *hard = m->hard + (size_t)n * nh;
    for (int e = 0; e < E; e++) {
        size_t t = (size_t)n * E + e;
        int a, b;
        float c;
        if (e < m->s) { /* two distinct hard negatives, α ~ U(0, 1) */
            int i = (int)rng_below(rng, (uint32_t)nh);
            int j = (int)rng_below(rng, (uint32_t)(nh - 1));
            j += j >= i;
            a = hard[i];
            b = hard[j];
            c = (float)rng_uniform(rng);
        } else { /* the (detached) query and a hard negative, β ~ U(0, beta_max) */
            a = -1;
            b = hard[rng_below(rng, (uint32_t)nh)];
            c = (float)(m->opt.mochi_beta_max * rng_uniform(rng));
        }
        const float *va = a >= 0 ? in->queue + (size_t)a * D : in->q + (size_t)n * D;
        mix_unit(m->extra + t * D, va, in->queue + (size_t)b * D, c, D);
        m->src_a[t] = a;
        m->src_b[t] = b;
        m->coef[t] = c;
    }
}

void mochi_forward(MochiState *m, const VariantInput *in, Rng *rng, VariantOutput *out)
{
    ASSERT(in->N == m->N && in->D == m->D && in->K == m->K);
    out->q = in->q;
    out->k = in->k;
    out->queue = in->queue;
    out->extra = NULL;
    out->E = 0;
    if (in->epoch < m->opt.start_epoch || m->E == 0) return;
    for (int n0 = 0; n0 < m->N; n0 += MOCHI_BLOCK) {
        int nb = m->N - n0 < MOCHI_BLOCK ? m->N - n0 : MOCHI_BLOCK;
        /* scores (nb, K) = q[n0:n0+nb] (nb, D) × queueᵀ (D, K) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, m->K, m->D, 1.0f,
                    in->q + (size_t)n0 * m->D, m->D, in->queue, m->D, 0.0f, m->scores, m->K);
        for (int r = 0; r < nb; r++)
            select_hardest(m, m->scores + (size_t)r * m->K, m->hard + (size_t)(n0 + r) * m->n_hard);
    }
    for (int n = 0; n < m->N; n++) synthesise(m, in, n, rng);
    out->extra = m->extra;
    out->E = m->E;
}

/* ---- the Variant hook ---- */

static void *hook_create(const VariantOptions *opt, int N, int D, int K)
{
    return mochi_create(opt, N, D, K);
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
    for (size_t i = 0; i < (size_t)m->N * m->D; i++) dq[i] += dq_hat[i];
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

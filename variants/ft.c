/* ft.c — Feature Transformation: positive extrapolation and negative interpolation with every
 * ablation of the official code (PAPER.md §2); see ft.h for the formulas and the draw order. */
#include "variants/ft.h"

#include <stdlib.h>
#include <string.h>

#include "core/common.h"

struct FtState {
    VariantOptions opt;
    const Backend *be;
    int N, D, K;
    int n_ex, n_in;    /* this step's draws: 0 (untouched), 1 (scalar) or D (dimension-wise) */
    /* On the host, where they are drawn: */
    float *lam_ex;     /* (D,) λ_ex; [0] only when scalar */
    float *lam_in;     /* (D,) λ_in */
    int *perm;         /* (K,) */
    /* On the backend: */
    float *lam_ex_dev; /* (D,) λ_ex uploaded when dimension-wise */
    float *lam_in_dev; /* (D,) */
    int *perm_dev;     /* (K,) */
    const float *lam_ex_used; /* this step's λ_ex vector on the backend, NULL when scalar */
    float *q_hat;      /* (N, D) */
    float *k_hat;      /* (N, D) */
    float *queue_hat;  /* (K, D) */
    float *u_norm;     /* (N,) ‖λq + (1−λ)k‖ before re-normalisation */
    float *w_norm;     /* (N,) ‖λk + (1−λ)q‖ before re-normalisation */
    int norm_pos;      /* 1 when q̂, k̂ were re-normalised this step */
};

FtState *ft_create(const VariantOptions *opt, const Backend *be, int N, int D, int K)
{
    ASSERT(N > 0 && D > 0 && K > 0);
    FtState *s = xcalloc(1, sizeof *s);
    s->opt = *opt;
    s->be = be;
    s->N = N;
    s->D = D;
    s->K = K;
    s->lam_ex = xaligned_alloc((size_t)D * sizeof(float));
    s->lam_in = xaligned_alloc((size_t)D * sizeof(float));
    s->perm = xcalloc((size_t)K, sizeof(int));
    s->lam_ex_dev = backend_alloc(be, (size_t)D * sizeof(float));
    s->lam_in_dev = backend_alloc(be, (size_t)D * sizeof(float));
    s->perm_dev = backend_alloc(be, (size_t)K * sizeof(int));
    s->q_hat = backend_alloc(be, (size_t)N * D * sizeof(float));
    s->k_hat = backend_alloc(be, (size_t)N * D * sizeof(float));
    s->queue_hat = backend_alloc(be, (size_t)K * D * sizeof(float));
    s->u_norm = backend_alloc(be, (size_t)N * sizeof(float));
    s->w_norm = backend_alloc(be, (size_t)N * sizeof(float));
    return s;
}

void ft_destroy(FtState *s)
{
    if (!s) return;
    free(s->lam_ex);
    free(s->lam_in);
    free(s->perm);
    void *dev[] = {s->lam_ex_dev, s->lam_in_dev, s->perm_dev, s->q_hat, s->k_hat, s->queue_hat,
                   s->u_norm, s->w_norm};
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++) backend_free(s->be, dev[i]);
    free(s);
}

static float draw(const VariantOptions *o, double alpha, Rng *rng)
{
    return (float)(o->dist == FT_DIST_BETA ? rng_beta(rng, alpha, alpha) : rng_uniform(rng));
}

void ft_sample(FtState *s, int epoch, Rng *rng)
{
    const VariantOptions *o = &s->opt;
    s->n_ex = s->n_in = 0;
    if (epoch < o->start_epoch) return;
    if (o->target & FT_TARGET_POS) {
        s->n_ex = (o->dimwise & FT_DIMWISE_POS) ? s->D : 1;
        const float shift = o->pos_mode == FT_POS_EXTRAPOLATE ? 1.0f : 0.0f;
        for (int d = 0; d < s->n_ex; d++) {
            const float x = draw(o, o->alpha_ex, rng);
            s->lam_ex[d] = shift + (o->ex_scale == 1.0 ? x : (float)(o->ex_scale * x));
        }
    }
    if (o->target & FT_TARGET_NEG) {
        s->n_in = (o->dimwise & FT_DIMWISE_NEG) ? s->D : 1;
        for (int d = 0; d < s->n_in; d++) s->lam_in[d] = draw(o, o->alpha_in, rng);
        rng_permutation(rng, s->perm, s->K);
    }
}

void ft_set_draws(FtState *s, const FtDraws *d)
{
    ASSERT(d->n_ex == 0 || d->n_ex == 1 || d->n_ex == s->D);
    ASSERT(d->n_in == 0 || d->n_in == 1 || d->n_in == s->D);
    s->n_ex = d->n_ex;
    s->n_in = d->n_in;
    if (d->n_ex) memcpy(s->lam_ex, d->lam_ex, (size_t)d->n_ex * sizeof(float));
    if (d->n_in) {
        memcpy(s->lam_in, d->lam_in, (size_t)d->n_in * sizeof(float));
        for (int i = 0; i < s->K; i++) ASSERT(d->perm[i] >= 0 && d->perm[i] < s->K);
        memcpy(s->perm, d->perm, (size_t)s->K * sizeof(int));
    }
}

FtDraws ft_get_draws(const FtState *s)
{
    return (FtDraws){.n_ex = s->n_ex, .lam_ex = s->lam_ex, .n_in = s->n_in, .lam_in = s->lam_in,
                     .perm = s->perm};
}

/* A λ vector on the backend when the draws are dimension-wise, else NULL (the scalar is passed). */
static const float *lam_on_backend(FtState *s, float *dev, const float *host, int n)
{
    return n > 1 ? backend_write(s->be, dev, host, (size_t)n * sizeof(float)) : NULL;
}

void ft_apply(FtState *s, const VariantInput *in, VariantOutput *out)
{
    ASSERT(in->N == s->N && in->D == s->D && in->K == s->K);
    const Backend *be = s->be;
    s->norm_pos = s->n_ex > 0 && (s->opt.postmix_norm & FT_NORM_POS);
    out->q = in->q;
    out->k = in->k;
    out->queue = in->queue;
    out->extra = NULL;
    out->E = 0;
    if (s->n_ex > 0) {
        s->lam_ex_used = lam_on_backend(s, s->lam_ex_dev, s->lam_ex, s->n_ex);
        be->pair_mix_forward(s->q_hat, s->k_hat, s->u_norm, s->w_norm, in->q, in->k,
                             s->lam_ex_used, s->lam_ex[0], s->N, s->D, s->norm_pos);
        out->q = s->q_hat;
        out->k = s->k_hat;
    }
    if (s->n_in > 0) {
        const float *lam = lam_on_backend(s, s->lam_in_dev, s->lam_in, s->n_in);
        const int *perm = backend_write(be, s->perm_dev, s->perm, (size_t)s->K * sizeof(int));
        be->row_mix(s->queue_hat, in->queue, perm, lam, s->lam_in[0], s->K, s->D,
                    (s->opt.postmix_norm & FT_NORM_NEG) != 0);
        out->queue = s->queue_hat;
    }
}

void ft_backward(FtState *s, const float *dq_hat, const float *dk_hat, float *dq)
{
    const int N = s->N, D = s->D;
    if (s->n_ex == 0) { /* q̂ = q, k̂ = k: only the q̂ path reaches q */
        s->be->add_inplace(dq, dq_hat, (size_t)N * D);
        return;
    }
    s->be->pair_mix_backward(dq, dq_hat, dk_hat, s->q_hat, s->k_hat, s->u_norm, s->w_norm,
                             s->lam_ex_used, s->lam_ex[0], N, D, s->norm_pos);
}

/* ---- the Variant hook ---- */

static void *hook_create(const VariantOptions *opt, const Backend *be, int N, int D, int K)
{
    return ft_create(opt, be, N, D, K);
}

static void hook_forward(void *self, const VariantInput *in, Rng *rng, VariantOutput *out)
{
    ft_sample(self, in->epoch, rng);
    ft_apply(self, in, out);
}

static void hook_backward(void *self, const float *dq_hat, const float *dk_hat, float *dq)
{
    ft_backward(self, dq_hat, dk_hat, dq);
}

static void hook_destroy(void *self) { ft_destroy(self); }

static void preset_pos(VariantOptions *o) { o->target = FT_TARGET_POS; }
static void preset_neg(VariantOptions *o) { o->target = FT_TARGET_NEG; }
static void preset_pos_interp(VariantOptions *o)
{
    o->target = FT_TARGET_POS;
    o->pos_mode = FT_POS_INTERPOLATE;
}
static void preset_uniform(VariantOptions *o) { o->dist = FT_DIST_UNIFORM; }
static void preset_dimwise(VariantOptions *o) { o->dimwise = FT_DIMWISE_BOTH; }

#define FT_VARIANT(sym, nm, sum, pre)                                                              \
    const Variant sym = {.name = nm, .summary = sum, .preset = pre, .create = hook_create,         \
                         .forward = hook_forward, .backward = hook_backward,                       \
                         .destroy = hook_destroy, .n_extra = NULL}

FT_VARIANT(variant_ft, "ft", "FT: positive extrapolation + negative interpolation (paper default)",
           NULL);
FT_VARIANT(variant_ft_pos, "ft_pos", "FT on positives only (extrapolation)", preset_pos);
FT_VARIANT(variant_ft_neg, "ft_neg", "FT on negatives only (interpolation)", preset_neg);
FT_VARIANT(variant_ft_pos_interp, "ft_pos_interp", "FT on positives only, interpolation λ ∈ [0,1]",
           preset_pos_interp);
FT_VARIANT(variant_ft_uniform, "ft_uniform", "FT with Uniform instead of Beta λ", preset_uniform);
FT_VARIANT(variant_ft_dimwise, "ft_dimwise", "FT with dimension-wise λ for pos and neg",
           preset_dimwise);

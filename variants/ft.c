/* ft.c — Feature Transformation: positive extrapolation and negative interpolation with every
 * ablation of the official code (PAPER.md §2); see ft.h for the formulas and the draw order. */
#include "variants/ft.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"

struct FtState {
    VariantOptions opt;
    int N, D, K;
    int n_ex, n_in;    /* this step's draws: 0 (untouched), 1 (scalar) or D (dimension-wise) */
    float *lam_ex;     /* (D,) λ_ex; [0] only when scalar */
    float *lam_in;     /* (D,) λ_in */
    int *perm;         /* (K,) */
    float *q_hat;      /* (N, D) */
    float *k_hat;      /* (N, D) */
    float *queue_hat;  /* (K, D) */
    float *u_norm;     /* (N,) ‖λq + (1−λ)k‖ before re-normalisation */
    float *w_norm;     /* (N,) ‖λk + (1−λ)q‖ before re-normalisation */
    int norm_pos;      /* 1 when q̂, k̂ were re-normalised this step */
};

FtState *ft_create(const VariantOptions *opt, int N, int D, int K)
{
    ASSERT(N > 0 && D > 0 && K > 0);
    FtState *s = xcalloc(1, sizeof *s);
    s->opt = *opt;
    s->N = N;
    s->D = D;
    s->K = K;
    s->lam_ex = xaligned_alloc((size_t)D * sizeof(float));
    s->lam_in = xaligned_alloc((size_t)D * sizeof(float));
    s->perm = xcalloc((size_t)K, sizeof(int));
    s->q_hat = xaligned_alloc((size_t)N * D * sizeof(float));
    s->k_hat = xaligned_alloc((size_t)N * D * sizeof(float));
    s->queue_hat = xaligned_alloc((size_t)K * D * sizeof(float));
    s->u_norm = xaligned_alloc((size_t)N * sizeof(float));
    s->w_norm = xaligned_alloc((size_t)N * sizeof(float));
    return s;
}

void ft_destroy(FtState *s)
{
    if (!s) return;
    free(s->lam_ex);
    free(s->lam_in);
    free(s->perm);
    free(s->q_hat);
    free(s->k_hat);
    free(s->queue_hat);
    free(s->u_norm);
    free(s->w_norm);
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
        for (int d = 0; d < s->n_ex; d++) s->lam_ex[d] = shift + draw(o, o->alpha_ex, rng);
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

/* Scales row x (D,) to unit norm; returns the norm it had. */
static float normalise_row(float *x, int D)
{
    double ss = 0.0;
    for (int d = 0; d < D; d++) ss += (double)x[d] * x[d];
    float nrm = (float)sqrt(ss);
    /* F.normalize clamps the norm at eps = 1e-12; a zero mix needs λ = 1/2 and q = −k exactly. */
    float inv = 1.0f / (nrm > 1e-12f ? nrm : 1e-12f);
    for (int d = 0; d < D; d++) x[d] *= inv;
    return nrm;
}

static void mix_positives(FtState *s, const VariantInput *in)
{
    const int N = s->N, D = s->D;
    const int vec = s->n_ex > 1; /* dimension-wise λ */
    for (int n = 0; n < N; n++) {
        const float *q = in->q + (size_t)n * D, *k = in->k + (size_t)n * D;
        float *qh = s->q_hat + (size_t)n * D, *kh = s->k_hat + (size_t)n * D;
        for (int d = 0; d < D; d++) {
            float lam = s->lam_ex[vec ? d : 0];
            qh[d] = lam * q[d] + (1.0f - lam) * k[d];
            kh[d] = lam * k[d] + (1.0f - lam) * q[d];
        }
        if (s->norm_pos) {
            s->u_norm[n] = normalise_row(qh, D);
            s->w_norm[n] = normalise_row(kh, D);
        }
    }
}

/* o (K, D) ← lam ∘ a + (1 − lam) ∘ all[perm] row by row (a = all, or a block of its rows); lam has D entries (stride 1) or one
 * (stride 0). The hot loop of FT (K·D at K = 65536): memory-bound, so it is compiled for AVX-512
 * and AVX2 as well, picked at load time (GCC target_clones), ~2× the SSE2 baseline here. */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
static void mix_rows(float *restrict o, const float *restrict a, const float *restrict all,
                     const int *restrict perm, const float *restrict lam, int lam_stride, int K, int D)
{
    for (int i = 0; i < K; i++) {
        const float *x = a + (size_t)i * D, *y = all + (size_t)perm[i] * D;
        float *z = o + (size_t)i * D;
        if (lam_stride == 0) {
            const float l = lam[0], m = 1.0f - l;
            for (int d = 0; d < D; d++) z[d] = l * x[d] + m * y[d];
        } else {
            for (int d = 0; d < D; d++) z[d] = lam[d] * x[d] + (1.0f - lam[d]) * y[d];
        }
    }
}

/* Rows split statically over the threads (each row is independent: results do not depend on the
 * thread count); memory-bound, so two cores roughly halve it. */
static void mix_negatives(FtState *s, const VariantInput *in)
{
    enum { ROWS = 1024 };
    const int stride = s->n_in > 1 ? 1 : 0, D = s->D;
#pragma omp parallel for schedule(static)
    for (int i0 = 0; i0 < s->K; i0 += ROWS) {
        const int rows = s->K - i0 < ROWS ? s->K - i0 : ROWS;
        mix_rows(s->queue_hat + (size_t)i0 * D, in->queue + (size_t)i0 * D, in->queue, s->perm + i0,
                 s->lam_in, stride, rows, D);
    }
    if (s->opt.postmix_norm & FT_NORM_NEG)
        for (int i = 0; i < s->K; i++) normalise_row(s->queue_hat + (size_t)i * s->D, s->D);
}

void ft_apply(FtState *s, const VariantInput *in, VariantOutput *out)
{
    ASSERT(in->N == s->N && in->D == s->D && in->K == s->K);
    s->norm_pos = s->n_ex > 0 && (s->opt.postmix_norm & FT_NORM_POS);
    out->q = in->q;
    out->k = in->k;
    out->queue = in->queue;
    out->extra = NULL;
    out->E = 0;
    if (s->n_ex > 0) {
        mix_positives(s, in);
        out->q = s->q_hat;
        out->k = s->k_hat;
    }
    if (s->n_in > 0) {
        mix_negatives(s, in);
        out->queue = s->queue_hat;
    }
}

void ft_backward(FtState *s, const float *dq_hat, const float *dk_hat, float *dq)
{
    const int N = s->N, D = s->D;
    if (s->n_ex == 0) { /* q̂ = q, k̂ = k: only the q̂ path reaches q */
        for (size_t i = 0; i < (size_t)N * D; i++) dq[i] += dq_hat[i];
        return;
    }
    const int vec = s->n_ex > 1;
    for (int n = 0; n < N; n++) {
        const float *gq = dq_hat + (size_t)n * D, *gk = dk_hat + (size_t)n * D;
        float *out = dq + (size_t)n * D;
        if (!s->norm_pos) {
            for (int d = 0; d < D; d++) {
                float lam = s->lam_ex[vec ? d : 0];
                out[d] += lam * gq[d] + (1.0f - lam) * gk[d];
            }
            continue;
        }
        /* Re-normalised, x̂ = x/‖x‖: dx = (dx̂ − x̂ (x̂·dx̂)) / ‖x‖ for both mixes, then as above. */
        const float *qh = s->q_hat + (size_t)n * D, *kh = s->k_hat + (size_t)n * D;
        double qg = 0.0, kg = 0.0;
        for (int d = 0; d < D; d++) {
            qg += (double)qh[d] * gq[d];
            kg += (double)kh[d] * gk[d];
        }
        float iu = 1.0f / (s->u_norm[n] > 1e-12f ? s->u_norm[n] : 1e-12f);
        float iw = 1.0f / (s->w_norm[n] > 1e-12f ? s->w_norm[n] : 1e-12f);
        for (int d = 0; d < D; d++) {
            float lam = s->lam_ex[vec ? d : 0];
            float du = (gq[d] - qh[d] * (float)qg) * iu;
            float dw = (gk[d] - kh[d] * (float)kg) * iw;
            out[d] += lam * du + (1.0f - lam) * dw;
        }
    }
}

/* ---- the Variant hook ---- */

static void *hook_create(const VariantOptions *opt, int N, int D, int K)
{
    return ft_create(opt, N, D, K);
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

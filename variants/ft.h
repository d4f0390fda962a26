/* ft.h — Feature Transformation (Zhu et al., ICCV 2021), PAPER.md §2, exactly as the official code
 * (memory/mem_moco.py, RGBMoCo_dropmix_norm) with the paper's defaults.
 *
 *     positives (target pos|both):  q̂ = λ_ex q + (1 − λ_ex) k,   k̂ = λ_ex k + (1 − λ_ex) q
 *     negatives (target neg|both):  queuê[i] = λ_in queue[i] + (1 − λ_in) queue[perm[i]]
 *
 * λ_ex = 1 + s·Beta(α_ex, α_ex) (extrapolation, s = ex_scale, 1 in the paper; s < 1 a milder
 * one; FT_POS_INTERPOLATE drops the +1), λ_in =
 * Beta(α_in, α_in); FT_DIST_UNIFORM replaces each Beta by U(0, 1). λ is one scalar per step, or
 * with `dimwise` a vector λ[d] (one value per dimension, shared by the whole batch / queue).
 * perm is a fresh uniform permutation of the K queue rows every step. Optional post-mix L2
 * re-normalisation of q̂, k̂ (pos) and/or queuê rows (neg). Before `start_epoch` FT is the identity.
 *
 * Gradient: k and the queue carry none; q reaches the loss through q̂ AND k̂:
 *     dq += λ ∘ dq̂ + (1 − λ) ∘ dk̂                          (no re-normalisation)
 *     dq += λ ∘ P(q̂) dq̂ / ‖u‖ + (1 − λ) ∘ P(k̂) dk̂ / ‖w‖   (re-normalised; u, w the raw mixes,
 *                                                            P(x) = I − x xᵀ)
 *
 * Order of the random draws each active step (all from the rng passed in, the FT stream):
 *   1. if positives are mixed: λ_ex — 1 draw, or D draws (d = 0..D−1) when dimwise pos/both;
 *   2. if negatives are mixed: λ_in — 1 draw, or D draws when dimwise neg/both;
 *   3. if negatives are mixed: perm, rng_permutation(K) (Fisher–Yates).
 * A Beta draw is rng_beta (two Marsaglia–Tsang gammas), a uniform draw one rng_uniform. Nothing is
 * drawn before start_epoch.
 */
#ifndef CLFT_FT_H
#define CLFT_FT_H

#include "variants/variant.h"

typedef struct FtState FtState;

/* The λs and permutation of one step, e.g. fed in by tests and golden fixtures. */
typedef struct {
    int n_ex;             /* 0: positives untouched; 1: scalar λ_ex; D: one λ_ex per dimension */
    const float *lam_ex;  /* (n_ex,) */
    int n_in;             /* 0: negatives untouched; 1: scalar λ_in; D: one per dimension */
    const float *lam_in;  /* (n_in,) */
    const int *perm;      /* (K,) a permutation of 0..K−1; read when n_in > 0 */
} FtDraws;

/* The state on backend `be`: the mixes there, the draws on the host (uploaded by ft_apply). */
FtState *ft_create(const VariantOptions *opt, const Backend *be, int N, int D, int K);
void ft_destroy(FtState *s);
/* Draws this step's λs and permutation from rng per the options (identity before start_epoch). */
void ft_sample(FtState *s, int epoch, Rng *rng);
/* Replaces this step's draws by *d (copied); post-mix normalisation still follows the options. */
void ft_set_draws(FtState *s, const FtDraws *d);
/* The current draws (host pointers into the state, valid until the next sample / set). */
FtDraws ft_get_draws(const FtState *s);
/* q̂, k̂, queuê (on the backend) from the current draws; `in` is never modified. The kernels
 * are the backend's pair_mix_forward (positives) and row_mix (negatives). */
void ft_apply(FtState *s, const VariantInput *in, VariantOutput *out);
/* dq (N, D) += dL/dq given dq_hat, dk_hat (N, D) of the last ft_apply (pair_mix_backward). */
void ft_backward(FtState *s, const float *dq_hat, const float *dk_hat, float *dq);

#endif

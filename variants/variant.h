/* variant.h — the hook through which a method changes the features used in the contrastive loss
 * (DESIGN.md "Variant"). The trainer calls, every step:
 *
 *     variant->forward(self, &in, rng, &out)   q, k, queue  ->  q̂, k̂, queuê (+ optional extra negatives)
 *     logits = [q̂·k̂, q̂·queuêᵀ, q̂·extraᵀ] / T, InfoNCE -> dL/dq̂, dL/dk̂
 *     variant->backward(self, dq_hat, dk_hat, dq)   dq += dL/dq (through q̂ AND k̂)
 *
 * Rules: k and the queue carry no gradient; a variant never modifies in.queue (the trainer enqueues
 * the ORIGINAL keys); all buffers a variant needs are allocated in create(), on the backend it is
 * given, never in forward(); its arithmetic is that backend's ops; every random draw comes from
 * the `rng` passed in (the FT stream, saved in checkpoints), made on the host and uploaded.
 * "none" is the identity: out points at the inputs.
 */
#ifndef CLFT_VARIANT_H
#define CLFT_VARIANT_H

#include "core/backend/backend.h"
#include "core/common.h"
#include "core/contrast/variant_hook.h"
#include "core/rng.h"


/* Feature-transformation options (PAPER.md §2; the official code's RGBMoCo_dropmix_norm). */
typedef enum { FT_TARGET_POS = 1, FT_TARGET_NEG = 2, FT_TARGET_BOTH = 3 } FtTarget;
typedef enum { FT_POS_EXTRAPOLATE, FT_POS_INTERPOLATE } FtPosMode; /* λ_ex = 1 + draw, or draw */
typedef enum { FT_DIST_BETA, FT_DIST_UNIFORM } FtDist;
/* Which λ is a vector (one value per dimension d, shared by the batch) instead of a scalar. */
typedef enum { FT_DIMWISE_NONE = 0, FT_DIMWISE_POS = 1, FT_DIMWISE_NEG = 2, FT_DIMWISE_BOTH = 3 } FtDimwise;
/* Post-mix L2 re-normalisation: of q̂ and k̂ (POS, the official code's only norm_target), of
 * queuê (NEG), or both. */
typedef enum { FT_NORM_OFF = 0, FT_NORM_POS = 1, FT_NORM_NEG = 2, FT_NORM_BOTH = 3 } FtPostmixNorm;

/* Variant options, filled from the [variant] config section through variant_options_set().
 * One struct for every variant; each reads the fields it uses. */
typedef struct VariantOptions {
    /* ft */
    FtTarget target;            /* key "target": pos | neg | both            (default both) */
    FtPosMode pos_mode;         /* key "pos_mode": extrapolate | interpolate (default extrapolate) */
    FtDist dist;                /* key "dist": beta | uniform                (default beta) */
    double alpha_ex;            /* key "alpha_ex": Beta parameter of λ_ex    (default 2.0) */
    double alpha_in;            /* key "alpha_in": Beta parameter of λ_in    (default 1.6) */
    double ex_scale;            /* key "ex_scale": λ_ex = 1 + ex_scale · draw, a milder
                                   extrapolation below 1 (interpolate: ex_scale · draw; default 1) */
    FtDimwise dimwise;          /* key "dimwise": none | pos | neg | both    (default none) */
    FtPostmixNorm postmix_norm; /* key "postmix_norm": off | pos | neg | both (default off) */
    /* ft and mochi */
    int start_epoch;            /* key "start_epoch": identity while epoch < start_epoch (default 0) */
    /* mochi; −1 ("auto") = scale with K (see variants/mochi.h) */
    int mochi_n_hard;           /* key "mochi_n_hard": hardest queue negatives per query (N) */
    int mochi_s;                /* key "mochi_s": mixes of two hard negatives (s) */
    int mochi_s_prime;          /* key "mochi_s_prime": mixes of the query and a hard negative (s') */
    double mochi_beta_max;      /* key "mochi_beta_max": β ~ U(0, beta_max), < 0.5 (default 0.5) */
} VariantOptions;

/* The paper's defaults (ft: both, extrapolate, Beta(2.0)/Beta(1.6), scalar λ, no norm, epoch 0;
 * mochi: sizes scaled with K). */
void variant_options_default(VariantOptions *opt);
/* Sets option `key` from its config text; an unknown key or a bad value returns CLFT_ERR_VALUE
 * with clft_last_error() naming the key and the value. */
ClftStatus variant_options_set(VariantOptions *opt, const char *key, const char *value);

typedef struct Variant {
    const char *name;
    const char *summary;
    /* Overrides of the default options that define this named variant (NULL: none). */
    void (*preset)(VariantOptions *opt);
    /* Allocates the variant's state for (N, D, K) on backend `be`. */
    void *(*create)(const VariantOptions *opt, const Backend *be, int N, int D, int K);
    void (*forward)(void *self, const VariantInput *in, Rng *rng, VariantOutput *out);
    /* dq (N, D) += dL/dq given dL/dq̂ and dL/dk̂ (each (N, D)). */
    void (*backward)(void *self, const float *dq_hat, const float *dk_hat, float *dq);
    void (*destroy)(void *self);
    /* E, the number of per-query extra negatives forward() will produce (NULL: always 0). The
     * trainer sizes the InfoNCE workspace with it once (E_max). */
    int (*n_extra)(const void *self);
} Variant;

/* Applies the preset options of the variant registered under `name` (ft_pos, ft_dimwise, ...) on
 * top of *opt; the caller then applies the config's keys, which override the preset. Unknown
 * names leave *opt unchanged. */
void variant_options_preset(VariantOptions *opt, const char *name);
/* The variant registered under `name`, or NULL. Looked up once per run (STYLE.md rule 13). */
const Variant *variant_find(const char *name);
/* NULL-terminated list of all registered variants, for --help and validation messages. */
const Variant *const *variant_all(void);
/* Creates the variant's state for (N, D, K) on `be` and returns the hook the core trainer calls. */
VariantHook variant_instantiate(const Variant *v, const VariantOptions *opt, const Backend *be,
                                int N, int D, int K);
/* Frees what variant_instantiate created. */
void variant_release(const Variant *v, VariantHook *hook);

#endif

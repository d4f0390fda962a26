/* variant_hook.h — what the core trainer knows of a variant (DESIGN.md "Variant"): the features it
 * receives and returns, and two function pointers. The variants themselves (ft, mochi, ...) live in
 * variants/, above core/, and are instantiated by the caller; core/ never includes from there.
 *
 * Every step the trainer calls hook->forward(self, &in, rng, &out), computes the InfoNCE loss on
 * out, then hook->backward(self, dL/dq̂, dL/dk̂, dq) which ACCUMULATES dL/dq into dq. Every feature
 * buffer is on the trainer's backend (the variant's state was created on the same one); `rng` is a
 * host stream: a variant draws on the host and uploads what it drew.
 */
#ifndef CLFT_VARIANT_HOOK_H
#define CLFT_VARIANT_HOOK_H

#include "core/rng.h"

typedef struct {
    int N, D, K;
    const float *q;     /* (N, D) L2-normalised queries; the gradient flows back to these */
    const float *k;     /* (N, D) L2-normalised positive keys; no gradient */
    const float *queue; /* (K, D) negatives; no gradient; never modified */
    int epoch;          /* 0-based, for variants with a start epoch */
} VariantInput;

typedef struct {
    const float *q;     /* (N, D) q̂ */
    const float *k;     /* (N, D) k̂ */
    const float *queue; /* (K, D) queuê, shared by all queries */
    const float *extra; /* (N, E, D) per-query extra negatives (MoCHi), no gradient, or NULL */
    int E;              /* extra negatives per query (0 when extra is NULL) */
} VariantOutput;

typedef struct {
    const char *name;
    void *self; /* the variant's state, owned by whoever created it */
    void (*forward)(void *self, const VariantInput *in, Rng *rng, VariantOutput *out);
    /* dq (N, D) += dL/dq given dL/dq̂ and dL/dk̂ (each (N, D)). */
    void (*backward)(void *self, const float *dq_hat, const float *dk_hat, float *dq);
    int n_extra;     /* E_max: extra negatives per query forward() may produce */
    int is_identity; /* 1 for plain MoCo: pre-transform statistics equal the post-transform ones */
} VariantHook;

#endif

/* variant.h — the hook through which a method changes the features used in the contrastive loss
 * (DESIGN.md "Variant"). The trainer calls, every step:
 *
 *     variant->forward(self, &in, rng, &out)   q, k, queue  ->  q̂, k̂, queuê (+ optional extra negatives)
 *     logits = [q̂·k̂, q̂·queuêᵀ, q̂·extraᵀ] / T, InfoNCE -> dL/dq̂, dL/dk̂
 *     variant->backward(self, dq_hat, dk_hat, dq)   dq += dL/dq (through q̂ AND k̂)
 *
 * Rules: k and the queue carry no gradient; a variant never modifies in.queue (the trainer enqueues
 * the ORIGINAL keys); all buffers a variant needs are allocated in create(), never in forward();
 * every random draw comes from the `rng` passed in (the FT stream, saved in checkpoints).
 * "none" is the identity: out points at the inputs.
 */
#ifndef CLFT_VARIANT_H
#define CLFT_VARIANT_H

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

/* Variant options, filled from the [variant] config section (see variants/variant.c). */
typedef struct VariantOptions VariantOptions;

typedef struct Variant {
    const char *name;
    const char *summary;
    /* Allocates the variant's state for (N, D, K); NULL-returning create means "no state". */
    void *(*create)(const VariantOptions *opt, int N, int D, int K);
    void (*forward)(void *self, const VariantInput *in, Rng *rng, VariantOutput *out);
    /* dq (N, D) += dL/dq given dL/dq̂ and dL/dk̂ (each (N, D)). */
    void (*backward)(void *self, const float *dq_hat, const float *dk_hat, float *dq);
    void (*destroy)(void *self);
} Variant;

/* The variant registered under `name`, or NULL. Looked up once per run (STYLE.md rule 13). */
const Variant *variant_find(const char *name);
/* NULL-terminated list of all registered variants, for --help and validation messages. */
const Variant *const *variant_all(void);

#endif

/* rng.h — explicit, seedable, checkpointable random streams (STYLE.md rule 14).
 *
 * Generator: xoshiro256** (Blackman & Vigna), seeded through splitmix64. The whole state is four
 * uint64 words, saved verbatim in checkpoints. There is no hidden state (no cached normal deviate),
 * so saving and restoring `s` resumes a stream exactly.
 *
 * Streams: every consumer derives its own stream from (seed, stream id, a, b) with rng_init(), e.g.
 * the loader seeds sample i of epoch e with rng_init(&r, seed, RNG_STREAM_AUG, e, i), so a sample's
 * draws do not depend on thread count or schedule.
 */
#ifndef CLFT_RNG_H
#define CLFT_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];
} Rng;

/* Stream identifiers: one per consumer of randomness. */
typedef enum {
    RNG_STREAM_INIT = 1,  /* weight initialisation */
    RNG_STREAM_ORDER = 2, /* epoch permutation of the dataset */
    RNG_STREAM_AUG = 3,   /* per-sample augmentation draws */
    RNG_STREAM_FT = 4,    /* feature-transformation lambdas and permutations */
    RNG_STREAM_SHUFFLE = 5, /* shuffle-BN permutation of the key batch */
    RNG_STREAM_QUEUE = 6, /* initial queue contents */
    RNG_STREAM_EVAL = 7,  /* evaluation: label subsets, probe init, probe data order */
    RNG_STREAM_DATA = 8,  /* synthetic datasets */
} RngStream;

void rng_init(Rng *r, uint64_t seed, uint64_t stream, uint64_t a, uint64_t b);
uint64_t rng_u64(Rng *r);
/* Uniform in [0, n), unbiased (Lemire's method). n > 0. */
uint32_t rng_below(Rng *r, uint32_t n);
/* Uniform double in [0, 1) with 53 random bits. */
double rng_uniform(Rng *r);
/* Uniform in [lo, hi). */
double rng_range(Rng *r, double lo, double hi);
/* Standard normal deviate (Box–Muller, both uniforms drawn each call: no cached state). */
double rng_normal(Rng *r);
/* Gamma(alpha, 1) by Marsaglia & Tsang (2000); alpha < 1 uses the U^(1/alpha) boost. */
double rng_gamma(Rng *r, double alpha);
/* Beta(a, b) = X / (X + Y), X ~ Gamma(a), Y ~ Gamma(b). */
double rng_beta(Rng *r, double a, double b);
/* perm[0..n) = a uniformly random permutation of 0..n-1 (Fisher–Yates). */
void rng_permutation(Rng *r, int *perm, int n);

#endif

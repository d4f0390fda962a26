/* mochi.h — MoCHi, hard negative mixing (Kalantidis et al., "Hard Negative Mixing for Contrastive
 * Learning", NeurIPS 2020, §4), as a comparison the FT paper does not make.
 *
 * Per query q_n (the queue and the positives are left untouched):
 *   1. the n_hard hardest negatives: the queue rows with the highest q_n·queue_j (partial
 *      selection with a size-n_hard min-heap, O(K log n_hard) worst case, never a full sort);
 *   2. s synthetic negatives h = normalise(α n_i + (1−α) n_j), α ~ U(0, 1), i ≠ j drawn uniformly
 *      among the hard negatives;
 *   3. s' synthetic negatives h' = normalise(β q_n + (1−β) n_j), β ~ U(0, beta_max) with
 *      beta_max = 0.5 (the paper's β ∈ (0, 0.5)), j uniform among the hard negatives;
 * appended as the query's extra negatives, E = s + s' (VariantOutput.extra, (N, E, D)). They carry
 * NO gradient: the q inside h' is detached (stop-gradient), so backward is dq += dq̂.
 *
 * Sizes: the MoCHi paper writes a configuration as MoCHi (N, s, s'). For K = 65536 clft uses
 * (1024, 1024, 128), the ImageNet-100 configuration of the paper's main table as we recall it
 * (not re-checked against the paper's text in this work; ImageNet-1K rows there use e.g.
 * (256, 512, 0) and (512, 1024, 512)). Any size left at "auto" (-1) scales with K so that the
 * ratios to K stay those of K = 65536:  n_hard = clamp(K / 64, 2, K),  s = n_hard,
 * s' = max(1, n_hard / 8).  Like MoCHi, mixing starts at `start_epoch` (identity before).
 *
 * Draw order (the rng passed in): for n = 0..N−1: for each of the s mixes i, j, α; then for each
 * of the s' mixes j, β (i, j are positions in the query's list of hard negatives, so the draws do
 * not depend on the data and are made on the host). Cost: one extra q·queueᵀ GEMM (in blocks of
 * queries), the selection, and N·E·D for the mixes. The hard list's order is the backend's
 * (topk_rows specifies the set): two backends agree on the set, not on which row a position
 * names.
 */
#ifndef CLFT_MOCHI_H
#define CLFT_MOCHI_H

#include "variants/variant.h"

typedef struct MochiState MochiState;

/* The sizes a K-row queue gets from opt (auto sizes scaled as above). */
void mochi_sizes(const VariantOptions *opt, int K, int *n_hard, int *s, int *s_prime);

/* The state on backend `be`: selection and mixes there (topk_rows, mix_picked), the picks drawn
 * on the host and uploaded. */
MochiState *mochi_create(const VariantOptions *opt, const Backend *be, int N, int D, int K);
void mochi_destroy(MochiState *m);
int mochi_n_extra(const MochiState *m);
void mochi_forward(MochiState *m, const VariantInput *in, Rng *rng, VariantOutput *out);

/* What the last forward mixed, for tests: hard (N, n_hard) queue rows of each query's hardest
 * negatives; for extra e of query n, src_a[n*E+e] (a queue row, or −1 for the query),
 * src_b[n*E+e] (a queue row) and coef[n*E+e] (α or β): extra = normalise(coef a + (1−coef) b). */
typedef struct {
    int n_hard, E;
    const int *hard, *src_a, *src_b;
    const float *coef;
} MochiTrace;
MochiTrace mochi_trace(MochiState *m); /* downloads the hard rows of the last forward */

#endif

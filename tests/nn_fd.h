/* nn_fd.h — the harness the layer tests of core/nn share (tests/test_nn_*.c): random buffers, the
 * finite-difference driver and the PyTorch golden fixtures' tolerances.
 *
 * Finite differences. The loss is L = Σ out·R with a fixed random R, accumulated in double. Each
 * parameter p is moved to p ± eps and dL/dp ≈ (L+ - L-) / (p+ - p-), dividing by the float
 * difference actually applied.
 *   Single layers: FD_EPS = 1e-2. They are linear (conv, linear, pools, relu away from 0) or smooth
 *   with O(1) curvature (BN, l2norm), so truncation is O(eps²) ≈ 1e-4 relative at most, while the
 *   float32 rounding of L (≈ 1e-7 · Σ|out·R| ≈ 1e-6) divided by 2 eps is ≈ 1e-4. Observed: ≤ 1e-4.
 *   Tolerance FD_TOL_LAYER = 1e-3.
 *   Whole blocks: FD_EPS_BLOCK = 1e-3. With BN in train mode every parameter moves every relu
 * input, and at 1e-2 a few percent of the steps crossed a relu kink on both sides; 1e-3 makes that
 * rare, at the price of ~10x more rounding noise (≈ 1e-3 relative). Observed: ≤ 1.3e-3. Tolerance
 * FD_TOL_BLOCK = 1e-2. Both tolerances are ~10x the observed error yet far below the O(1) error of
 * any wrong term (a missing factor, a sign, an overwritten +=, a BN group mixed up). The metric is
 * rel_err: max abs difference over a tensor / max abs gradient. Kinks: an evaluation whose relu
 * sign pattern or max-pool argmax differs from the unperturbed one is not on the same linear piece;
 * then the one-sided difference of the other side is used, and if both sides cross the point is
 * skipped (at most FD_MAX_SKIP of a tensor, else the test fails). Max-pool inputs are
 * well-separated values so that no two taps tie within ±eps.
 *
 * Backward must accumulate: every gradient buffer starts at GRAD_PREFILL (2, as large as the
 * gradients themselves), which is subtracted
 * before comparing, so a backward that overwrites (=) instead of adding (+=) fails.
 */
#ifndef CLFT_TESTS_NN_FD_H
#define CLFT_TESTS_NN_FD_H

#include "tests/test_util.h"

#include <stdint.h>

#include "core/backend/backend.h"
#include "core/common.h"
#include "core/nn/nn.h"
#include "core/rng.h"

#define FD_EPS 1e-2f
#define FD_EPS_BLOCK 1e-3f
#define FD_TOL_LAYER 1e-3
#define FD_TOL_BLOCK 1e-2
#define FD_MAX_SKIP 0.05
#define GRAD_PREFILL 2.0f

/* Golden values from PyTorch (tests/gen_golden_nn.py).
 * Tolerances (rel_err, normalised by the reference's largest magnitude): the references are exact
 * (float64) answers rounded to float32, and clft computes in float32 with sums of ≤ 100 terms, so
 * outputs and weight/bias gradients must agree to TOL_GOLD = 1e-5 (≈ 100 float32 ulps). BN's input
 * gradient is a difference of three terms of similar size (dy - mean(dy) - x̂·mean(dy x̂)), which
 * can lose a digit to cancellation: TOL_GOLD_BN_DIN = 1e-4. Running statistics: 1e-5. */
#define TOL_GOLD 1e-5
#define TOL_GOLD_BN_DIN 1e-4

void fill_normal(Rng *r, float *x, size_t n, double scale);
/* malloc'ed (n) buffers: N(0, scale²) draws, or all v */
float *alloc_normal(Rng *r, size_t n, double scale);
float *alloc_fill(size_t n, float v);
double dot_d(const float *a, const float *b, size_t n);

/* A model under test: forward() recomputes everything from the current parameters and returns
 * L = Σ out·R; kinks() returns a signature of every relu sign and max-pool argmax (0 if none). */
typedef struct {
    double (*forward)(void *ctx);
    uint64_t (*kinks)(void *ctx);
    void *ctx;
} FdModel;

/* Folds the sign pattern of x (n) into the hash h: a relu's kink signature. */
uint64_t hash_mask(uint64_t h, const float *x, size_t n);
/* Compares grad - GRAD_PREFILL with central differences of L (step eps) in every element of param
 * and fails the test above tol (see above for kinks and skipped points). */
void fd_check_eps(const char *what, FdModel *m, float *param, const float *grad, size_t n,
                  float eps, double tol);
/* fd_check_eps at FD_EPS, FD_TOL_LAYER. */
void fd_check(const char *what, FdModel *m, float *param, const float *grad, size_t n);

/* Runs `tests` (n) as two groups, "<name> on cpu-im2col" and "<name> on cpu-ref", with *be set to
 * that backend and *ref to "cpu-ref": the layer tests hand NCHW buffers to the ops, so they run on
 * the NCHW tables (the channels-last "cpu" table is held against "cpu-ref" by
 * tests/test_backend_parity.c, which converts layouts). Returns the failures. */
int nn_run_groups(const char *name, const struct CMUnitTest *tests, size_t n, const Backend **be,
                  const Backend **ref);

/* The float32 tensor "<layer>.<key>" (n) of a golden fixture. */
const float *gold(const StFile *f, const char *layer, const char *key, size_t n);

#endif

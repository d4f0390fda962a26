/* bench_variants.c — cost of each variant's forward + backward (sampling included) and of the
 * InfoNCE forward + backward at the paper's scale: K = 65536, D = 128, N = 256 (PAPER.md §4).
 * Prints one line per variant `variant_cost variant=NAME ms=X`, then `infonce_cost ms=Y`, and the
 * score statistics' costs (`scores_cost`, `pre_scores_cost`). Median of REPS timed repetitions
 * after one warm-up. Usage: bench_variants [reps]. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend/backend.h"
#include "core/backend/blas.h"
#include "core/common.h"
#include "core/contrast/infonce.h"
#include "core/contrast/scores.h"
#include "core/rng.h"
#include "variants/variant.h"

/* The backend benchmarked: the CPU one. */
static const Backend *be;

enum { N = 256, D = 128, K = 65536, MAX_REPS = 64 };

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return t[n / 2];
}

static void random_unit_rows(float *x, int rows, Rng *r)
{
    for (int i = 0; i < rows; i++) {
        double ss = 0.0;
        for (int d = 0; d < D; d++) {
            x[(size_t)i * D + d] = (float)rng_normal(r);
            ss += (double)x[(size_t)i * D + d] * x[(size_t)i * D + d];
        }
        for (int d = 0; d < D; d++) x[(size_t)i * D + d] /= (float)sqrt(ss);
    }
}

typedef struct {
    float *q, *k, *queue; /* (N, D), (N, D), (K, D) */
    float *dq_hat, *dk_hat, *dq; /* (N, D) each */
} Bufs;

static double time_variant(const Variant *v, const Bufs *b, int reps)
{
    VariantOptions o;
    variant_options_default(&o);
    variant_options_preset(&o, v->name);
    void *self = v->create(&o, be, N, D, K);
    Rng rng;
    rng_init(&rng, 1, RNG_STREAM_FT, 0, 0);
    VariantInput in = {.N = N, .D = D, .K = K, .q = b->q, .k = b->k, .queue = b->queue};
    double t[MAX_REPS];
    for (int r = -1; r < reps; r++) {
        VariantOutput out;
        double t0 = clft_now();
        v->forward(self, &in, &rng, &out);
        v->backward(self, b->dq_hat, b->dk_hat, b->dq);
        if (r >= 0) t[r] = (clft_now() - t0) * 1e3;
    }
    v->destroy(self);
    return median(t, reps);
}

/* InfoNCE forward (with the fused score statistics and histograms) + backward, against the time of
 * its two GEMMs alone (q̂·queuêᵀ and G·queuê, 2·2·N·K·D flops) run by the same BLAS: the floor the
 * issue's target is set against (InfoNCE within 1.5× of it). */
static void time_infonce(const Bufs *b, int reps)
{
    InfoNCE w;
    infonce_init(&w, be, N, D, K, 0, 0.2f);
    double stats[STEP_STAT_COUNT];
    InfoNCEInput in = {.q = b->q, .k = b->k, .queue = b->queue};
    PreScores ps;
    scores_pre_init(&ps, be, N, D);
    ScoreHist h;
    scores_hist_reset(&h);
    double t[MAX_REPS], tg[MAX_REPS], tp[MAX_REPS];
    for (int r = -1; r < reps; r++) {
        double t0 = clft_now();
        infonce_forward(&w, &in, stats, &h);
        infonce_backward(&w, &in, b->dq_hat, b->dk_hat);
        double t1 = clft_now();
        be->gemm(0, 1, N, K, D, 5.0f, b->q, D, b->queue, D, 0.0f, w.logits + 1, w.L);
        be->gemm(0, 0, N, D, K, 5.0f, w.grad + 1, w.L, b->queue, D, 1.0f, b->dq_hat, D);
        double t2 = clft_now();
        scores_pre(&ps, stats + STEP_STAT_PRE, &h, b->q, b->k, b->queue, N, K);
        double t3 = clft_now();
        if (r < 0) continue;
        t[r] = (t1 - t0) * 1e3;
        tg[r] = (t2 - t1) * 1e3;
        tp[r] = (t3 - t2) * 1e3;
    }
    const double ms = median(t, reps), gemm = median(tg, reps);
    printf("infonce_cost ms=%.3f gemm_ms=%.3f ratio=%.2f (forward with the score statistics and "
           "histograms, + backward; the GEMMs alone: %.1f GFLOP/s)\n",
           ms, gemm, ms / gemm, 4.0 * N * K * D / (gemm * 1e6));
    printf("pre_scores_cost ms=%.3f ratio=%.2f (pre-transform statistics and histogram of the "
           "original scores, variants only: q·queueᵀ again, summed and binned)\n",
           median(tp, reps), median(tp, reps) / gemm);
    scores_pre_free(&ps);
    infonce_free(&w);
}

int main(int argc, char **argv)
{
    blas_setup(argv);
    be = backend_find("cpu");
    int reps = 10;
    if (argc > 1) {
        long v;
        if (parse_int(argv[1], 1, MAX_REPS, &v) != CLFT_OK) clft_die("bench_variants: reps: %s", clft_last_error());
        reps = (int)v;
    }
    printf("# bench_variants N=%d D=%d K=%d reps=%d blas=%s threads=%d\n", N, D, K, reps,
           blas_core_name(), blas_get_threads());
    Bufs b;
    b.q = xaligned_alloc((size_t)N * D * sizeof(float));
    b.k = xaligned_alloc((size_t)N * D * sizeof(float));
    b.queue = xaligned_alloc((size_t)K * D * sizeof(float));
    b.dq_hat = xaligned_alloc((size_t)N * D * sizeof(float));
    b.dk_hat = xaligned_alloc((size_t)N * D * sizeof(float));
    b.dq = xaligned_alloc((size_t)N * D * sizeof(float));
    Rng r;
    rng_init(&r, 1, RNG_STREAM_DATA, 0, 0);
    random_unit_rows(b.q, N, &r);
    random_unit_rows(b.k, N, &r);
    random_unit_rows(b.queue, K, &r);
    random_unit_rows(b.dq_hat, N, &r);
    random_unit_rows(b.dk_hat, N, &r);
    for (const Variant *const *v = variant_all(); *v; v++)
        printf("variant_cost variant=%s ms=%.3f\n", (*v)->name, time_variant(*v, &b, reps));
    time_infonce(&b, reps);
    free(b.q);
    free(b.k);
    free(b.queue);
    free(b.dq_hat);
    free(b.dk_hat);
    free(b.dq);
    return 0;
}

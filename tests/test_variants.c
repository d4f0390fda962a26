/* test_variants.c — variants/: option parsing and presets, FT (PAPER.md §2) backward vs finite
 * differences for every option, the positive-score identities, the queue left untouched, the
 * documented draw order, the Beta sampler's moments, a PyTorch golden FT step, and MoCHi. */
#include "tests/test_util.h"

#include "core/common.h"
#include "core/contrast/infonce.h"
#include "core/rng.h"
#include "variants/ft.h"
#include "variants/mochi.h"
#include "variants/variant.h"

/* The backend of the kernels under test: the whole group runs on "cpu", then on "cpu-ref". */
static const Backend *be;

/* ---- options ---- */

static void test_options_parse(void **state)
{
    (void)state;
    VariantOptions o;
    variant_options_default(&o);
    assert_int_equal(o.target, FT_TARGET_BOTH);
    assert_true(o.alpha_ex == 2.0 && o.alpha_in == 1.6);
    assert_int_equal(o.dimwise, FT_DIMWISE_NONE);
    assert_int_equal(o.postmix_norm, FT_NORM_OFF);
    assert_int_equal(variant_options_set(&o, "target", "neg"), CLFT_OK);
    assert_int_equal(o.target, FT_TARGET_NEG);
    assert_int_equal(variant_options_set(&o, "alpha_in", "0.5"), CLFT_OK);
    assert_true(o.alpha_in == 0.5);
    assert_int_equal(variant_options_set(&o, "dimwise", "both"), CLFT_OK);
    assert_int_equal(variant_options_set(&o, "postmix_norm", "on"), CLFT_OK);
    assert_int_equal(o.postmix_norm, FT_NORM_POS);
    assert_int_equal(variant_options_set(&o, "mochi_s", "auto"), CLFT_OK);
    assert_int_equal(o.mochi_s, -1);
    assert_int_equal(variant_options_set(&o, "start_epoch", "3"), CLFT_OK);
    assert_int_equal(o.start_epoch, 3);
    assert_int_equal(variant_options_set(&o, "targte", "pos"), CLFT_ERR_VALUE);
    assert_non_null(strstr(clft_last_error(), "targte"));
    assert_non_null(strstr(clft_last_error(), "pos"));
    assert_int_equal(variant_options_set(&o, "dist", "gauss"), CLFT_ERR_VALUE);
    assert_non_null(strstr(clft_last_error(), "dist"));
    assert_non_null(strstr(clft_last_error(), "gauss"));
    assert_int_equal(variant_options_set(&o, "alpha_ex", "-1"), CLFT_ERR_VALUE);
    assert_int_equal(variant_options_set(&o, "alpha_ex", "2x"), CLFT_ERR_VALUE);
    assert_true(o.ex_scale == 1.0);
    assert_int_equal(variant_options_set(&o, "ex_scale", "0.5"), CLFT_OK);
    assert_true(o.ex_scale == 0.5);
    assert_int_equal(variant_options_set(&o, "ex_scale", "-0.5"), CLFT_ERR_VALUE);
    assert_int_equal(variant_options_set(&o, "start_epoch", "auto"), CLFT_ERR_VALUE);
    assert_int_equal(variant_options_set(&o, "mochi_beta_max", "0.7"), CLFT_ERR_VALUE);
}

static void test_named_variants_and_presets(void **state)
{
    (void)state;
    const char *names[] = {"none", "ft", "ft_pos", "ft_neg", "ft_pos_interp", "ft_uniform",
                           "ft_dimwise", "mochi"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        const Variant *v = variant_find(names[i]);
        assert_non_null(v);
        assert_string_equal(v->name, names[i]);
    }
    assert_null(variant_find("ft_bogus"));
    VariantOptions o;
    variant_options_default(&o);
    variant_options_preset(&o, "ft_pos_interp");
    assert_int_equal(o.target, FT_TARGET_POS);
    assert_int_equal(o.pos_mode, FT_POS_INTERPOLATE);
    variant_options_default(&o);
    variant_options_preset(&o, "ft_dimwise");
    assert_int_equal(o.dimwise, FT_DIMWISE_BOTH);
    variant_options_set(&o, "dimwise", "pos"); /* keys override the preset */
    assert_int_equal(o.dimwise, FT_DIMWISE_POS);
    variant_options_default(&o);
    variant_options_preset(&o, "ft_uniform");
    assert_int_equal(o.dist, FT_DIST_UNIFORM);
    variant_options_default(&o);
    variant_options_preset(&o, "ft_neg");
    assert_int_equal(o.target, FT_TARGET_NEG);
}

/* ---- FT ---- */

enum { FN = 3, FD = 4, FK = 6 };

typedef struct {
    float q[FN * FD], k[FN * FD], queue[FK * FD];
} Feats;

static double ft_loss(FtState *s, InfoNCE *w, const Feats *f)
{
    VariantInput in = {.N = FN, .D = FD, .K = FK, .q = f->q, .k = f->k, .queue = f->queue};
    VariantOutput out;
    ft_apply(s, &in, &out);
    InfoNCEInput li = {.q = out.q, .k = out.k, .queue = out.queue};
    double stats[STEP_STAT_COUNT];
    infonce_forward(w, &li, stats, NULL);
    return stats[STEP_STAT_LOSS];
}

/* Full chain q → FT → InfoNCE: analytic dq vs central differences (eps 1e-3, T = 0.5; same error
 * budget as test_contrast's InfoNCE check, tolerance 1e-2 of the largest component). */
static void check_ft_fd(const VariantOptions *o, const char *what)
{
    Rng r;
    rng_init(&r, 21, RNG_STREAM_DATA, 0, 0);
    Feats f;
    test_unit_rows(f.q, FN, FD, &r);
    test_unit_rows(f.k, FN, FD, &r);
    test_unit_rows(f.queue, FK, FD, &r);
    FtState *s = ft_create(o, be, FN, FD, FK);
    Rng fr;
    rng_init(&fr, 3, RNG_STREAM_FT, 0, 0);
    ft_sample(s, 0, &fr);
    InfoNCE w;
    double stats[STEP_STAT_COUNT];
    infonce_init(&w, be, FN, FD, FK, 0, 0.5f);
    VariantInput in = {.N = FN, .D = FD, .K = FK, .q = f.q, .k = f.k, .queue = f.queue};
    VariantOutput out;
    ft_apply(s, &in, &out);
    InfoNCEInput li = {.q = out.q, .k = out.k, .queue = out.queue};
    infonce_forward(&w, &li, stats, NULL);
    float dqh[FN * FD] = {0}, dkh[FN * FD] = {0}, dq[FN * FD] = {0}, fd[FN * FD];
    infonce_backward(&w, &li, dqh, dkh);
    ft_backward(s, dqh, dkh, dq);
    const float eps = 1e-3f;
    for (int i = 0; i < FN * FD; i++) {
        float v = f.q[i];
        f.q[i] = v + eps;
        double lp = ft_loss(s, &w, &f);
        f.q[i] = v - eps;
        double lm = ft_loss(s, &w, &f);
        f.q[i] = v;
        fd[i] = (float)((lp - lm) / (2 * eps));
    }
    ASSERT_CLOSE(what, dq, fd, FN * FD, 1e-2);
    infonce_free(&w);
    ft_destroy(s);
}

static void test_ft_backward_every_option(void **state)
{
    (void)state;
    static const struct {
        const char *key, *value;
    } cases[] = {
        {"target", "both"},       {"target", "pos"},          {"target", "neg"},
        {"pos_mode", "interpolate"}, {"dist", "uniform"},     {"dimwise", "pos"},
        {"dimwise", "neg"},       {"dimwise", "both"},        {"postmix_norm", "pos"},
        {"postmix_norm", "neg"},  {"postmix_norm", "both"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        VariantOptions o;
        variant_options_default(&o);
        assert_int_equal(variant_options_set(&o, cases[i].key, cases[i].value), CLFT_OK);
        char what[96];
        snprintf(what, sizeof what, "FT dq vs FD, %s=%s", cases[i].key, cases[i].value);
        check_ft_fd(&o, what);
    }
    /* Dimension-wise λ with post-mix re-normalisation together. */
    VariantOptions o;
    variant_options_default(&o);
    variant_options_set(&o, "dimwise", "both");
    variant_options_set(&o, "postmix_norm", "both");
    check_ft_fd(&o, "FT dq vs FD, dimwise=both postmix_norm=both");
}

/* For unit q, k with s = q·k and scalar λ:  q̂·k̂ = s − 2λ(λ−1)(1−s),  ‖q̂‖² = 1 + 2λ(λ−1)(1−s). */
static void test_ft_identities(void **state)
{
    (void)state;
    enum { N = 16, D = 32, K = 8 };
    Rng r;
    rng_init(&r, 4, RNG_STREAM_DATA, 0, 0);
    float q[N * D], k[N * D], queue[K * D];
    test_unit_rows(q, N, D, &r);
    test_unit_rows(k, N, D, &r);
    test_unit_rows(queue, K, D, &r);
    VariantOptions o;
    variant_options_default(&o);
    FtState *s = ft_create(&o, be, N, D, K);
    const float lams[3] = {1.0f, 1.37f, 2.0f};
    for (int t = 0; t < 3; t++) {
        const float lam = lams[t];
        ft_set_draws(s, &(FtDraws){.n_ex = 1, .lam_ex = &lam});
        VariantInput in = {.N = N, .D = D, .K = K, .q = q, .k = k, .queue = queue};
        VariantOutput out;
        ft_apply(s, &in, &out);
        for (int n = 0; n < N; n++) {
            double sk = 0, qk = 0, qq = 0;
            for (int d = 0; d < D; d++) {
                sk += (double)q[n * D + d] * k[n * D + d];
                qk += (double)out.q[n * D + d] * out.k[n * D + d];
                qq += (double)out.q[n * D + d] * out.q[n * D + d];
            }
            double c = 2.0 * lam * (lam - 1.0) * (1.0 - sk);
            assert_true(fabs(qk - (sk - c)) < 1e-5);
            assert_true(fabs(qq - (1.0 + c)) < 1e-5);
            assert_true(qk <= sk + 1e-6);
        }
    }
    ft_destroy(s);
}

/* The variant never writes the queue (bit-identical), for every FT preset and MoCHi; and the
 * transformed queue is the documented mix of the original rows. */
static void test_queue_untouched(void **state)
{
    (void)state;
    enum { N = 4, D = 8, K = 64 };
    Rng r;
    rng_init(&r, 8, RNG_STREAM_DATA, 0, 0);
    float q[N * D], k[N * D], queue[K * D], copy[K * D];
    test_unit_rows(q, N, D, &r);
    test_unit_rows(k, N, D, &r);
    test_unit_rows(queue, K, D, &r);
    memcpy(copy, queue, sizeof queue);
    for (const Variant *const *v = variant_all(); *v; v++) {
        VariantOptions o;
        variant_options_default(&o);
        variant_options_preset(&o, (*v)->name);
        void *self = (*v)->create(&o, be, N, D, K);
        Rng fr;
        rng_init(&fr, 1, RNG_STREAM_FT, 0, 0);
        VariantInput in = {.N = N, .D = D, .K = K, .q = q, .k = k, .queue = queue};
        VariantOutput out;
        (*v)->forward(self, &in, &fr, &out);
        assert_memory_equal(queue, copy, sizeof queue);
        (*v)->destroy(self);
    }
    VariantOptions o;
    variant_options_default(&o);
    FtState *s = ft_create(&o, be, N, D, K);
    Rng fr;
    rng_init(&fr, 2, RNG_STREAM_FT, 0, 0);
    ft_sample(s, 0, &fr);
    VariantInput in = {.N = N, .D = D, .K = K, .q = q, .k = k, .queue = queue};
    VariantOutput out;
    ft_apply(s, &in, &out);
    FtDraws dr = ft_get_draws(s);
    for (int i = 0; i < K; i++)
        for (int d = 0; d < D; d++) {
            float want = dr.lam_in[0] * queue[i * D + d] +
                         (1.0f - dr.lam_in[0]) * queue[dr.perm[i] * D + d];
            assert_true(fabs(out.queue[i * D + d] - want) < 1e-6);
        }
    ft_destroy(s);
}

/* The documented draw order: λ_ex (1 + Beta(2, 2)), then λ_in (Beta(1.6, 1.6)), then the
 * permutation; nothing before start_epoch (identity, rng untouched). */
static void test_ft_draw_order_and_start_epoch(void **state)
{
    (void)state;
    enum { N = 2, D = 4, K = 10 };
    VariantOptions o;
    variant_options_default(&o);
    o.start_epoch = 2;
    FtState *s = ft_create(&o, be, N, D, K);
    Rng a, b;
    rng_init(&a, 77, RNG_STREAM_FT, 0, 0);
    b = a;
    ft_sample(s, 1, &a);
    assert_memory_equal(&a, &b, sizeof a);
    FtDraws dr = ft_get_draws(s);
    assert_int_equal(dr.n_ex, 0);
    assert_int_equal(dr.n_in, 0);
    ft_sample(s, 2, &a);
    dr = ft_get_draws(s);
    float lex = (float)(1.0 + rng_beta(&b, 2.0, 2.0)), lin = (float)rng_beta(&b, 1.6, 1.6);
    int perm[K];
    rng_permutation(&b, perm, K);
    assert_int_equal(dr.n_ex, 1);
    assert_int_equal(dr.n_in, 1);
    assert_true(dr.lam_ex[0] == lex && dr.lam_in[0] == lin);
    assert_memory_equal(dr.perm, perm, sizeof perm);
    assert_memory_equal(&a, &b, sizeof a);
    ft_destroy(s);
    /* Ranges: extrapolation λ ∈ [1, 2], interpolation and λ_in ∈ [0, 1], dimwise gives D values. */
    variant_options_default(&o);
    variant_options_set(&o, "dimwise", "both");
    variant_options_set(&o, "dist", "uniform");
    s = ft_create(&o, be, N, D, K);
    ft_sample(s, 0, &a);
    dr = ft_get_draws(s);
    assert_int_equal(dr.n_ex, D);
    assert_int_equal(dr.n_in, D);
    for (int d = 0; d < D; d++)
        assert_true(dr.lam_ex[d] >= 1.0f && dr.lam_ex[d] <= 2.0f && dr.lam_in[d] >= 0.0f &&
                    dr.lam_in[d] <= 1.0f);
    ft_destroy(s);
    variant_options_default(&o);
    variant_options_preset(&o, "ft_pos_interp");
    s = ft_create(&o, be, N, D, K);
    ft_sample(s, 0, &a);
    dr = ft_get_draws(s);
    assert_true(dr.n_ex == 1 && dr.n_in == 0 && dr.lam_ex[0] >= 0.0f && dr.lam_ex[0] <= 1.0f);
    ft_destroy(s);
    /* ex_scale: λ_ex = 1 + s · Beta draw from the same stream, the rest of the draws unchanged */
    variant_options_default(&o);
    assert_int_equal(variant_options_set(&o, "ex_scale", "0.25"), CLFT_OK);
    s = ft_create(&o, be, N, D, K);
    rng_init(&a, 78, RNG_STREAM_FT, 0, 0);
    b = a;
    ft_sample(s, 0, &a);
    dr = ft_get_draws(s);
    lex = 1.0f + (float)(0.25 * (float)rng_beta(&b, 2.0, 2.0));
    lin = (float)rng_beta(&b, 1.6, 1.6);
    assert_true(dr.lam_ex[0] == lex && dr.lam_in[0] == lin);
    assert_true(dr.lam_ex[0] >= 1.0f && dr.lam_ex[0] <= 1.25f);
    ft_destroy(s);
}

/* Beta(α, α): mean 1/2, variance σ² = 1/(4(2α+1)), excess kurtosis −6/(2α+3). Over n = 10^6
 * draws: SE(mean) = σ/√n; SE(sample variance) = √((μ4 − σ⁴)/n) with μ4 = σ⁴(3 − 6/(2α+3)).
 * Both within 4 standard errors. */
/* queuê against the formula row by row at a K that spans several of ft.c's threaded row blocks
 * (and a partial last one), scalar and dimension-wise λ_in. */
static void test_ft_mixed_queue_many_blocks(void **state)
{
    (void)state;
    enum { N = 4, D = 8, K = 2 * 1024 + 77 };
    float *q = xmalloc(N * D * sizeof(float)), *k = xmalloc(N * D * sizeof(float));
    float *queue = xmalloc((size_t)K * D * sizeof(float));
    int *perm = xmalloc(K * sizeof(int));
    Rng r;
    rng_init(&r, 5, RNG_STREAM_DATA, 0, 0);
    for (int i = 0; i < N * D; i++) q[i] = (float)rng_normal(&r), k[i] = (float)rng_normal(&r);
    for (int i = 0; i < K * D; i++) queue[i] = (float)rng_normal(&r);
    rng_permutation(&r, perm, K);
    float lam[D];
    for (int d = 0; d < D; d++) lam[d] = 0.1f + 0.1f * d;
    for (int dimwise = 0; dimwise < 2; dimwise++) {
        VariantOptions o;
        variant_options_default(&o);
        o.target = FT_TARGET_NEG;
        o.dimwise = dimwise ? FT_DIMWISE_NEG : FT_DIMWISE_NONE;
        FtState *st = ft_create(&o, be, N, D, K);
        FtDraws dr = {.n_in = dimwise ? D : 1, .lam_in = lam, .perm = perm};
        ft_set_draws(st, &dr);
        VariantInput in = {.N = N, .D = D, .K = K, .q = q, .k = k, .queue = queue};
        VariantOutput out;
        ft_apply(st, &in, &out);
        for (int i = 0; i < K; i++)
            for (int d = 0; d < D; d++) {
                float l = dimwise ? lam[d] : lam[0];
                float want = l * queue[(size_t)i * D + d] + (1.0f - l) * queue[(size_t)perm[i] * D + d];
                if (fabsf(out.queue[(size_t)i * D + d] - want) > 1e-6f * (1.0f + fabsf(want)))
                    fail_msg("dimwise %d: queuê[%d][%d] = %g, want %g", dimwise, i, d,
                             out.queue[(size_t)i * D + d], want);
            }
        ft_destroy(st);
    }
    free(q);
    free(k);
    free(queue);
    free(perm);
}

static void test_beta_sampler_moments(void **state)
{
    (void)state;
    const double alphas[3] = {0.5, 1.6, 2.0};
    const int n = 1000000;
    for (int t = 0; t < 3; t++) {
        const double a = alphas[t];
        Rng r;
        rng_init(&r, 100 + t, RNG_STREAM_FT, 0, 0);
        double s1 = 0, s2 = 0;
        for (int i = 0; i < n; i++) {
            double x = rng_beta(&r, a, a) - 0.5; /* centred: no cancellation */
            assert_true(x >= -0.5 && x <= 0.5);
            s1 += x;
            s2 += x * x;
        }
        double mean = s1 / n, var = (s2 - s1 * mean) / (n - 1);
        double sig2 = 1.0 / (4.0 * (2.0 * a + 1.0));
        double mu4 = sig2 * sig2 * (3.0 - 6.0 / (2.0 * a + 3.0));
        double se_mean = sqrt(sig2 / n), se_var = sqrt((mu4 - sig2 * sig2) / n);
        if (fabs(mean) > 4 * se_mean || fabs(var - sig2) > 4 * se_var)
            fail_msg("Beta(%g, %g): mean %.6f (se %.2g), var %.6f vs %.6f (se %.2g)", a, a,
                     mean + 0.5, se_mean, var, sig2, se_var);
    }
}

/* Golden FT step from tests/gen_golden_contrast.py (the official code's formulas in PyTorch) with
 * the same λs and permutation: scalar λ, and dimension-wise λ with post-mix normalisation.
 * Float32 both sides; λ_ex ≈ 1.64 amplifies rounding by ≲ 3×: logits 1e-5, loss 1e-5, dq 1e-4. */
static void test_ft_golden_pytorch(void **state)
{
    (void)state;
    enum { N = 8, D = 16, K = 64 };
    StFile f;
    fixture_open(&f, "contrast_ft.safetensors");
    const float *q = fixture_f32(&f, "q", N * D), *k = fixture_f32(&f, "k", N * D);
    const float *queue = fixture_f32(&f, "queue", K * D), *T = fixture_f32(&f, "T", 1);
    const StTensor *pt = st_find(&f, "perm");
    assert_non_null(pt);
    assert_true(pt->dtype == ST_I32 && pt->nbytes == K * sizeof(int32_t));
    int perm[K];
    memcpy(perm, pt->data, sizeof perm);
    const char *suffix[2] = {"", "_dn"};
    for (int c = 0; c < 2; c++) {
        VariantOptions o;
        variant_options_default(&o);
        if (c == 1) {
            o.dimwise = FT_DIMWISE_BOTH;
            o.postmix_norm = FT_NORM_POS; /* the official code's norm_target 'pos' */
        }
        FtState *s = ft_create(&o, be, N, D, K);
        FtDraws dr = {.n_ex = c ? D : 1, .lam_ex = fixture_f32(&f, c ? "lam_ex_d" : "lam_ex", c ? D : 1),
                      .n_in = c ? D : 1, .lam_in = fixture_f32(&f, c ? "lam_in_d" : "lam_in", c ? D : 1),
                      .perm = perm};
        ft_set_draws(s, &dr);
        VariantInput in = {.N = N, .D = D, .K = K, .q = q, .k = k, .queue = queue};
        VariantOutput out;
        ft_apply(s, &in, &out);
        InfoNCE w;
        double stats[STEP_STAT_COUNT];
        infonce_init(&w, be, N, D, K, 0, T[0]);
        InfoNCEInput li = {.q = out.q, .k = out.k, .queue = out.queue};
        infonce_forward(&w, &li, stats, NULL);
        char name[32];
        snprintf(name, sizeof name, "logits%s", suffix[c]);
        ASSERT_CLOSE(name, w.logits, fixture_f32(&f, name, N * (1 + K)), N * (1 + K), 1e-5);
        float loss = (float)stats[STEP_STAT_LOSS];
        snprintf(name, sizeof name, "loss%s", suffix[c]);
        ASSERT_CLOSE(name, &loss, fixture_f32(&f, name, 1), 1, 1e-5);
        float dqh[N * D] = {0}, dkh[N * D] = {0}, dq[N * D] = {0};
        infonce_backward(&w, &li, dqh, dkh);
        ft_backward(s, dqh, dkh, dq);
        snprintf(name, sizeof name, "dq%s", suffix[c]);
        ASSERT_CLOSE(name, dq, fixture_f32(&f, name, N * D), N * D, 1e-4);
        infonce_free(&w);
        ft_destroy(s);
    }
    st_close(&f);
}

/* ---- MoCHi ---- */

static int cmp_desc(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

/* Extras are unit vectors, mixes of two distinct hard negatives (α ∈ [0,1)) or of the query and a
 * hard negative (β ∈ [0, 0.5)); the hard negatives are exactly the n_hard highest q·queue rows
 * (checked against a full sort); the gradient is dq̂ only. */
static void test_mochi_extras(void **state)
{
    (void)state;
    enum { N = 5, D = 8, K = 256 };
    Rng r;
    rng_init(&r, 12, RNG_STREAM_DATA, 0, 0);
    float q[N * D], k[N * D], *queue = xmalloc(K * D * sizeof(float));
    test_unit_rows(q, N, D, &r);
    test_unit_rows(k, N, D, &r);
    test_unit_rows(queue, K, D, &r);
    VariantOptions o;
    variant_options_default(&o);
    int nh, s, sp;
    mochi_sizes(&o, K, &nh, &s, &sp);
    assert_true(nh == 4 && s == 4 && sp == 1); /* auto: K/64, n_hard, n_hard/8 ≥ 1 */
    mochi_sizes(&o, 65536, &nh, &s, &sp);
    assert_true(nh == 1024 && s == 1024 && sp == 128);
    o.mochi_n_hard = 16;
    o.mochi_s = 12;
    o.mochi_s_prime = 6;
    MochiState *m = mochi_create(&o, be, N, D, K);
    assert_int_equal(variant_find("mochi")->n_extra(m), 18);
    Rng fr;
    rng_init(&fr, 5, RNG_STREAM_FT, 0, 0);
    VariantInput in = {.N = N, .D = D, .K = K, .q = q, .k = k, .queue = queue};
    VariantOutput out;
    mochi_forward(m, &in, &fr, &out);
    assert_int_equal(out.E, 18);
    assert_ptr_equal(out.q, q);
    MochiTrace tr = mochi_trace(m);
    float sc[K], sorted[K];
    for (int n = 0; n < N; n++) {
        for (int j = 0; j < K; j++) {
            double dot = 0;
            for (int d = 0; d < D; d++) dot += (double)q[n * D + d] * queue[j * D + d];
            sc[j] = sorted[j] = (float)dot;
        }
        qsort(sorted, K, sizeof(float), cmp_desc);
        const float thresh = sorted[tr.n_hard - 1]; /* the n_hard-th highest score */
        for (int i = 0; i < tr.n_hard; i++) assert_true(sc[tr.hard[n * tr.n_hard + i]] >= thresh - 1e-6f);
        for (int e = 0; e < tr.E; e++) {
            const float *x = out.extra + ((size_t)n * tr.E + e) * D;
            double nn = 0;
            for (int d = 0; d < D; d++) nn += (double)x[d] * x[d];
            assert_true(fabs(nn - 1.0) < 1e-5);
            int a = tr.src_a[n * tr.E + e], b = tr.src_b[n * tr.E + e];
            float c = tr.coef[n * tr.E + e];
            assert_true(sc[b] >= thresh - 1e-6f);
            if (e < 12) {
                assert_true(a >= 0 && a != b && sc[a] >= thresh - 1e-6f && c >= 0.0f && c < 1.0f);
            } else {
                assert_true(a == -1 && c >= 0.0f && c < 0.5f);
            }
            /* The extra is normalise(c·a + (1−c)·b): compare directions. */
            const float *va = a >= 0 ? queue + a * D : q + n * D, *vb = queue + b * D;
            double mix[D], mn = 0, cosv = 0;
            for (int d = 0; d < D; d++) {
                mix[d] = c * va[d] + (1.0 - c) * vb[d];
                mn += mix[d] * mix[d];
            }
            for (int d = 0; d < D; d++) cosv += mix[d] * x[d];
            assert_true(fabs(cosv / sqrt(mn) - 1.0) < 1e-5);
        }
    }
    float dqh[N * D], dq[N * D] = {0};
    for (int i = 0; i < N * D; i++) dqh[i] = (float)i;
    variant_find("mochi")->backward(m, dqh, dqh, dq);
    assert_memory_equal(dq, dqh, sizeof dq);
    /* Before start_epoch: no extras. */
    mochi_destroy(m);
    o.start_epoch = 1;
    m = mochi_create(&o, be, N, D, K);
    mochi_forward(m, &in, &fr, &out);
    assert_int_equal(out.E, 0);
    assert_null(out.extra);
    mochi_destroy(m);
    free(queue);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options_parse),
        cmocka_unit_test(test_named_variants_and_presets),
        cmocka_unit_test(test_ft_backward_every_option),
        cmocka_unit_test(test_ft_identities),
        cmocka_unit_test(test_queue_untouched),
        cmocka_unit_test(test_ft_draw_order_and_start_epoch),
        cmocka_unit_test(test_ft_mixed_queue_many_blocks),
        cmocka_unit_test(test_beta_sampler_moments),
        cmocka_unit_test(test_ft_golden_pytorch),
        cmocka_unit_test(test_mochi_extras),
    };
    int failed = 0;
    be = backend_find("cpu");
    failed += cmocka_run_group_tests_name("variants on cpu", tests, NULL, NULL);
    be = backend_find("cpu-ref");
    failed += cmocka_run_group_tests_name("variants on cpu-ref", tests, NULL, NULL);
    return failed;
}

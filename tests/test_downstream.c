/* test_downstream.c — downstream/: the weighted kNN against a brute-force double-precision
 * reference and a hand example, the linear probe (a hand-computed SGD step, finite-difference
 * gradients, 100% on separable blobs, the lr schedule), the label-fraction and long-tailed
 * samplers' class counts, shot groups and per-group accuracy on hand examples. */
#include "tests/test_util.h"

#include "core/rng.h"
#include "downstream/knn.h"
#include "downstream/linear.h"
#include "downstream/sampling.h"
#include "downstream/topk.h"

/* ---------- kNN ---------- */

static void random_unit_rows(float *x, int N, int D, uint64_t seed, uint64_t a)
{
    Rng r;
    rng_init(&r, seed, RNG_STREAM_DATA, a, 0);
    for (int i = 0; i < N * D; i++)
        x[i] = (float)rng_normal(&r);
    knn_l2_normalize(x, N, D);
}

typedef struct {
    double s;
    int i;
} SimIdx;

static int cmp_sim_desc(const void *pa, const void *pb)
{
    const SimIdx *a = pa, *b = pb;
    if (a->s != b->s) return a->s < b->s ? 1 : -1;
    return (a->i > b->i) - (a->i < b->i);
}

/* Reference: all similarities in double, a full sort, votes exp(s / T); asserts that the k-th and
 * (k+1)-th similarities are at least 1e-5 apart, so float rounding cannot change the neighbour set.
 */
static void knn_reference(const float *tr, const int *ytr, int Ntr, const float *q, int D, int C,
                          int k, double T, double *scores)
{
    SimIdx *si = malloc((size_t)Ntr * sizeof *si);
    for (int j = 0; j < Ntr; j++) {
        double s = 0;
        for (int d = 0; d < D; d++)
            s += (double)q[d] * tr[(size_t)j * D + d];
        si[j] = (SimIdx){s, j};
    }
    qsort(si, (size_t)Ntr, sizeof *si, cmp_sim_desc);
    if (k < Ntr && !(si[k - 1].s - si[k].s > 1e-5))
        fail_msg("fixture has a near tie at the k-th neighbour");
    for (int c = 0; c < C; c++)
        scores[c] = 0;
    for (int j = 0; j < k && j < Ntr; j++)
        scores[ytr[si[j].i]] += exp(si[j].s / T);
    free(si);
}

/* Reference ranking: the number of classes strictly better than `label`. */
static int ref_rank(const double *sc, int C, int label)
{
    int r = 0;
    for (int c = 0; c < C; c++)
        r += sc[c] > sc[label] || (sc[c] == sc[label] && c < label);
    return r;
}

static void check_knn_vs_reference(int k, int block_rows)
{
    enum { NTR = 300, NTE = 50, D = 16, C = 7 };
    static float tr[NTR * D], te[NTE * D], scores[NTE * C];
    static int ytr[NTR], yte[NTE], pred[NTE];
    random_unit_rows(tr, NTR, D, 11, 0);
    random_unit_rows(te, NTE, D, 11, 1);
    Rng r;
    rng_init(&r, 11, RNG_STREAM_DATA, 2, 0);
    for (int i = 0; i < NTR; i++)
        ytr[i] = (int)rng_below(&r, C);
    for (int i = 0; i < NTE; i++)
        yte[i] = (int)rng_below(&r, C);
    KnnBank bank = {.x = tr, .labels = ytr, .n = NTR, .D = D, .n_classes = C};
    KnnOptions opt = {.k = k, .T = 0.07f, .block_rows = block_rows};
    KnnOutputs out = {.pred = pred, .scores = scores};
    TopkCounts got;
    assert_int_equal(knn_classify(&bank, te, yte, NTE, &opt, &out, &got), CLFT_OK);
    long c1 = 0, c5 = 0;
    for (int n = 0; n < NTE; n++) {
        double ref[C];
        knn_reference(tr, ytr, NTR, te + n * D, D, C, k, 0.07, ref);
        for (int c = 0; c < C; c++)
            if (!(fabs(scores[n * C + c] - ref[c]) <= 1e-4 * (fabs(ref[c]) + 1e-30)))
                fail_msg("k=%d row %d class %d: score %g, reference %g", k, n, c,
                         (double)scores[n * C + c], ref[c]);
        int best = 0;
        for (int c = 1; c < C; c++)
            best = ref[c] > ref[best] ? c : best;
        assert_int_equal(pred[n], best);
        c1 += ref_rank(ref, C, yte[n]) == 0;
        c5 += ref_rank(ref, C, yte[n]) < 5;
    }
    assert_int_equal(got.n, NTE);
    assert_int_equal(got.correct1, c1);
    assert_int_equal(got.correct5, c5);
}

static void test_knn_matches_brute_force(void **state)
{
    (void)state;
    check_knn_vs_reference(20, 7);  /* blocks of 7 test rows, the last one partial */
    check_knn_vs_reference(200, 0); /* the default k, automatic block size */
    check_knn_vs_reference(500, 0); /* k > Ntr: every train sample votes */
}

/* Hand example, D = 2, T = 0.5, k = 2. Train: (1,0) class 0, (0,1) class 1, (-1,0) class 1,
 * (0.6,0.8) class 1. Query (1,0): similarities 1, 0, -1, 0.6 → neighbours #0 (s=1) and #3 (s=0.6):
 * score0 = e^2 = 7.389056, score1 = e^1.2 = 3.320117 → predicts 0. With k = 1 and a duplicate of
 * train #0 labelled 1 appended (equal similarity), the lower index (#0, class 0) wins the tie. */
static void test_knn_hand_example(void **state)
{
    (void)state;
    float tr[] = {1, 0, 0, 1, -1, 0, 0.6f, 0.8f, 1, 0};
    int ytr[] = {0, 1, 1, 1, 1};
    float q[] = {1, 0};
    int yq[] = {1}, pred[1];
    float sc[2];
    KnnBank bank = {.x = tr, .labels = ytr, .n = 4, .D = 2, .n_classes = 2};
    KnnOptions opt = {.k = 2, .T = 0.5f};
    KnnOutputs out = {.pred = pred, .scores = sc};
    TopkCounts cnt;
    assert_int_equal(knn_classify(&bank, q, yq, 1, &opt, &out, &cnt), CLFT_OK);
    assert_true(fabs(sc[0] - 7.389056) < 1e-5 && fabs(sc[1] - 3.320117) < 1e-5);
    assert_int_equal(pred[0], 0);
    assert_int_equal(cnt.correct1, 0);
    assert_int_equal(cnt.correct5, 1); /* 2 classes: always in the top 5 */
    bank.n = 5;
    opt.k = 1;
    assert_int_equal(knn_classify(&bank, q, yq, 1, &opt, &out, &cnt), CLFT_OK);
    assert_int_equal(pred[0], 0);
    assert_true(sc[1] == 0.0f);
    /* bad input is a status, not a crash */
    int bad[] = {0, 1, 2, 1, 1};
    bank.labels = bad;
    assert_int_equal(knn_classify(&bank, q, yq, 1, &opt, &out, &cnt), CLFT_ERR_VALUE);
}

static void test_topk_rule(void **state)
{
    (void)state;
    const double s[] = {0.1, 0.5, 0.5, 0.2, 0.0, 0.3, 0.05};
    assert_int_equal(topk_argmax(s, 7), 1); /* tie 1 vs 2: lower index */
    assert_int_equal(topk_rank_of(s, 7, 2), 1);
    assert_int_equal(topk_rank_of(s, 7, 0), 4);
    assert_int_equal(topk_rank_of(s, 7, 6), 5); /* outside the top 5 */
    TopkCounts c = {0};
    topk_count(&c, s, 7, 0);
    topk_count(&c, s, 7, 6);
    topk_count(&c, s, 7, 1);
    assert_true(c.n == 3 && c.correct1 == 1 && c.correct5 == 2);
}

/* ---------- linear probe ---------- */

/* Two SGD steps by hand: C = 2, D = 1, W = b = 0, x = 1, label 0, lr 1, momentum 0.9.
 * Step 1: logits (0, 0), loss ln 2, G = (-0.5, 0.5) = dW = db, v = G, W = (0.5, -0.5), b the same.
 * Step 2: logits (1, -1) (W x + b), p0 = 1 / (1 + e^-2) = 0.880797, loss = -ln p0 = 0.126928,
 * G = (-0.119203, 0.119203), v = 0.9 (-0.5, 0.5) + G = (-0.569203, 0.569203), W = (1.069203, ...).
 */
static void test_probe_hand_steps(void **state)
{
    (void)state;
    LinearProbeOptions o = LINEAR_PROBE_OPTIONS_DEFAULT;
    o.D = 1, o.n_classes = 2, o.batch = 4, o.schedule = linear_probe_schedule(1.0f, 1);
    LinearProbe p;
    linear_probe_init(&p, &o);
    p.cls.W[0] = p.cls.W[1] = 0.0f;
    const float x[] = {1.0f};
    const int y[] = {0};
    assert_true(fabs(linear_probe_step(&p, x, y, 1, 1.0f) - log(2.0)) < 1e-7);
    assert_true(fabs(p.cls.W[0] - 0.5) < 1e-7 && fabs(p.cls.b[1] + 0.5) < 1e-7);
    assert_true(fabs(linear_probe_step(&p, x, y, 1, 1.0f) - 0.126928) < 1e-6);
    assert_true(fabs(p.cls.W[0] - 1.069203) < 1e-6 && fabs(p.cls.W[1] + 1.069203) < 1e-6);
    assert_true(fabs(p.cls.vb[0] + 0.569203) < 1e-6);
    linear_probe_free(&p);
}

/* dW and db against central finite differences of the batch loss (eps = 1e-2: float logits give a
 * loss error ~1e-7, so the difference quotient is good to ~1e-5, plus O(eps²) curvature ~1e-4;
 * tolerance 2e-3 relative to the largest gradient). lr = 0 steps evaluate the loss without moving
 * W. */
static void test_probe_gradient_fd(void **state)
{
    (void)state;
    enum { B = 6, D = 5, C = 4 };
    LinearProbeOptions o = LINEAR_PROBE_OPTIONS_DEFAULT;
    o.D = D, o.n_classes = C, o.batch = B, o.schedule.epochs = 1, o.seed = 3;
    LinearProbe p;
    linear_probe_init(&p, &o);
    Rng r;
    rng_init(&r, 5, RNG_STREAM_DATA, 0, 0);
    float x[B * D], dW[C * D], db[C];
    int y[B] = {0, 1, 2, 3, 1, 2};
    for (int i = 0; i < B * D; i++)
        x[i] = (float)rng_normal(&r);
    for (int i = 0; i < C * D; i++)
        p.cls.W[i] = (float)(0.5 * rng_normal(&r));
    linear_probe_step(&p, x, y, B, 0.0f);
    memcpy(dW, p.cls.dW, sizeof dW), memcpy(db, p.cls.db, sizeof db);
    float gmax = 0;
    for (int i = 0; i < C * D; i++)
        gmax = fabsf(dW[i]) > gmax ? fabsf(dW[i]) : gmax;
    const float eps = 1e-2f;
    for (int i = 0; i < C * D + C; i++) {
        float *w = i < C * D ? &p.cls.W[i] : &p.cls.b[i - C * D];
        const float w0 = *w;
        *w = w0 + eps;
        double lp = linear_probe_step(&p, x, y, B, 0.0f);
        *w = w0 - eps;
        double lm = linear_probe_step(&p, x, y, B, 0.0f);
        *w = w0;
        double fd = (lp - lm) / (2 * eps), an = i < C * D ? dW[i] : db[i - C * D];
        if (!(fabs(fd - an) <= 2e-3 * gmax))
            fail_msg("param %d: analytic %g, finite difference %g", i, an, fd);
    }
    linear_probe_free(&p);
}

/* 3 Gaussian blobs far apart (centres 6·e_c + offset, noise 0.5) are linearly separable: the cached
 * probe must reach 100% train accuracy, with and without standardisation. */
static void check_blobs(ProbeStandardize standardize, float lr)
{
    enum { N = 300, D = 8, C = 3 };
    static float X[N * D];
    static int y[N], pred[N];
    Rng r;
    rng_init(&r, 9, RNG_STREAM_DATA, 1, 0);
    for (int n = 0; n < N; n++) {
        y[n] = n % C;
        for (int d = 0; d < D; d++)
            X[n * D + d] = (float)(2.0 + (d == y[n] ? 6.0 : 0.0) + 0.5 * rng_normal(&r));
    }
    LinearProbeOptions o = LINEAR_PROBE_OPTIONS_DEFAULT;
    o.D = D, o.n_classes = C, o.batch = 32, o.standardize = standardize;
    o.schedule = linear_probe_schedule(lr, 10);
    LinearProbe p;
    linear_probe_init(&p, &o);
    double loss[10];
    linear_probe_fit_standardization(&p, X, N);
    assert_int_equal(linear_probe_train(&p, X, y, N, NULL, loss), CLFT_OK);
    TopkCounts c = linear_probe_eval(&p, X, y, N, pred);
    if (c.correct1 != N)
        fail_msg("standardize=%d: train top-1 %ld / %d", standardize, c.correct1, N);
    assert_int_equal(c.correct5, N);
    assert_true(loss[9] < loss[0]);
    for (int n = 0; n < N; n++)
        assert_int_equal(pred[n], y[n]);
    linear_probe_free(&p);
}

static void test_probe_separable_blobs(void **state)
{
    (void)state;
    check_blobs(PROBE_STANDARDIZE_OFF, 0.1f);
    check_blobs(PROBE_STANDARDIZE_ON, 0.1f);
    check_blobs(PROBE_STANDARDIZE_OFF, 30.0f); /* MoCo's lr: large logits stay finite */
}

/* MoCo's --schedule 60 80 for 100 epochs (the default options and linear_probe_schedule); 10
 * epochs → milestones 6 and 8; 5 → round(3.0)=3, 4. */
static void test_probe_lr_schedule(void **state)
{
    (void)state;
    LinearProbeOptions o = LINEAR_PROBE_OPTIONS_DEFAULT;
    assert_true(linear_probe_lr(&o, 0) == 30.0f && linear_probe_lr(&o, 59) == 30.0f);
    assert_true(fabsf(linear_probe_lr(&o, 60) - 3.0f) < 1e-6f &&
                fabsf(linear_probe_lr(&o, 79) - 3.0f) < 1e-6f);
    assert_true(fabsf(linear_probe_lr(&o, 80) - 0.3f) < 1e-6f &&
                fabsf(linear_probe_lr(&o, 99) - 0.3f) < 1e-6f);
    const Schedule s = linear_probe_schedule(30.0f, 100);
    assert_true(s.n_milestones == 2 && s.milestones[0] == 60 && s.milestones[1] == 80);
    o.schedule = linear_probe_schedule(30.0f, 10);
    assert_true(linear_probe_lr(&o, 5) == 30.0f && fabsf(linear_probe_lr(&o, 6) - 3.0f) < 1e-6f);
    assert_true(fabsf(linear_probe_lr(&o, 7) - 3.0f) < 1e-6f &&
                fabsf(linear_probe_lr(&o, 8) - 0.3f) < 1e-6f);
    o.schedule = linear_probe_schedule(30.0f, 5);
    assert_true(linear_probe_lr(&o, 2) == 30.0f && fabsf(linear_probe_lr(&o, 3) - 3.0f) < 1e-6f);
    assert_true(fabsf(linear_probe_lr(&o, 4) - 0.3f) < 1e-6f);
}

/* ---------- samplers and shot groups ---------- */

/* labels with class sizes `sizes` (C), classes interleaved so indices are not grouped */
static int make_labels(int *labels, const int *sizes, int C)
{
    int left[16], n = 0, any = 1;
    memcpy(left, sizes, (size_t)C * sizeof(int));
    while (any) {
        any = 0;
        for (int c = 0; c < C; c++)
            if (left[c] > 0) labels[n++] = c, left[c]--, any = 1;
    }
    return n;
}

static void count_subset(const int *labels, const int *idx, int n, int C, int *counts)
{
    memset(counts, 0, (size_t)C * sizeof(int));
    for (int i = 0; i < n; i++) {
        if (i > 0) assert_true(idx[i] > idx[i - 1]); /* ascending, no repeats */
        counts[labels[idx[i]]]++;
    }
}

/* Sizes {600, 240, 37, 3, 1}: 1% → max(1, round(6, 2.4, 0.37, 0.03, 0.01)) = {6, 2, 1, 1, 1};
 * 10% → {60, 24, round(3.7) = 4, max(1, 0) = 1, 1}. The 1% subset is inside the 10% one. */
static void test_label_fraction_counts(void **state)
{
    (void)state;
    const int sizes[] = {600, 240, 37, 3, 1};
    static int labels[881], a[881], b[881], c2[881];
    const int N = make_labels(labels, sizes, 5);
    assert_int_equal(N, 881);
    int na, nb, nc, counts[5];
    assert_int_equal(sampling_label_fraction(labels, N, 5, 0.01, 7, a, &na), CLFT_OK);
    count_subset(labels, a, na, 5, counts);
    const int want1[] = {6, 2, 1, 1, 1}, want10[] = {60, 24, 4, 1, 1};
    for (int c = 0; c < 5; c++)
        assert_int_equal(counts[c], want1[c]);
    assert_int_equal(sampling_label_fraction(labels, N, 5, 0.1, 7, b, &nb), CLFT_OK);
    count_subset(labels, b, nb, 5, counts);
    for (int c = 0; c < 5; c++)
        assert_int_equal(counts[c], want10[c]);
    for (int i = 0, j = 0; i < na; i++) { /* nested */
        while (j < nb && b[j] < a[i])
            j++;
        assert_true(j < nb && b[j] == a[i]);
    }
    assert_int_equal(sampling_label_fraction(labels, N, 5, 0.1, 8, c2, &nc), CLFT_OK);
    assert_int_equal(nc, nb);
    assert_true(memcmp(b, c2, (size_t)nb * sizeof(int)) != 0); /* another seed, another subset */
    assert_int_equal(sampling_label_fraction(labels, N, 5, 1.5, 7, c2, &nc), CLFT_ERR_VALUE);
}

/* Fashion-MNIST sizes (10 × 6000), ρ = 100: Cao et al.'s int(6000 · 0.01^(c/9)) =
 * 6000 3596 2156 1292 774 464 278 166 100 60 (computed in Python). */
static void test_longtail_counts(void **state)
{
    (void)state;
    enum { C = 10, N = 60000 };
    static int labels[N], idx[N];
    int sizes[C], counts[C], n;
    for (int c = 0; c < C; c++)
        sizes[c] = 6000;
    make_labels(labels, sizes, C);
    const int want[C] = {6000, 3596, 2156, 1292, 774, 464, 278, 166, 100, 60};
    for (int c = 0; c < C; c++)
        assert_int_equal(sampling_longtail_count(6000, 100.0, c, C), want[c]);
    assert_int_equal(sampling_longtail(labels, N, C, 0, SAMPLING_DEFAULT_RHO, 1, idx, &n), CLFT_OK);
    count_subset(labels, idx, n, C, counts);
    for (int c = 0; c < C; c++)
        assert_int_equal(counts[c], want[c]);
    /* a head larger than the data is an error naming the class */
    assert_int_equal(sampling_longtail(labels, N, C, 7000, 100.0, 1, idx, &n), CLFT_ERR_VALUE);
    assert_non_null(strstr(clft_last_error(), "class 0"));

    /* Shot groups of these sizes. Terciles: 3 many / 4 medium / 3 few. Liu et al.'s thresholds
     * (> 100 many, < 20 few): 8 many, 2 medium (100 and 60), 0 few. */
    ShotGroup g[C];
    GroupOptions go = GROUP_OPTIONS_DEFAULT;
    sampling_shot_groups(want, C, &go, g);
    const ShotGroup tercile[C] = {SHOT_MANY,   SHOT_MANY,   SHOT_MANY, SHOT_MEDIUM, SHOT_MEDIUM,
                                  SHOT_MEDIUM, SHOT_MEDIUM, SHOT_FEW,  SHOT_FEW,    SHOT_FEW};
    for (int c = 0; c < C; c++)
        assert_int_equal(g[c], tercile[c]);
    go.rule = GROUP_RULE_THRESHOLD;
    sampling_shot_groups(want, C, &go, g);
    for (int c = 0; c < C; c++)
        assert_int_equal(g[c], c < 8 ? SHOT_MANY : SHOT_MEDIUM);
    const int small[] = {19, 20, 101, 100}; /* few, medium, many, medium */
    sampling_shot_groups(small, 4, &go, g);
    assert_true(g[0] == SHOT_FEW && g[1] == SHOT_MEDIUM && g[2] == SHOT_MANY &&
                g[3] == SHOT_MEDIUM);
}

/* Hand example, C = 4, train counts {50, 20, 5, 4}; threshold rule with many > 30, few < 6 gives
 * groups {many, medium, few, few}. Test labels / predictions:
 *   class 0: 3 samples, 2 right → many 2/3;  class 1: 2 samples, 0 right → medium 0/2;
 *   class 2: 1 sample, right; class 3: 2 samples, 1 right → few 2/3;  overall 4/8. */
static void test_group_accuracy_hand(void **state)
{
    (void)state;
    const int train_counts[] = {50, 20, 5, 4};
    ShotGroup g[4];
    GroupOptions go = {.rule = GROUP_RULE_THRESHOLD, .many_above = 30, .few_below = 6};
    sampling_shot_groups(train_counts, 4, &go, g);
    assert_true(g[0] == SHOT_MANY && g[1] == SHOT_MEDIUM && g[2] == SHOT_FEW && g[3] == SHOT_FEW);
    const int labels[] = {0, 0, 0, 1, 1, 2, 3, 3};
    const int pred[] = {0, 1, 0, 0, 2, 2, 3, 0};
    GroupAccuracy a = sampling_group_accuracy(pred, labels, 8, g, 4);
    assert_true(fabs(sampling_group_acc(&a, SHOT_MANY) - 2.0 / 3.0) < 1e-15);
    assert_true(sampling_group_acc(&a, SHOT_MEDIUM) == 0.0);
    assert_true(fabs(sampling_group_acc(&a, SHOT_FEW) - 2.0 / 3.0) < 1e-15);
    assert_true(sampling_group_acc(&a, SHOT_N_GROUPS) == 0.5);
    /* tercile rule on these counts: 1 many (class 0), 1 few (class 3), medium the rest */
    go = GROUP_OPTIONS_DEFAULT;
    sampling_shot_groups(train_counts, 4, &go, g);
    assert_true(g[0] == SHOT_MANY && g[1] == SHOT_MEDIUM && g[2] == SHOT_MEDIUM &&
                g[3] == SHOT_FEW);
    /* an empty group's accuracy is NaN */
    GroupAccuracy empty = {0};
    assert_true(isnan(sampling_group_acc(&empty, SHOT_FEW)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_knn_matches_brute_force),
        cmocka_unit_test(test_knn_hand_example),
        cmocka_unit_test(test_topk_rule),
        cmocka_unit_test(test_probe_hand_steps),
        cmocka_unit_test(test_probe_gradient_fd),
        cmocka_unit_test(test_probe_separable_blobs),
        cmocka_unit_test(test_probe_lr_schedule),
        cmocka_unit_test(test_label_fraction_counts),
        cmocka_unit_test(test_longtail_counts),
        cmocka_unit_test(test_group_accuracy_hand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

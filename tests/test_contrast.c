/* test_contrast.c — core/contrast: the queue ring buffer, InfoNCE loss/gradients (hand-computed
 * example, finite differences, PyTorch golden step), instance accuracy, score statistics and
 * histograms (hand-made example), pre-transform statistics (vs the direct N × K computation).
 * Every test of a kernel runs on both host backends, the fast "cpu" and the reference "cpu-ref". */
#include "tests/test_util.h"

#include "core/common.h"
#include "core/contrast/infonce.h"
#include "core/contrast/queue.h"
#include "core/contrast/scores.h"
#include "core/rng.h"

/* ---- queue ---- */

static void test_queue_init_unit_and_seeded(void **state)
{
    const Backend *be = test_backend(state);
    Queue a, b, c;
    queue_init(&a, be, 7, 5, 11);
    queue_init(&b, be, 7, 5, 11);
    queue_init(&c, be, 7, 5, 12);
    assert_int_equal(a.ptr, 0);
    assert_memory_equal(a.data, b.data, 7 * 5 * sizeof(float));
    assert_true(memcmp(a.data, c.data, 7 * 5 * sizeof(float)) != 0);
    for (int i = 0; i < 7; i++) {
        double ss = 0;
        for (int d = 0; d < 5; d++) ss += a.data[i * 5 + d] * a.data[i * 5 + d];
        assert_true(fabs(ss - 1.0) < 1e-6);
    }
    queue_free(&a);
    queue_free(&b);
    queue_free(&c);
}

/* K = 5: push 3 keys (rows 0-2, ptr 3), then 3 more (rows 3, 4, then wrap to row 0; ptr 1). */
static void test_queue_push_wraps(void **state)
{
    const Backend *be = test_backend(state);
    const int K = 5, D = 2;
    Queue q;
    queue_init(&q, be, K, D, 1);
    float init[10];
    memcpy(init, q.data, sizeof init);
    float k1[6] = {1, 2, 3, 4, 5, 6}, k2[6] = {7, 8, 9, 10, 11, 12};
    queue_push(&q, k1, 3);
    assert_int_equal(q.ptr, 3);
    assert_memory_equal(q.data, k1, sizeof k1);
    assert_memory_equal(q.data + 6, init + 6, 4 * sizeof(float)); /* rows 3, 4 untouched */
    queue_push(&q, k2, 3);
    assert_int_equal(q.ptr, 1);
    const float expect[10] = {11, 12, 3, 4, 5, 6, 7, 8, 9, 10};
    assert_memory_equal(q.data, expect, sizeof expect);
    /* N = K from ptr 1: rows 1, 2, 3, 4, 0 get keys 0..4; ptr comes back to 1. */
    const float k5[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    const float expect2[10] = {9, 10, 1, 2, 3, 4, 5, 6, 7, 8};
    queue_push(&q, k5, 5);
    assert_int_equal(q.ptr, 1);
    assert_memory_equal(q.data, expect2, sizeof expect2);
    queue_free(&q);
}

/* ---- InfoNCE ---- */

/* Worked by hand, N = 1, K = 2, D = 2, T = 0.5, q = (1, 0), k = (0.6, 0.8),
 * queue = [(0, 1), (−1, 0)]:
 *   logits = [0.6, 0, −1] / 0.5 = [1.2, 0, −2]
 *   Σ exp = e^1.2 + 1 + e^−2 = 3.320117 + 1 + 0.135335 = 4.455452
 *   loss = ln 4.455452 − 1.2 = 1.494129 − 1.2 = 0.294129
 *   p = [0.745181, 0.224444, 0.030375],  g = p − e_0 = [−0.254819, 0.224444, 0.030375]
 *   dq = (g0 k + g1 x1 + g2 x2) / T = 2 (−0.152891 − 0.030375, −0.203855 + 0.224444)
 *      = (−0.366534, 0.041178)
 *   dk = g0 q / T = (−0.509638, 0);  positive is the strict max → inst_acc = 1. */
static void test_infonce_hand_example(void **state)
{
    const Backend *be = test_backend(state);
    double stats[STEP_STAT_COUNT];
    const float q[2] = {1, 0}, k[2] = {0.6f, 0.8f}, queue[4] = {0, 1, -1, 0};
    InfoNCE w;
    infonce_init(&w, be, 1, 2, 2, 0, 0.5f);
    InfoNCEInput in = {.q = q, .k = k, .queue = queue, .extra = NULL, .E = 0};
    infonce_forward(&w, &in, stats, NULL);
    assert_true(fabs(w.logits[0] - 1.2) < 1e-6 && fabs(w.logits[1]) < 1e-6 &&
                fabs(w.logits[2] + 2.0) < 1e-6);
    assert_true(fabs(stats[STEP_STAT_LOSS] - 0.294129) < 1e-5);
    assert_true(stats[STEP_STAT_INST_ACC] == 1.0);
    float dq[2] = {0, 0}, dk[2] = {0, 0};
    infonce_backward(&w, &in, dq, dk);
    assert_true(fabs(dq[0] + 0.366534) < 1e-5 && fabs(dq[1] - 0.041178) < 1e-5);
    assert_true(fabs(dk[0] + 0.509638) < 1e-5 && fabs(dk[1]) < 1e-7);
    infonce_free(&w);
}

/* Rows: positive strictly largest (hit); positive tied with a negative (miss); smaller (miss). */
static void test_infonce_instance_accuracy(void **state)
{
    const Backend *be = test_backend(state);
    double stats[STEP_STAT_COUNT];
    const float q[6] = {1, 0, 1, 0, 1, 0};
    const float k[6] = {1, 0, 0.5f, 0.5f, 0.2f, 0.9f};
    const float queue[4] = {0.5f, 0, 0.5f, 0.1f}; /* q·x = 0.5 for both negatives */
    InfoNCE w;
    infonce_init(&w, be, 3, 2, 2, 0, 0.1f);
    InfoNCEInput in = {.q = q, .k = k, .queue = queue};
    infonce_forward(&w, &in, stats, NULL);
    assert_true(fabs(stats[STEP_STAT_INST_ACC] - 1.0 / 3.0) < 1e-12);
    infonce_free(&w);
}

static double loss_of(InfoNCE *w, const InfoNCEInput *in)
{
    double stats[STEP_STAT_COUNT];
    infonce_forward(w, in, stats, NULL);
    return stats[STEP_STAT_LOSS];
}

/* Central differences, eps = 1e-3 on O(1) inputs with T = 0.5 (curvature ≲ 1/T² = 4): truncation
 * ~eps²·|f'''| ≈ 1e-5 and float rounding of the loss ~1e-7/eps = 1e-4, against gradients ~1e-2..1,
 * hence a 1e-2 tolerance relative to the largest gradient component. Covers extras (E = 3). */
static void test_infonce_finite_differences(void **state)
{
    const Backend *be = test_backend(state);
    double stats[STEP_STAT_COUNT];
    enum { N = 3, D = 4, K = 6, E = 3 };
    Rng r;
    rng_init(&r, 5, RNG_STREAM_DATA, 0, 0);
    float q[N * D], k[N * D], queue[K * D], extra[N * E * D];
    test_unit_rows(q, N, D, &r);
    test_unit_rows(k, N, D, &r);
    test_unit_rows(queue, K, D, &r);
    test_unit_rows(extra, N * E, D, &r);
    InfoNCE w;
    infonce_init(&w, be, N, D, K, E, 0.5f);
    InfoNCEInput in = {.q = q, .k = k, .queue = queue, .extra = extra, .E = E};
    float dq[N * D] = {0}, dk[N * D] = {0}, fq[N * D], fk[N * D];
    infonce_forward(&w, &in, stats, NULL);
    infonce_backward(&w, &in, dq, dk);
    const float eps = 1e-3f;
    for (int i = 0; i < N * D; i++) {
        float s = q[i];
        q[i] = s + eps;
        double lp = loss_of(&w, &in);
        q[i] = s - eps;
        double lm = loss_of(&w, &in);
        q[i] = s;
        fq[i] = (float)((lp - lm) / (2 * eps));
        s = k[i];
        k[i] = s + eps;
        lp = loss_of(&w, &in);
        k[i] = s - eps;
        lm = loss_of(&w, &in);
        k[i] = s;
        fk[i] = (float)((lp - lm) / (2 * eps));
    }
    ASSERT_CLOSE("dL/dq vs finite differences", dq, fq, N * D, 1e-2);
    ASSERT_CLOSE("dL/dk vs finite differences", dk, fk, N * D, 1e-2);
    infonce_free(&w);
}

/* Golden step from tests/gen_golden_contrast.py (PyTorch 1.13, F.cross_entropy). Float32 on both
 * sides, K = 64, D = 16: logits within 1e-5 and loss, dq within 1e-4 (relative to their scale). */
static void test_infonce_golden_pytorch(void **state)
{
    const Backend *be = test_backend(state);
    double stats[STEP_STAT_COUNT];
    enum { N = 8, D = 16, K = 64 };
    StFile f;
    fixture_open(&f, "contrast_moco.safetensors");
    const float *q = fixture_f32(&f, "q", N * D), *k = fixture_f32(&f, "k", N * D);
    const float *queue = fixture_f32(&f, "queue", K * D), *T = fixture_f32(&f, "T", 1);
    InfoNCE w;
    infonce_init(&w, be, N, D, K, 0, T[0]);
    InfoNCEInput in = {.q = q, .k = k, .queue = queue};
    infonce_forward(&w, &in, stats, NULL);
    ASSERT_CLOSE("logits", w.logits, fixture_f32(&f, "logits", N * (1 + K)), N * (1 + K), 1e-5);
    float loss = (float)stats[STEP_STAT_LOSS];
    ASSERT_CLOSE("loss", &loss, fixture_f32(&f, "loss", 1), 1, 1e-5);
    float dq[N * D] = {0};
    infonce_backward(&w, &in, dq, NULL);
    ASSERT_CLOSE("dq", dq, fixture_f32(&f, "dq", N * D), N * D, 1e-4);
    infonce_free(&w);
    st_close(&f);
}

/* Large logits (T = 0.01, scores ±1 → logits ±100) stay finite: the log-softmax subtracts the max. */
static void test_infonce_stable_small_T(void **state)
{
    const Backend *be = test_backend(state);
    double stats[STEP_STAT_COUNT];
    const float q[2] = {1, 0}, k[2] = {-1, 0}, queue[4] = {1, 0, 0, 1};
    InfoNCE w;
    infonce_init(&w, be, 1, 2, 2, 0, 0.001f);
    InfoNCEInput in = {.q = q, .k = k, .queue = queue};
    infonce_forward(&w, &in, stats, NULL);
    /* loss = logsumexp(−1000, 1000, 0) + 1000 = 2000 (to float precision) */
    assert_true(isfinite(stats[STEP_STAT_LOSS]) && fabs(stats[STEP_STAT_LOSS] - 2000.0) < 1e-2);
    infonce_free(&w);
}

/* ---- score statistics ---- */

/* Hand-made, T = 0.5, queue = [(1,0), (0,1), (−1,0)]:
 *   query 0: q = (1,0), k = (1,0):             pos 1,   negatives [1, 0, −1] (mean 0, var 1)
 *   query 1: q = (0,1), k = (0.43589, 0.9):    pos 0.9, negatives [0, 1, 0]  (mean 1/3, var 1/3)
 *   pos_mean = 0.95, pos_var = (0.05² + 0.05²)/1 = 0.005, neg_mean = 1/6, neg_var = 2/3,
 *   exp_pos_mean = (e² + e^1.8)/2,  exp_neg_mean = ((e² + 1 + e^−2)/3 + (1 + e² + 1)/3)/2.
 *   Histogram (bin = ⌊(s + 2)·25⌋): pos → bins 75, 72; neg → bin 25 ×1, 50 ×3, 75 ×2. */
static void test_scores_hand_example(void **state)
{
    const Backend *be = test_backend(state);
    double stats[STEP_STAT_COUNT];
    const float q[4] = {1, 0, 0, 1}, k[4] = {1, 0, 0.43588989f, 0.9f};
    const float queue[6] = {1, 0, 0, 1, -1, 0};
    InfoNCE w;
    infonce_init(&w, be, 2, 2, 3, 0, 0.5f);
    InfoNCEInput in = {.q = q, .k = k, .queue = queue};
    ScoreHist h;
    scores_hist_reset(&h);
    infonce_forward(&w, &in, stats, &h); /* the score statistics come with the loss */
    ScoreStats st;
    memcpy(&st, stats + STEP_STAT_POST, sizeof st);
    const double e = M_E;
    assert_true(fabs(st.pos_mean - 0.95) < 1e-6);
    assert_true(fabs(st.pos_var - 0.005) < 1e-6);
    assert_true(fabs(st.neg_mean - 1.0 / 6) < 1e-6);
    assert_true(fabs(st.neg_var - 2.0 / 3) < 1e-6);
    assert_true(fabs(st.exp_pos_mean - (e * e + exp(1.8)) / 2) < 1e-5);
    double en = ((e * e + 1 + exp(-2.0)) / 3 + (2 + e * e) / 3) / 2;
    assert_true(fabs(st.exp_neg_mean - en) < 1e-5);
    for (int b = 0; b < SCORES_HIST_BINS; b++) {
        uint64_t ep = (b == 75 || b == 72), en_ = b == 25 ? 1 : b == 50 ? 3 : b == 75 ? 2 : 0;
        assert_int_equal(h.pos[b], ep);
        assert_int_equal(h.neg[b], en_);
    }
    assert_int_equal(h.pos_under + h.pos_over + h.neg_under + h.neg_over, 0);
    infonce_forward(&w, &in, stats, &h); /* accumulates: counts double */
    assert_int_equal(h.neg[50], 6);
    infonce_free(&w);
}

static void test_scores_hist_bins(void **state)
{
    (void)state;
    assert_int_equal(scores_hist_bin(-2.0), 0);
    assert_int_equal(scores_hist_bin(-2.5), -1);
    assert_int_equal(scores_hist_bin(NAN), -1);
    assert_int_equal(scores_hist_bin(2.0), SCORES_HIST_BINS);
    assert_int_equal(scores_hist_bin(1.999), SCORES_HIST_BINS - 1);
    assert_int_equal(scores_hist_bin(0.01), 50);
    assert_true(fabs(scores_hist_bin_lo(50) - 0.0) < 1e-12);
    assert_true(fabs(scores_hist_bin_hi(99) - 2.0) < 1e-12);
    assert_true(fabs(scores_hist_bin_hi(0) - scores_hist_bin_lo(1)) < 1e-12);
}

/* Pre-transform statistics from the queue's moments vs the direct N × K dot products (double);
 * and the transformed statistics of an identity step equal them. */
static void test_scores_pre_matches_direct(void **state)
{
    const Backend *be = test_backend(state);
    double stats[STEP_STAT_COUNT];
    enum { N = 5, D = 8, K = 300 };
    Rng r;
    rng_init(&r, 9, RNG_STREAM_DATA, 0, 0);
    float *q = xmalloc(N * D * sizeof(float)), *k = xmalloc(N * D * sizeof(float));
    float *queue = xmalloc(K * D * sizeof(float));
    test_unit_rows(q, N, D, &r);
    test_unit_rows(k, N, D, &r);
    test_unit_rows(queue, K, D, &r);
    for (int i = 0; i < K * D; i++) queue[i] += 0.05f * q[i % D]; /* a non-zero negative mean */
    double sp = 0, sp2 = 0, snm = 0, snv = 0;
    for (int n = 0; n < N; n++) {
        double pos = 0, s1 = 0, s2 = 0;
        for (int d = 0; d < D; d++) pos += (double)q[n * D + d] * k[n * D + d];
        for (int j = 0; j < K; j++) {
            double s = 0;
            for (int d = 0; d < D; d++) s += (double)q[n * D + d] * queue[j * D + d];
            s1 += s;
            s2 += s * s;
        }
        sp += pos;
        sp2 += pos * pos;
        snm += s1 / K;
        snv += (s2 - s1 * s1 / K) / (K - 1);
    }
    PreScores ps;
    scores_pre_init(&ps, be, N, D);
    PreScoreStats pre;
    scores_pre(&ps, stats + STEP_STAT_PRE, NULL, q, k, queue, N, K);
    memcpy(&pre, stats + STEP_STAT_PRE, sizeof pre);
    assert_true(fabs(pre.pos_mean - sp / N) < 1e-6);
    assert_true(fabs(pre.pos_var - (sp2 - sp * sp / N) / (N - 1)) < 1e-6);
    assert_true(fabs(pre.neg_mean - snm / N) < 1e-6);
    assert_true(fabs(pre.neg_var - snv / N) < 1e-5 * (snv / N));
    InfoNCE w;
    infonce_init(&w, be, N, D, K, 0, 0.2f);
    InfoNCEInput in = {.q = q, .k = k, .queue = queue};
    infonce_forward(&w, &in, stats, NULL);
    ScoreStats st;
    memcpy(&st, stats + STEP_STAT_POST, sizeof st);
    assert_true(fabs(st.pos_mean - pre.pos_mean) < 1e-6 && fabs(st.neg_mean - pre.neg_mean) < 1e-6);
    assert_true(fabs(st.neg_var - pre.neg_var) < 1e-4 * pre.neg_var);
    assert_true(fabs(st.pos_var - pre.pos_var) < 1e-5);
    infonce_free(&w);
    scores_pre_free(&ps);
    free(q);
    free(k);
    free(queue);
}

/* The pre-transform histogram equals binning every q·k and q·queue_j computed directly, with K not
 * a multiple of the block (two blocks, the last partial). */
static void test_scores_pre_hist_matches_direct(void **state)
{
    const Backend *be = test_backend(state);
    enum { N = 5, D = 7, K = SCORES_PRE_BLOCK + 37 };
    float *q = xmalloc(N * D * sizeof(float)), *k = xmalloc(N * D * sizeof(float));
    float *queue = xmalloc((size_t)K * D * sizeof(float));
    Rng r;
    rng_init(&r, 9, RNG_STREAM_DATA, 0, 0);
    for (int i = 0; i < N * D; i++) q[i] = (float)(0.6 * rng_normal(&r)), k[i] = (float)(0.6 * rng_normal(&r));
    for (int i = 0; i < K * D; i++) queue[i] = (float)(0.4 * rng_normal(&r));
    ScoreHist h, want;
    scores_hist_reset(&h);
    scores_hist_reset(&want);
    PreScores ps;
    scores_pre_init(&ps, be, N, D);
    double pre[4];
    scores_pre(&ps, pre, &h, q, k, queue, N, K);
    scores_pre_free(&ps);
    double sp = 0, snm = 0, snv = 0;
    for (int n = 0; n < N; n++) {
        double s = 0.0, s1 = 0.0, s2 = 0.0;
        for (int d = 0; d < D; d++) s += (double)q[n * D + d] * k[n * D + d];
        sp += s;
        int b = scores_hist_bin(s);
        if (b < 0) want.pos_under++; else if (b >= SCORES_HIST_BINS) want.pos_over++; else want.pos[b]++;
        for (int j = 0; j < K; j++) {
            double t = 0.0;
            for (int d = 0; d < D; d++) t += (double)q[n * D + d] * queue[(size_t)j * D + d];
            s1 += t, s2 += t * t;
            b = scores_hist_bin(t);
            if (b < 0) want.neg_under++; else if (b >= SCORES_HIST_BINS) want.neg_over++; else want.neg[b]++;
        }
        snm += s1 / K;
        snv += (s2 - s1 * s1 / K) / (K - 1);
    }
    /* the moments over both blocks */
    assert_true(fabs(pre[0] - sp / N) < 1e-6);
    assert_true(fabs(pre[2] - snm / N) < 1e-6);
    assert_true(fabs(pre[3] - snv / N) < 1e-5 * (snv / N));
    /* float vs double products may put a score within ~1e-6 of an edge into the next bin. */
    uint64_t total = want.neg_under + want.neg_over, moved = 0;
    for (int b = 0; b < SCORES_HIST_BINS; b++) {
        total += want.neg[b];
        moved += h.neg[b] > want.neg[b] ? h.neg[b] - want.neg[b] : want.neg[b] - h.neg[b];
        assert_true(h.pos[b] == want.pos[b]);
    }
    assert_int_equal(total, (uint64_t)N * K);
    assert_true(moved <= 4);
    assert_int_equal(h.neg_under + h.neg_over + h.pos_under + h.pos_over,
                     want.neg_under + want.neg_over + want.pos_under + want.pos_over);
    free(q);
    free(k);
    free(queue);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST_ON(test_queue_init_unit_and_seeded, "cpu"), TEST_ON(test_queue_init_unit_and_seeded, "cpu-ref"),
        TEST_ON(test_queue_push_wraps, "cpu"), TEST_ON(test_queue_push_wraps, "cpu-ref"),
        TEST_ON(test_infonce_hand_example, "cpu"), TEST_ON(test_infonce_hand_example, "cpu-ref"),
        TEST_ON(test_infonce_instance_accuracy, "cpu"), TEST_ON(test_infonce_instance_accuracy, "cpu-ref"),
        TEST_ON(test_infonce_finite_differences, "cpu"), TEST_ON(test_infonce_finite_differences, "cpu-ref"),
        TEST_ON(test_infonce_golden_pytorch, "cpu"), TEST_ON(test_infonce_golden_pytorch, "cpu-ref"),
        TEST_ON(test_infonce_stable_small_T, "cpu"), TEST_ON(test_infonce_stable_small_T, "cpu-ref"),
        TEST_ON(test_scores_hand_example, "cpu"), TEST_ON(test_scores_hand_example, "cpu-ref"),
        cmocka_unit_test(test_scores_hist_bins),
        TEST_ON(test_scores_pre_matches_direct, "cpu"), TEST_ON(test_scores_pre_matches_direct, "cpu-ref"),
        TEST_ON(test_scores_pre_hist_matches_direct, "cpu"), TEST_ON(test_scores_pre_hist_matches_direct, "cpu-ref"),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

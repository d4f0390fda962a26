/* test_nn_fast.c — cpu-im2col's threaded layer paths (OpenMP): conv2d's static split of image
 * chunks over T threads (single-threaded sgemm each, dW partials summed in thread order) against
 * the naive double-accumulating twin for T = 1, 2, 3 (more threads than this machine's cores is
 * fine: the split is static), including chunks that do not divide evenly among threads; and
 * bit-reproducibility: the same T twice gives identical bits (no order-dependent reductions).
 * The BN, relu and pool loops split over channels/planes/elements and are covered by test_nn's
 * finite-difference and golden tests, which run with nn_threads() threads.
 */
#include "tests/test_util.h"

#include "core/backend/backend.h"
#include "core/nn/nn.h"
#include "core/rng.h"

/* The im2col convolution of the "cpu-im2col" table, and the reference it is held against. */
static const Backend *be, *ref;

static float *alloc_normal(Rng *r, size_t n)
{
    float *p = xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        p[i] = (float)rng_normal(r);
    return p;
}

typedef struct {
    float *out, *din, *dw; /* (N,C_out,Ho,Wo), (N,C_in,H,W), (C_out,C_in,KH,KW) */
} ConvResult;

/* Forward and backward (gradients starting from `di0`, `dw0`) with the given thread count. */
static ConvResult run_conv(ConvShape s, int threads, const float *in, const float *w,
                           const float *dout, const float *di0, const float *dw0)
{
    s.threads = threads;
    size_t ni = (size_t)s.N * s.C_in * s.H * s.W, nw = (size_t)s.C_out * s.C_in * s.KH * s.KW;
    size_t no = (size_t)s.N * s.C_out * s.H_out * s.W_out;
    ConvResult r = {xmalloc(no * sizeof(float)), xmalloc(ni * sizeof(float)),
                    xmalloc(nw * sizeof(float))};
    memcpy(r.din, di0, ni * sizeof(float));
    memcpy(r.dw, dw0, nw * sizeof(float));
    float *ws = xmalloc(be->conv2d_workspace_floats(&s) * sizeof(float));
    be->conv2d_forward(r.out, in, w, &s, ws);
    be->conv2d_backward(r.din, r.dw, dout, in, w, &s, ws);
    free(ws);
    return r;
}

static void free_result(ConvResult *r)
{
    free(r->out), free(r->din), free(r->dw);
}

static void check_shape(ConvShape s, Rng *r)
{
    assert_int_equal(conv2d_shape(&s), 0);
    size_t ni = (size_t)s.N * s.C_in * s.H * s.W, nw = (size_t)s.C_out * s.C_in * s.KH * s.KW;
    size_t no = (size_t)s.N * s.C_out * s.H_out * s.W_out;
    float *in = alloc_normal(r, ni), *w = alloc_normal(r, nw), *dout = alloc_normal(r, no);
    float *di0 = alloc_normal(r, ni), *dw0 = alloc_normal(r, nw);
    float *o_ref = xmalloc(no * sizeof(float)), *di_ref = xmalloc(ni * sizeof(float));
    float *dw_ref = xmalloc(nw * sizeof(float));
    memcpy(di_ref, di0, ni * sizeof(float));
    memcpy(dw_ref, dw0, nw * sizeof(float));
    ref->conv2d_forward(o_ref, in, w, &s, NULL);
    ref->conv2d_backward(di_ref, dw_ref, dout, in, w, &s, NULL);
    char what[160];
    for (int t = 1; t <= 3; t++) {
        snprintf(what, sizeof what, "conv N%d C%d %dx%d -> C%d k%d s%d, %d threads", s.N, s.C_in,
                 s.H, s.W, s.C_out, s.KH, s.stride, t);
        ConvResult a = run_conv(s, t, in, w, dout, di0, dw0);
        ConvResult b = run_conv(s, t, in, w, dout, di0, dw0);
        /* float32 sums vs the double-accumulating twin: 1e-5 relative, as test_nn */
        ASSERT_CLOSE(what, a.out, o_ref, no, 1e-5);
        ASSERT_CLOSE(what, a.din, di_ref, ni, 1e-5);
        ASSERT_CLOSE(what, a.dw, dw_ref, nw, 1e-5);
        if (memcmp(a.out, b.out, no * sizeof(float)) || memcmp(a.din, b.din, ni * sizeof(float)) ||
            memcmp(a.dw, b.dw, nw * sizeof(float)))
            fail_msg("%s: two identical runs differ in their bits", what);
        free_result(&a);
        free_result(&b);
    }
    free(in), free(w), free(dout), free(di0), free(dw0), free(o_ref), free(di_ref), free(dw_ref);
}

static void test_conv_threads_vs_naive(void **state)
{
    (void)state;
    Rng r;
    rng_init(&r, 11, RNG_STREAM_DATA, 0, 0);
    static const ConvShape shapes[] = {
        /* 10x10 outputs: 11 images per chunk -> chunks 11 + 11 + 3 over 1..3 threads */
        {.N = 25, .C_in = 3, .H = 10, .W = 10, .C_out = 4, .KH = 3, .KW = 3, .stride = 1, .pad = 1},
        /* stride 2 and a chunk count (2) smaller than 3 threads: one thread has no work */
        {.N = 7, .C_in = 4, .H = 11, .W = 9, .C_out = 5, .KH = 3, .KW = 3, .stride = 2, .pad = 1},
        /* 1x1 stride-1 with one image per chunk (the direct path) and 1x1 stride 2 */
        {.N = 5, .C_in = 6, .H = 33, .W = 32, .C_out = 3, .KH = 1, .KW = 1, .stride = 1, .pad = 0},
        {.N = 6, .C_in = 5, .H = 9, .W = 9, .C_out = 7, .KH = 1, .KW = 1, .stride = 2, .pad = 0},
        /* the mini stem: one input channel, 28x28 */
        {.N = 5, .C_in = 1, .H = 28, .W = 28, .C_out = 8, .KH = 3, .KW = 3, .stride = 1, .pad = 1},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        check_shape(shapes[i], &r);
}

static void test_threads_reported(void **state)
{
    (void)state;
    ConvShape s = {
        .N = 1, .C_in = 1, .H = 4, .W = 4, .C_out = 1, .KH = 3, .KW = 3, .stride = 1, .pad = 1};
    assert_int_equal(conv2d_shape(&s), 0);
    assert_int_equal(s.threads, nn_threads());
    assert_true(s.threads >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_threads_vs_naive),
        cmocka_unit_test(test_threads_reported),
    };
    be = backend_find("cpu-im2col");
    ref = backend_find("cpu-ref");
    return cmocka_run_group_tests(tests, NULL, NULL);
}

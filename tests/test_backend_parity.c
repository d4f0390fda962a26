/* test_backend_parity.c — the per-op parity harness: every op of the backend table (backend.h) run
 * on two backends with the same random inputs, outputs compared.
 *
 *     test_backend_parity [A B]        default A = cpu, B = cpu-ref (the reference kernels);
 *                                      or CLFT_PARITY="cpu cuda" in the environment.
 *
 * Both tables get identical host data uploaded into their own buffers; gradients are pre-filled
 * with the same random values, so an op that overwrites where it must accumulate fails. The
 * comparison is the relative norm error ‖a − b‖₂ / max(‖b‖₂, 1e-30) per output tensor.
 * Tolerances (documented per precision, the CUDA issue's budget):
 *   PARITY_TOL_FP32 = 1e-5 — strict fp32: both sides round each product to float and differ only
 *     in the order and width of their sums (cpu: float GEMM blocks, cpu-ref: double); the error of
 *     a float sum of K terms is ≲ K·2⁻²⁴ worst case and ~√K·2⁻²⁴ ≈ 2e-6 typically for K ≤ 10⁴.
 *     Observed cpu vs cpu-ref: ≤ 4e-7 over every op and shape here (the largest on convolutions);
 *     CLFT_PARITY_VERBOSE=1 prints each error.
 *   PARITY_TOL_TF32 = 1e-3 (10-bit mantissa inputs) and PARITY_TOL_BF16 = 1e-2 (7-bit), for
 *     backends run at those precisions (CLFT_PARITY_PRECISION=tf32|bf16).
 *   Integer outputs (argmax, gathers, the top-k sets) must be equal; histogram counts may move by
 *   a score that lands within rounding of a bin edge: at most 1 in 10⁴ counts.
 * A backend that is not built or cannot open here (a GPU test on a machine without one) makes the
 * whole test skip (exit 77, ctest's skip code).
 */
#include "tests/test_util.h"

#include <stdint.h>

#include "core/backend/backend.h"
#include "core/contrast/infonce.h"
#include "core/contrast/scores.h"
#include "core/nn/nn.h"
#include "core/optim/optim.h"
#include "core/rng.h"

#define PARITY_TOL_FP32 1e-5
#define PARITY_TOL_TF32 1e-3
#define PARITY_TOL_BF16 1e-2

static const Backend *BE[2];
static double tol = PARITY_TOL_FP32;
static int verbose; /* CLFT_PARITY_VERBOSE=1: print every error */
static Rng rng;

/* ---- twins: one host array, a copy on each backend ---- */

typedef struct {
    size_t bytes;
    void *host;   /* the uploaded values, NCHW */
    void *dev[2]; /* on BE[0], BE[1] */
    int act[3];   /* a 4-D activation (N, C, HW): stored channels-last on an nhwc backend */
} Twin;

/* 4-byte elements (N, C, HW) ↔ (N, HW, C); to_nhwc selects the direction. */
static void transpose(uint32_t *dst, const uint32_t *src, const int act[3], int to_nhwc)
{
    const int N = act[0], C = act[1], HW = act[2];
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int i = 0; i < HW; i++) {
                size_t a = ((size_t)n * C + c) * HW + i, b = ((size_t)n * HW + i) * C + c;
                if (to_nhwc)
                    dst[b] = src[a];
                else
                    dst[a] = src[b];
            }
}

static int in_layout(const Twin *t, int s) { return t->act[0] && BE[s]->nhwc; }

static Twin twin_of(const void *host, size_t bytes)
{
    Twin t = {.bytes = bytes, .host = xmalloc(bytes)};
    memcpy(t.host, host, bytes);
    for (int s = 0; s < 2; s++) {
        t.dev[s] = backend_alloc(BE[s], bytes);
        BE[s]->upload(t.dev[s], host, bytes);
    }
    return t;
}

/* Reads backend s's copy of t back in NCHW. */
static void twin_read(const Twin *t, int s, void *out)
{
    if (!in_layout(t, s)) {
        BE[s]->download(out, t->dev[s], t->bytes);
        return;
    }
    uint32_t *tmp = xmalloc(t->bytes);
    BE[s]->download(tmp, t->dev[s], t->bytes);
    transpose(out, tmp, t->act, 0);
    free(tmp);
}

/* t (4-byte elements, host NCHW) marked as the activation (N, C, HW), re-uploaded to each
 * channels-last backend in its layout. */
static Twin as_act(Twin t, int N, int C, int HW)
{
    ASSERT((size_t)N * C * HW * 4 == t.bytes);
    t.act[0] = N, t.act[1] = C, t.act[2] = HW;
    for (int s = 0; s < 2; s++) {
        if (!in_layout(&t, s)) continue;
        uint32_t *tmp = xmalloc(t.bytes);
        transpose(tmp, t.host, t.act, 1);
        BE[s]->upload(t.dev[s], tmp, t.bytes);
        free(tmp);
    }
    return t;
}

static Twin twin_normal(size_t n, double scale)
{
    float *x = xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = (float)(scale * rng_normal(&rng));
    Twin t = twin_of(x, n * sizeof(float));
    free(x);
    return t;
}

static Twin twin_zero(size_t bytes)
{
    void *z = xcalloc(1, bytes);
    Twin t = twin_of(z, bytes);
    free(z);
    return t;
}

static Twin twin_ints(const int *v, size_t n) { return twin_of(v, n * sizeof(int)); }

static void twin_free(Twin *t)
{
    for (int s = 0; s < 2; s++) backend_free(BE[s], t->dev[s]);
    free(t->host);
}

#define F(t, s) ((float *)(t).dev[s])
#define I(t, s) ((int *)(t).dev[s])
#define D(t, s) ((double *)(t).dev[s])

static double norm_err(const float *a, const float *b, size_t n)
{
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - b[i];
        num += d * d;
        den += (double)b[i] * b[i];
    }
    if (isnan(num)) return INFINITY;
    return sqrt(num) / fmax(sqrt(den), 1e-30);
}

/* Downloads both copies of t (n floats) and fails when they differ by more than k·tol. */
static void expect_close(const Twin *t, size_t n, double k, const char *what)
{
    float *a = xmalloc(t->bytes), *b = xmalloc(t->bytes);
    ASSERT(n * sizeof(float) <= t->bytes);
    twin_read(t, 0, a);
    twin_read(t, 1, b);
    double e = norm_err(a, b, n);
    if (verbose) printf("  %-44s %.2e (bound %.0e)\n", what, e, k * tol);
    if (!(e <= k * tol))
        fail_msg("%s: %s vs %s relative norm error %.3g > %.3g", what, BE[0]->name, BE[1]->name,
                 e, k * tol);
    free(a), free(b);
}

static void expect_equal_bytes(const Twin *t, const char *what)
{
    char *a = xmalloc(t->bytes), *b = xmalloc(t->bytes);
    twin_read(t, 0, a);
    twin_read(t, 1, b);
    if (memcmp(a, b, t->bytes)) fail_msg("%s: %s and %s differ", what, BE[0]->name, BE[1]->name);
    free(a), free(b);
}

static void expect_doubles(const Twin *t, size_t n, const char *what)
{
    double a[16], b[16];
    ASSERT(n <= 16);
    BE[0]->download(a, t->dev[0], n * sizeof(double));
    BE[1]->download(b, t->dev[1], n * sizeof(double));
    for (size_t i = 0; i < n; i++)
        if (!(fabs(a[i] - b[i]) <= 10 * tol * fmax(fabs(b[i]), 1e-3)))
            fail_msg("%s[%zu]: %s %.9g vs %s %.9g", what, i, BE[0]->name, a[i], BE[1]->name, b[i]);
}

/* ---- memory ---- */

static void test_memory(void **state)
{
    (void)state;
    enum { N = 1000 };
    float x[N], y[N];
    for (int i = 0; i < N; i++) x[i] = (float)i - 3.5f;
    for (int s = 0; s < 2; s++) {
        const Backend *be = BE[s];
        float *a = backend_alloc(be, sizeof x), *b = backend_alloc(be, sizeof x);
        be->download(y, a, sizeof y); /* alloc zero-fills */
        for (int i = 0; i < N; i++) assert_true(y[i] == 0.0f);
        be->upload(a, x, sizeof x);
        be->copy(b, a, sizeof x);
        be->synchronize();
        be->download(y, b, sizeof y);
        assert_memory_equal(x, y, sizeof x);
        be->memset_zero(b + 10, 5 * sizeof(float));
        be->download(y, b, sizeof y);
        assert_true(y[9] == x[9] && y[10] == 0.0f && y[14] == 0.0f && y[15] == x[15]);
        assert_int_equal((uintptr_t)a % 64, 0);
        backend_free(be, a), backend_free(be, b);
    }
}

/* ---- layers ---- */

/* with_din: 0 = weights' gradient only, 1 = din accumulated, 2 = din written (its first writer) */
static void conv_case(ConvShape s, int with_din)
{
    assert_int_equal(conv2d_shape(&s), 0);
    s.grads = with_din ? CONV_GRADS_ALL : CONV_GRADS_WEIGHT;
    s.din_set = with_din == 2;
    size_t ni = (size_t)s.N * s.C_in * s.H * s.W, nw = (size_t)s.C_out * s.C_in * s.KH * s.KW;
    size_t no = (size_t)s.N * s.C_out * s.H_out * s.W_out;
    const int hwi = s.H * s.W, hwo = s.H_out * s.W_out;
    Twin in = as_act(twin_normal(ni, 1), s.N, s.C_in, hwi), w = twin_normal(nw, 0.3);
    Twin out = as_act(twin_zero(no * sizeof(float)), s.N, s.C_out, hwo);
    Twin dout = as_act(twin_normal(no, 1), s.N, s.C_out, hwo);
    Twin din = as_act(twin_normal(ni, 1), s.N, s.C_in, hwi), dw = twin_normal(nw, 1);
    float *ws[2];
    ConvShape sb[2] = {s, s}; /* each backend plans its own copy */
    for (int b = 0; b < 2; b++) {
        if (BE[b]->conv2d_plan) assert_int_equal(BE[b]->conv2d_plan(&sb[b]), CLFT_OK);
        ws[b] = backend_alloc(BE[b], BE[b]->conv2d_workspace_floats(&sb[b]) * sizeof(float) + 64);
        BE[b]->conv2d_forward(F(out, b), F(in, b), F(w, b), &sb[b], ws[b]);
        BE[b]->conv2d_backward(with_din ? F(din, b) : NULL, F(dw, b), F(dout, b), F(in, b), F(w, b),
                               &sb[b], ws[b]);
    }
    char what[128];
    snprintf(what, sizeof what, "conv %dx%d k%d s%d p%d C%d->%d din%d", s.H, s.W, s.KH, s.stride,
             s.pad, s.C_in, s.C_out, with_din);
    expect_close(&out, no, 1, what);
    expect_close(&dw, nw, 1, what);
    if (with_din) expect_close(&din, ni, 1, what);
    for (int b = 0; b < 2; b++) {
        backend_free(BE[b], ws[b]);
        if (BE[b]->conv2d_unplan) BE[b]->conv2d_unplan(&sb[b]);
    }
    twin_free(&in), twin_free(&w), twin_free(&out), twin_free(&dout), twin_free(&din), twin_free(&dw);
}

static void test_conv(void **state)
{
    (void)state;
    conv_case((ConvShape){.N = 3, .C_in = 5, .H = 9, .W = 9, .C_out = 7, .KH = 3, .KW = 3,
                          .stride = 1, .pad = 1}, 1);
    conv_case((ConvShape){.N = 2, .C_in = 4, .H = 10, .W = 10, .C_out = 6, .KH = 3, .KW = 3,
                          .stride = 2, .pad = 1}, 1);
    conv_case((ConvShape){.N = 4, .C_in = 8, .H = 6, .W = 6, .C_out = 16, .KH = 1, .KW = 1,
                          .stride = 1, .pad = 0}, 2);
    conv_case((ConvShape){.N = 3, .C_in = 8, .H = 7, .W = 7, .C_out = 4, .KH = 1, .KW = 1,
                          .stride = 2, .pad = 0}, 1);
    conv_case((ConvShape){.N = 2, .C_in = 3, .H = 20, .W = 20, .C_out = 8, .KH = 7, .KW = 7,
                          .stride = 2, .pad = 3}, 0); /* a stem: no input gradient */
    conv_case((ConvShape){.N = 33, .C_in = 16, .H = 4, .W = 4, .C_out = 32, .KH = 3, .KW = 3,
                          .stride = 1, .pad = 1}, 1); /* many images per GEMM chunk */
    conv_case((ConvShape){.N = 8, .C_in = 1, .H = 12, .W = 12, .C_out = 8, .KH = 3, .KW = 3,
                          .stride = 1, .pad = 1}, 0); /* a one-channel stem */
}

static void bn_case(int N, int C, int HW, int G, int relu, int din_set, BnMode mode)
{
    BnShape s = {.N = N, .C = C, .HW = HW, .groups = G, .eps = 1e-5f, .momentum = 0.1f,
                 .relu = relu, .din_set = din_set};
    size_t n = (size_t)N * C * HW;
    Twin in = as_act(twin_normal(n, 2), N, C, HW), gamma = twin_normal(C, 1), beta = twin_normal(C, 1);
    float *rv0 = xmalloc(C * sizeof(float));
    for (int c = 0; c < C; c++) rv0[c] = 0.5f + (float)c / C;
    Twin rm = twin_normal(C, 0.5), rv = twin_of(rv0, C * sizeof(float));
    Twin mean = twin_zero((size_t)G * C * sizeof(float)), rstd = twin_zero((size_t)G * C * sizeof(float));
    Twin out = as_act(twin_zero(n * sizeof(float)), N, C, HW);
    Twin dout = as_act(twin_normal(n, 1), N, C, HW), din = as_act(twin_normal(n, 1), N, C, HW);
    Twin dg = twin_normal(C, 1), db = twin_normal(C, 1);
    for (int b = 0; b < 2; b++) {
        BE[b]->batchnorm_forward(F(out, b), F(mean, b), F(rstd, b), F(in, b), F(gamma, b),
                                 F(beta, b), F(rm, b), F(rv, b), &s, mode);
        BE[b]->batchnorm_backward(F(din, b), F(dg, b), F(db, b), F(dout, b), F(in, b), F(mean, b),
                                  F(rstd, b), F(gamma, b), F(out, b), &s, mode);
    }
    char what[128];
    snprintf(what, sizeof what, "bn N%d C%d HW%d G%d relu%d set%d %s", N, C, HW, G, relu, din_set,
             mode == BN_TRAIN ? "train" : "eval");
    expect_close(&out, n, 1, what);
    expect_close(&rm, C, 1, what);
    expect_close(&rv, C, 1, what);
    expect_close(&mean, (size_t)G * C, 1, what);
    expect_close(&rstd, (size_t)G * C, 1, what);
    /* backward: dgamma/din sum dout·x̂ over M values with cancellation against Σ dout — 10× */
    expect_close(&din, n, 10, what);
    expect_close(&dg, C, 10, what);
    expect_close(&db, C, 1, what);
    Twin *all[] = {&in, &gamma, &beta, &rm, &rv, &mean, &rstd, &out, &dout, &din, &dg, &db};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) twin_free(all[i]);
    free(rv0);
}

static void test_batchnorm(void **state)
{
    (void)state;
    bn_case(8, 5, 49, 1, 0, 0, BN_TRAIN);
    bn_case(8, 5, 49, 4, 1, 0, BN_TRAIN);
    bn_case(16, 3, 9, 8, 1, 1, BN_TRAIN);
    bn_case(6, 7, 1, 2, 0, 1, BN_TRAIN); /* BatchNorm1d */
    bn_case(4, 6, 16, 1, 1, 0, BN_EVAL);
    bn_case(4, 6, 16, 2, 0, 1, BN_EVAL);
    /* the CPU kernels' fixed-width copies (16, 32, 64, 128 channels), two tiles (128 + 72), and
     * groups taken a chunk at a time (16 groups x 1024 channels > BN_MAX_GC) */
    bn_case(8, 16, 9, 2, 1, 1, BN_TRAIN);
    bn_case(4, 32, 4, 4, 0, 0, BN_TRAIN);
    bn_case(4, 64, 4, 2, 1, 0, BN_TRAIN);
    bn_case(4, 128, 4, 1, 1, 1, BN_TRAIN);
    bn_case(4, 200, 4, 2, 1, 0, BN_TRAIN);
    bn_case(32, 1024, 1, 16, 0, 1, BN_TRAIN);
    bn_case(4, 64, 4, 2, 1, 0, BN_EVAL);
}

static void test_pointwise(void **state)
{
    (void)state;
    const size_t n = 70000; /* above the CPU's threading threshold */
    Twin x = twin_normal(n, 1), y = twin_normal(n, 1), out = twin_zero(n * sizeof(float));
    Twin g = twin_normal(n, 1), da = twin_normal(n, 1), db = twin_normal(n, 1);
    for (int b = 0; b < 2; b++) {
        BE[b]->relu_forward(F(out, b), F(x, b), n);
        BE[b]->relu_backward(F(da, b), F(g, b), F(out, b), n);
    }
    expect_close(&out, n, 0.1, "relu_forward");
    expect_close(&da, n, 0.1, "relu_backward");
    for (int set = 0; set < 2; set++) {
        for (int b = 0; b < 2; b++) {
            BE[b]->add_relu_forward(F(out, b), F(x, b), F(y, b), n);
            BE[b]->add_relu_backward(F(da, b), F(db, b), F(g, b), F(out, b), n, set, !set);
        }
        expect_close(&out, n, 0.1, "add_relu_forward");
        expect_close(&da, n, 0.1, "add_relu_backward da");
        expect_close(&db, n, 0.1, "add_relu_backward db");
    }
    for (int b = 0; b < 2; b++) {
        BE[b]->add_inplace(F(da, b), F(g, b), n);
        BE[b]->zero(F(db, b) + 5, n - 10);
    }
    expect_close(&da, n, 0.1, "add_inplace");
    expect_close(&db, n, 0.1, "zero");
    Twin *all[] = {&x, &y, &out, &g, &da, &db};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) twin_free(all[i]);
}

static void test_pools(void **state)
{
    (void)state;
    PoolShape p = {.N = 3, .C = 4, .H = 11, .W = 9, .k = 3, .stride = 2, .pad = 1};
    assert_int_equal(maxpool_shape(&p), 0);
    size_t ni = (size_t)p.N * p.C * p.H * p.W, no = (size_t)p.N * p.C * p.H_out * p.W_out;
    const int hwi = p.H * p.W, hwo = p.H_out * p.W_out;
    Twin in = as_act(twin_normal(ni, 1), p.N, p.C, hwi);
    Twin out = as_act(twin_zero(no * sizeof(float)), p.N, p.C, hwo);
    Twin arg = as_act(twin_zero(no * sizeof(int)), p.N, p.C, hwo);
    Twin dout = as_act(twin_normal(no, 1), p.N, p.C, hwo), din = as_act(twin_normal(ni, 1), p.N, p.C, hwi);
    for (int b = 0; b < 2; b++) {
        BE[b]->maxpool_forward(F(out, b), I(arg, b), F(in, b), &p);
        BE[b]->maxpool_backward(F(din, b), F(dout, b), I(arg, b), &p);
    }
    expect_close(&out, no, 0.1, "maxpool_forward");
    expect_equal_bytes(&arg, "maxpool argmax");
    expect_close(&din, ni, 0.1, "maxpool_backward");
    const int N = 5, C = 6, HW = 13;
    Twin x = as_act(twin_normal((size_t)N * C * HW, 1), N, C, HW);
    Twin a = twin_zero((size_t)N * C * sizeof(float)), g = twin_normal((size_t)N * C, 1);
    Twin dx = as_act(twin_normal((size_t)N * C * HW, 1), N, C, HW);
    for (int b = 0; b < 2; b++) {
        BE[b]->avgpool_forward(F(a, b), F(x, b), N, C, HW);
        BE[b]->avgpool_backward(F(dx, b), F(g, b), N, C, HW);
    }
    expect_close(&a, (size_t)N * C, 1, "avgpool_forward");
    expect_close(&dx, (size_t)N * C * HW, 1, "avgpool_backward");
    Twin *all[] = {&in, &out, &arg, &dout, &din, &x, &a, &g, &dx};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) twin_free(all[i]);
}

static void linear_case(int N, int I_, int O, int bias, int with_din)
{
    Twin in = twin_normal((size_t)N * I_, 1), w = twin_normal((size_t)O * I_, 0.2);
    Twin bb = twin_normal(O, 1), out = twin_zero((size_t)N * O * sizeof(float));
    Twin dout = twin_normal((size_t)N * O, 1), din = twin_normal((size_t)N * I_, 1);
    Twin dw = twin_normal((size_t)O * I_, 1), db = twin_normal(O, 1);
    for (int b = 0; b < 2; b++) {
        BE[b]->linear_forward(F(out, b), F(in, b), F(w, b), bias ? F(bb, b) : NULL, N, I_, O);
        BE[b]->linear_backward(with_din ? F(din, b) : NULL, F(dw, b), bias ? F(db, b) : NULL,
                               F(dout, b), F(in, b), F(w, b), N, I_, O);
    }
    expect_close(&out, (size_t)N * O, 1, "linear_forward");
    expect_close(&dw, (size_t)O * I_, 1, "linear_backward dweight");
    if (bias) expect_close(&db, O, 1, "linear_backward dbias");
    if (with_din) expect_close(&din, (size_t)N * I_, 1, "linear_backward din");
    Twin *all[] = {&in, &w, &bb, &out, &dout, &din, &dw, &db};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) twin_free(all[i]);
}

static void test_linear_l2norm(void **state)
{
    (void)state;
    linear_case(7, 33, 5, 1, 1);
    linear_case(64, 128, 10, 0, 0);
    linear_case(3, 512, 128, 1, 1);
    const int N = 9, Dm = 17;
    Twin x = twin_normal((size_t)N * Dm, 1), y = twin_zero((size_t)N * Dm * sizeof(float));
    Twin nrm = twin_zero(N * sizeof(float)), dy = twin_normal((size_t)N * Dm, 1);
    Twin dx = twin_normal((size_t)N * Dm, 1);
    for (int b = 0; b < 2; b++) {
        BE[b]->l2norm_forward(F(y, b), F(nrm, b), F(x, b), N, Dm);
        BE[b]->l2norm_backward(F(dx, b), F(dy, b), F(y, b), F(nrm, b), N, Dm);
    }
    expect_close(&y, (size_t)N * Dm, 1, "l2norm_forward");
    expect_close(&nrm, N, 1, "l2norm norms");
    expect_close(&dx, (size_t)N * Dm, 1, "l2norm_backward");
    twin_free(&x), twin_free(&y), twin_free(&nrm), twin_free(&dy), twin_free(&dx);
}

/* ---- rows, optimiser, evaluation ---- */

static void test_rows_optim(void **state)
{
    (void)state;
    const int N = 12;
    const size_t row = 50;
    int perm[12];
    rng_permutation(&rng, perm, N);
    Twin idx = twin_ints(perm, N), x = twin_normal(N * row, 1);
    Twin g = twin_zero(N * row * sizeof(float)), sc = twin_zero(N * row * sizeof(float));
    for (int b = 0; b < 2; b++) {
        BE[b]->gather_rows(F(g, b), F(x, b), I(idx, b), N, row);
        BE[b]->scatter_rows(F(sc, b), F(g, b), I(idx, b), N, row);
    }
    expect_equal_bytes(&g, "gather_rows");
    expect_equal_bytes(&sc, "scatter_rows");
    const size_t n = 5000;
    Twin th = twin_normal(n, 1), gr = twin_normal(n, 1), buf = twin_normal(n, 1), tk = twin_normal(n, 1);
    SgdOptions o = {.lr = 0.05f, .momentum = 0.9f, .weight_decay = 1e-4f};
    for (int b = 0; b < 2; b++) {
        BE[b]->sgd_step(F(th, b), F(gr, b), F(buf, b), n, &o);
        BE[b]->ema_update(F(tk, b), F(th, b), n, 0.99f);
    }
    expect_close(&th, n, 1, "sgd_step theta");
    expect_close(&buf, n, 1, "sgd_step buffer");
    expect_close(&tk, n, 1, "ema_update");
    float vals[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    vals[5] = NAN;
    Twin f = twin_of(vals, sizeof vals), flag = twin_zero(sizeof(int));
    for (int b = 0; b < 2; b++) BE[b]->nonfinite(I(flag, b), F(f, b), 8);
    expect_equal_bytes(&flag, "nonfinite");
    int hit;
    BE[0]->download(&hit, flag.dev[0], sizeof hit);
    assert_int_equal(hit, 1);
    for (int b = 0; b < 2; b++) BE[b]->nonfinite(I(flag, b), F(f, b), 5); /* the NaN is at 5 */
    BE[0]->download(&hit, flag.dev[0], sizeof hit);
    assert_int_equal(hit, 0);
    Twin *all[] = {&idx, &x, &g, &sc, &th, &gr, &buf, &tk, &f, &flag};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) twin_free(all[i]);
}

static void test_gemm_xent(void **state)
{
    (void)state;
    const int M = 13, N = 17, K = 29;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            Twin A = twin_normal((size_t)M * K, 1), B = twin_normal((size_t)K * N, 1);
            Twin C = twin_normal((size_t)M * N, 1);
            for (int b = 0; b < 2; b++)
                BE[b]->gemm(ta, tb, M, N, K, 0.5f, F(A, b), ta ? M : K, F(B, b), tb ? K : N, 1.0f,
                            F(C, b), N);
            expect_close(&C, (size_t)M * N, 1, ta ? (tb ? "gemm TT" : "gemm TN") : (tb ? "gemm NT" : "gemm NN"));
            twin_free(&A), twin_free(&B), twin_free(&C);
        }
    const int R = 20, Cl = 10;
    int labels[20];
    for (int i = 0; i < R; i++) labels[i] = (int)rng_below(&rng, Cl);
    Twin lg = twin_normal((size_t)R * Cl, 5), lab = twin_ints(labels, R), loss = twin_zero(sizeof(double));
    for (int b = 0; b < 2; b++) BE[b]->softmax_xent(D(loss, b), F(lg, b), I(lab, b), R, Cl);
    expect_close(&lg, (size_t)R * Cl, 1, "softmax_xent gradient");
    expect_doubles(&loss, 1, "softmax_xent loss");
    twin_free(&lg), twin_free(&lab), twin_free(&loss);
}

/* ---- contrast ---- */

static Twin twin_unit_rows(int rows, int Dm)
{
    float *x = xmalloc((size_t)rows * Dm * sizeof(float));
    test_unit_rows(x, rows, Dm, &rng);
    Twin t = twin_of(x, (size_t)rows * Dm * sizeof(float));
    free(x);
    return t;
}

/* Histogram counts may differ where a score is within rounding of a bin edge. */
static void expect_hist(const Twin *h, const char *what)
{
    ScoreHist a, b;
    BE[0]->download(&a, h->dev[0], sizeof a);
    BE[1]->download(&b, h->dev[1], sizeof b);
    uint64_t total = 0, moved = 0;
    for (int i = 0; i < SCORES_HIST_BINS; i++) {
        total += b.pos[i] + b.neg[i];
        moved += (a.pos[i] > b.pos[i] ? a.pos[i] - b.pos[i] : b.pos[i] - a.pos[i]) +
                 (a.neg[i] > b.neg[i] ? a.neg[i] - b.neg[i] : b.neg[i] - a.neg[i]);
    }
    if (moved > total / 10000 + 2)
        fail_msg("%s: %llu of %llu counts in other bins", what, (unsigned long long)moved,
                 (unsigned long long)total);
}

static void infonce_case(int N, int Dm, int K, int E, float T)
{
    Twin q = twin_unit_rows(N, Dm), k = twin_unit_rows(N, Dm), queue = twin_unit_rows(K, Dm);
    Twin extra = twin_unit_rows(N * (E > 0 ? E : 1), Dm), stats = twin_zero(STEP_STAT_COUNT * sizeof(double));
    Twin dq = twin_normal((size_t)N * Dm, 1), dk = twin_normal((size_t)N * Dm, 1);
    Twin hist = twin_zero(sizeof(ScoreHist)), phist = twin_zero(sizeof(ScoreHist));
    InfoNCE w[2];
    for (int b = 0; b < 2; b++) {
        PreScores ps;
        infonce_init(&w[b], BE[b], N, Dm, K, E, T);
        InfoNCEInput in = {.q = F(q, b), .k = F(k, b), .queue = F(queue, b),
                           .extra = E ? F(extra, b) : NULL, .E = E};
        infonce_forward(&w[b], &in, D(stats, b), hist.dev[b]);
        scores_pre_init(&ps, BE[b], N, Dm);
        scores_pre(&ps, D(stats, b) + STEP_STAT_PRE, phist.dev[b], F(q, b), F(k, b), F(queue, b),
                   N, K);
        infonce_backward(&w[b], &in, F(dq, b), F(dk, b));
        scores_pre_free(&ps);
    }
    char what[96];
    snprintf(what, sizeof what, "infonce N%d D%d K%d E%d T%g", N, Dm, K, E, (double)T);
    Twin lg = {.bytes = (size_t)N * (1 + K + E) * sizeof(float), .dev = {w[0].logits, w[1].logits}};
    expect_close(&lg, (size_t)N * (1 + K + E), 1, what);
    expect_doubles(&stats, STEP_STAT_COUNT, what);
    expect_close(&dq, (size_t)N * Dm, 1, what);
    expect_close(&dk, (size_t)N * Dm, 1, what);
    expect_hist(&hist, what);
    expect_hist(&phist, what);
    for (int b = 0; b < 2; b++) infonce_free(&w[b]);
    Twin *all[] = {&q, &k, &queue, &extra, &stats, &dq, &dk, &hist, &phist};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) twin_free(all[i]);
}

static void test_contrast(void **state)
{
    (void)state;
    infonce_case(8, 16, 64, 0, 0.2f);
    infonce_case(32, 32, 1500, 0, 0.07f); /* the pre-histogram in two blocks */
    infonce_case(5, 8, 40, 6, 0.5f);      /* MoCHi's extra negatives */
}

/* ---- feature mixing ---- */

static void mix_case(int N, int Dm, int K, int dimwise, int renorm)
{
    float lam[64];
    for (int d = 0; d < Dm; d++) lam[d] = (float)(1.0 + rng_uniform(&rng));
    const float lam0 = 1.37f;
    Twin lamv = twin_of(lam, Dm * sizeof(float));
    Twin q = twin_unit_rows(N, Dm), k = twin_unit_rows(N, Dm), queue = twin_unit_rows(K, Dm);
    Twin qh = twin_zero((size_t)N * Dm * sizeof(float)), kh = twin_zero((size_t)N * Dm * sizeof(float));
    Twin un = twin_zero(N * sizeof(float)), wn = twin_zero(N * sizeof(float));
    Twin gq = twin_normal((size_t)N * Dm, 1), gk = twin_normal((size_t)N * Dm, 1);
    Twin dq = twin_normal((size_t)N * Dm, 1), qu = twin_zero((size_t)K * Dm * sizeof(float));
    int *perm = xmalloc(K * sizeof(int));
    rng_permutation(&rng, perm, K);
    Twin pm = twin_ints(perm, K);
    for (int b = 0; b < 2; b++) {
        const float *l = dimwise ? F(lamv, b) : NULL;
        BE[b]->pair_mix_forward(F(qh, b), F(kh, b), F(un, b), F(wn, b), F(q, b), F(k, b), l, lam0,
                                N, Dm, renorm);
        BE[b]->pair_mix_backward(F(dq, b), F(gq, b), F(gk, b), F(qh, b), F(kh, b), F(un, b),
                                 F(wn, b), l, lam0, N, Dm, renorm);
        BE[b]->row_mix(F(qu, b), F(queue, b), I(pm, b), l, 0.3f, K, Dm, renorm);
    }
    char what[96];
    snprintf(what, sizeof what, "mix N%d D%d K%d dimwise%d renorm%d", N, Dm, K, dimwise, renorm);
    expect_close(&qh, (size_t)N * Dm, 1, what);
    expect_close(&kh, (size_t)N * Dm, 1, what);
    if (renorm) {
        expect_close(&un, N, 1, what);
        expect_close(&wn, N, 1, what);
    }
    expect_close(&dq, (size_t)N * Dm, 1, what);
    expect_close(&qu, (size_t)K * Dm, 1, what);
    Twin *all[] = {&lamv, &q, &k, &queue, &qh, &kh, &un, &wn, &gq, &gk, &dq, &qu, &pm};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) twin_free(all[i]);
    free(perm);
}

static int cmp_int(const void *a, const void *b)
{
    return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b);
}

static void test_mix(void **state)
{
    (void)state;
    mix_case(16, 32, 300, 0, 0);
    mix_case(16, 32, 2100, 1, 0); /* the CPU's row blocks, the last partial */
    mix_case(8, 16, 100, 0, 1);
    mix_case(8, 16, 100, 1, 1);
    /* MoCHi: the top-k SETS agree (their order is the backend's); mixes of the same picks agree */
    const int N = 70, Dm = 16, K = 500, k = 9, E = 5;
    Twin q = twin_unit_rows(N, Dm), x = twin_unit_rows(K, Dm), idx = twin_zero((size_t)N * k * sizeof(int));
    float *scratch[2];
    for (int b = 0; b < 2; b++) {
        scratch[b] = backend_alloc(BE[b], topk_scratch_floats(K, k) * sizeof(float));
        BE[b]->topk_rows(I(idx, b), F(q, b), F(x, b), N, Dm, K, k, scratch[b]);
    }
    int *ia = xmalloc((size_t)N * k * sizeof(int)), *ib = xmalloc((size_t)N * k * sizeof(int));
    BE[0]->download(ia, idx.dev[0], (size_t)N * k * sizeof(int));
    BE[1]->download(ib, idx.dev[1], (size_t)N * k * sizeof(int));
    for (int n = 0; n < N; n++) {
        qsort(ia + n * k, k, sizeof(int), cmp_int);
        qsort(ib + n * k, k, sizeof(int), cmp_int);
    }
    assert_memory_equal(ia, ib, (size_t)N * k * sizeof(int));
    int pa[70 * 5], pb[70 * 5];
    float coef[70 * 5];
    for (int t = 0; t < N * E; t++) {
        pa[t] = t % 3 ? (int)rng_below(&rng, k) : -1;
        pb[t] = (int)rng_below(&rng, k);
        coef[t] = (float)rng_uniform(&rng);
    }
    Twin hard = twin_ints(ia, (size_t)N * k), ta = twin_ints(pa, N * E), tb = twin_ints(pb, N * E);
    Twin tc = twin_of(coef, sizeof coef), out = twin_zero((size_t)N * E * Dm * sizeof(float));
    for (int b = 0; b < 2; b++)
        BE[b]->mix_picked(F(out, b), F(q, b), F(x, b), I(hard, b), k, I(ta, b), I(tb, b), F(tc, b),
                          N, E, Dm);
    expect_close(&out, (size_t)N * E * Dm, 1, "mix_picked");
    for (int b = 0; b < 2; b++) backend_free(BE[b], scratch[b]);
    free(ia), free(ib);
    Twin *all[] = {&q, &x, &idx, &hard, &ta, &tb, &tc, &out};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) twin_free(all[i]);
}

int main(int argc, char **argv)
{
    verbose = getenv("CLFT_PARITY_VERBOSE") != NULL;
    int st = test_parity_backends(argc, argv, BE);
    if (st != 0) return st;
    const char *prec = test_parity_precision();
    if (!strcmp(prec, "tf32")) tol = PARITY_TOL_TF32;
    if (!strcmp(prec, "bf16")) tol = PARITY_TOL_BF16;
    printf("parity: %s vs %s (%s), tolerance %g (relative norm error)\n", BE[0]->name, BE[1]->name,
           prec, tol);
    rng_init(&rng, 2026, RNG_STREAM_DATA, 0, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory),    cmocka_unit_test(test_conv),
        cmocka_unit_test(test_batchnorm), cmocka_unit_test(test_pointwise),
        cmocka_unit_test(test_pools),     cmocka_unit_test(test_linear_l2norm),
        cmocka_unit_test(test_rows_optim), cmocka_unit_test(test_gemm_xent),
        cmocka_unit_test(test_contrast),  cmocka_unit_test(test_mix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

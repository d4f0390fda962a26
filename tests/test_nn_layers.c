/* test_nn_layers.c — the other layers of core/nn (relu, max-pool, avg-pool, linear, l2norm):
 * finite-difference gradients and PyTorch golden values; the GEMM convention, shape errors and
 * the backend table. The finite-difference harness and its tolerances: tests/nn_fd.h.
 */
#include "tests/nn_fd.h"

/* The backend under test and the reference (nn_run_groups: "cpu-im2col", then "cpu-ref"). */
static const Backend *be, *ref;

/* relu, max-pool, avg-pool, linear, l2norm: one context, `kind` picks the layer. */
typedef enum {
    SIMPLE_RELU,
    SIMPLE_MAXPOOL,
    SIMPLE_AVGPOOL,
    SIMPLE_LINEAR,
    SIMPLE_L2NORM
} SimpleKind;

typedef struct {
    SimpleKind kind;
    PoolShape ps;
    int N, I, O; /* linear (N, I) -> (N, O); relu/avgpool/l2norm use N, I (and O = HW) */
    float *in, *w, *bias, *out, *aux, *R;
    int *argmax;
    size_t n_out;
} SimpleCtx;

static double simple_loss(void *p)
{
    SimpleCtx *c = p;
    switch (c->kind) {
    case SIMPLE_RELU:
        be->relu_forward(c->out, c->in, c->n_out);
        break;
    case SIMPLE_MAXPOOL:
        be->maxpool_forward(c->out, c->argmax, c->in, &c->ps);
        break;
    case SIMPLE_AVGPOOL:
        be->avgpool_forward(c->out, c->in, c->N, c->I, c->O);
        break;
    case SIMPLE_LINEAR:
        be->linear_forward(c->out, c->in, c->w, c->bias, c->N, c->I, c->O);
        break;
    case SIMPLE_L2NORM:
        be->l2norm_forward(c->out, c->aux, c->in, c->N, c->I);
        break;
    }
    return dot_d(c->out, c->R, c->n_out);
}

static uint64_t simple_kinks(void *p)
{
    SimpleCtx *c = p;
    if (c->kind == SIMPLE_RELU) return hash_mask(1, c->out, c->n_out);
    uint64_t h = 1;
    if (c->kind == SIMPLE_MAXPOOL)
        for (size_t i = 0; i < c->n_out; i++)
            h = (h ^ (uint64_t)c->argmax[i]) * 1099511628211ull;
    return h;
}

/* Runs backward of a SimpleCtx layer into prefilled gradients and checks them by FD. */
static void simple_fd(SimpleCtx *c, const char *name, size_t n_in)
{
    char what[64];
    float *din = alloc_fill(n_in, GRAD_PREFILL);
    size_t nw = (size_t)c->O * c->I;
    float *dw = alloc_fill(nw, GRAD_PREFILL), *db = alloc_fill((size_t)c->O, GRAD_PREFILL);
    simple_loss(c);
    switch (c->kind) {
    case SIMPLE_RELU:
        be->relu_backward(din, c->R, c->out, c->n_out);
        break;
    case SIMPLE_MAXPOOL:
        be->maxpool_backward(din, c->R, c->argmax, &c->ps);
        break;
    case SIMPLE_AVGPOOL:
        be->avgpool_backward(din, c->R, c->N, c->I, c->O);
        break;
    case SIMPLE_LINEAR:
        be->linear_backward(din, dw, db, c->R, c->in, c->w, c->N, c->I, c->O);
        break;
    case SIMPLE_L2NORM:
        be->l2norm_backward(din, c->R, c->out, c->aux, c->N, c->I);
        break;
    }
    FdModel m = {.forward = simple_loss, .kinks = simple_kinks, .ctx = c};
    snprintf(what, sizeof what, "%s din", name);
    fd_check(what, &m, c->in, din, n_in);
    if (c->kind == SIMPLE_LINEAR) {
        fd_check("linear dweight", &m, c->w, dw, nw);
        fd_check("linear dbias", &m, c->bias, db, (size_t)c->O);
    }
    free(din), free(dw), free(db);
}

static void test_fd_simple_layers(void **state)
{
    (void)state;
    Rng r;
    rng_init(&r, 3, RNG_STREAM_DATA, 0, 0);
    float buf_in[512], buf_out[512], buf_R[512], buf_w[64], buf_b[8], buf_aux[16];
    int argmax[512];
    SimpleCtx c = {.in = buf_in,
                   .out = buf_out,
                   .R = buf_R,
                   .w = buf_w,
                   .bias = buf_b,
                   .aux = buf_aux,
                   .argmax = argmax};
    fill_normal(&r, buf_in, 512, 1.0);
    fill_normal(&r, buf_R, 512, 1.0);
    fill_normal(&r, buf_w, 64, 0.5);
    fill_normal(&r, buf_b, 8, 0.5);

    c.kind = SIMPLE_RELU, c.n_out = 60;
    simple_fd(&c, "relu", 60);

    /* max-pool inputs: a permutation of well separated values, so no two taps tie within ±EPS */
    c.kind = SIMPLE_MAXPOOL;
    c.ps = (PoolShape){.N = 2, .C = 2, .H = 7, .W = 6, .k = 3, .stride = 2, .pad = 1};
    assert_int_equal(maxpool_shape(&c.ps), 0);
    int perm[168];
    rng_permutation(&r, perm, 168);
    for (int i = 0; i < 168; i++)
        buf_in[i] = 0.05f * (float)(perm[i] - 84);
    c.n_out = (size_t)2 * 2 * c.ps.H_out * c.ps.W_out;
    simple_fd(&c, "maxpool", 168);

    fill_normal(&r, buf_in, 512, 1.0);
    c.kind = SIMPLE_AVGPOOL, c.N = 2, c.I = 3, c.O = 5, c.n_out = 6; /* (2, 3, HW 5) */
    simple_fd(&c, "avgpool", 30);
    c.kind = SIMPLE_LINEAR, c.N = 4, c.I = 7, c.O = 5, c.n_out = 20;
    simple_fd(&c, "linear", 28);
    c.kind = SIMPLE_L2NORM, c.N = 3, c.I = 8, c.O = 0, c.n_out = 24;
    simple_fd(&c, "l2norm", 24);
}

/* ---- golden values from PyTorch (tests/gen_golden_nn.py): tolerances in nn_fd.h ---- */

static void test_golden_simple_layers(void **state)
{
    (void)state;
    StFile f;
    fixture_open(&f, "nn_layers.safetensors");
    float out[512], din[512], dw[64], db[8], norm[8];
    int argmax[512];

    memset(din, 0, sizeof din);
    be->relu_forward(out, gold(&f, "relu", "in", 120), 120);
    be->relu_backward(din, gold(&f, "relu", "dout", 120), out, 120);
    ASSERT_CLOSE("relu out", out, gold(&f, "relu", "out", 120), 120, TOL_GOLD);
    ASSERT_CLOSE("relu din", din, gold(&f, "relu", "din", 120), 120, TOL_GOLD);

    PoolShape ps = {.N = 2, .C = 3, .H = 7, .W = 7, .k = 3, .stride = 2, .pad = 1};
    assert_int_equal(maxpool_shape(&ps), 0);
    assert_int_equal(ps.H_out, 4);
    memset(din, 0, sizeof din);
    be->maxpool_forward(out, argmax, gold(&f, "maxpool", "in", 294), &ps);
    be->maxpool_backward(din, gold(&f, "maxpool", "dout", 96), argmax, &ps);
    ASSERT_CLOSE("maxpool out", out, gold(&f, "maxpool", "out", 96), 96, TOL_GOLD);
    ASSERT_CLOSE("maxpool din", din, gold(&f, "maxpool", "din", 294), 294, TOL_GOLD);

    memset(din, 0, sizeof din);
    be->avgpool_forward(out, gold(&f, "avgpool", "in", 72), 2, 4, 9);
    be->avgpool_backward(din, gold(&f, "avgpool", "dout", 8), 2, 4, 9);
    ASSERT_CLOSE("avgpool out", out, gold(&f, "avgpool", "out", 8), 8, TOL_GOLD);
    ASSERT_CLOSE("avgpool din", din, gold(&f, "avgpool", "din", 72), 72, TOL_GOLD);

    memset(din, 0, sizeof din), memset(dw, 0, sizeof dw), memset(db, 0, sizeof db);
    const float *lin = gold(&f, "linear", "in", 35), *lw = gold(&f, "linear", "weight", 21);
    be->linear_forward(out, lin, lw, gold(&f, "linear", "bias", 3), 5, 7, 3);
    be->linear_backward(din, dw, db, gold(&f, "linear", "dout", 15), lin, lw, 5, 7, 3);
    ASSERT_CLOSE("linear out", out, gold(&f, "linear", "out", 15), 15, TOL_GOLD);
    ASSERT_CLOSE("linear din", din, gold(&f, "linear", "din", 35), 35, TOL_GOLD);
    ASSERT_CLOSE("linear dweight", dw, gold(&f, "linear", "dweight", 21), 21, TOL_GOLD);
    ASSERT_CLOSE("linear dbias", db, gold(&f, "linear", "dbias", 3), 3, TOL_GOLD);

    memset(din, 0, sizeof din);
    be->l2norm_forward(out, norm, gold(&f, "l2norm", "in", 24), 4, 6);
    be->l2norm_backward(din, gold(&f, "l2norm", "dout", 24), out, norm, 4, 6);
    ASSERT_CLOSE("l2norm out", out, gold(&f, "l2norm", "out", 24), 24, TOL_GOLD);
    ASSERT_CLOSE("l2norm din", din, gold(&f, "l2norm", "din", 24), 24, TOL_GOLD);
    st_close(&f);
}

/* ---- (e) the GEMM / layout convention, by hand ---- */
static void test_gemm_convention(void **state)
{
    (void)state;
    /* in (2,3) · weightᵀ (3,2) + bias: weight is (O=2, I=3) as torch.nn.Linear */
    const float in[6] = {1, 2, 3, 4, 5, 6};
    const float w[6] = {7, 9, 11, 8, 10, 12};
    const float bias[2] = {1, -1};
    const float expect[4] = {58 + 1, 64 - 1, 139 + 1, 154 - 1};
    float out[4];
    be->linear_forward(out, in, w, bias, 2, 3, 2);
    for (int i = 0; i < 4; i++)
        assert_true(out[i] == expect[i]);
    be->linear_forward(out, in, w, NULL, 2, 3, 2);
    assert_true(out[0] == 58 && out[1] == 64 && out[2] == 139 && out[3] == 154);
}

/* ---- (f) impossible shapes are reported, not computed ---- */
static void test_impossible_shapes(void **state)
{
    (void)state;
    ConvShape s = {
        .N = 1, .C_in = 1, .H = 2, .W = 2, .C_out = 1, .KH = 5, .KW = 5, .stride = 1, .pad = 1};
    assert_int_equal(conv2d_shape(&s), -1);
    assert_non_null(strstr(clft_last_error(), "conv2d"));
    assert_non_null(strstr(clft_last_error(), "(1,1,2,2)"));
    assert_non_null(strstr(clft_last_error(), "(1,1,5,5)"));
    s = (ConvShape){.N = 2, .C_in = 3, .H = 8, .W = 8, .C_out = 4, .KH = 3, .KW = 3, .stride = 0};
    assert_int_equal(conv2d_shape(&s), -1);
    assert_non_null(strstr(clft_last_error(), "stride 0"));
    PoolShape p = {.N = 1, .C = 1, .H = 4, .W = 4, .k = 3, .stride = 2, .pad = 2};
    assert_int_equal(maxpool_shape(&p), -1); /* pad > k/2, as PyTorch refuses */
    assert_non_null(strstr(clft_last_error(), "maxpool"));
}

/* The registry: both host tables are built and complete; selecting a device names what is wrong. */
static void test_backend_table(void **state)
{
    (void)state;
    const Backend *cpu = backend_find("cpu");
    assert_non_null(cpu);
    assert_string_equal(cpu->name, "cpu");
    assert_ptr_equal(backend_host(), cpu);
    assert_non_null(backend_find("cpu-ref"));
    assert_null(backend_find("no-such-backend"));
    assert_null(backend_find(NULL));
    assert_non_null(strstr(backend_names(), "cpu cpu-im2col cpu-ref"));
    /* entries a backend may leave empty: pinned host memory, convolution plans, the NCHW
     * transpose and bf16 storage */
    const size_t optional[] = {offsetof(Backend, host_alloc),
                               offsetof(Backend, host_free),
                               offsetof(Backend, conv2d_plan),
                               offsetof(Backend, conv2d_unplan),
                               offsetof(Backend, from_nchw),
                               offsetof(Backend, bf16_storage),
                               offsetof(Backend, add_relu_forward_bf16),
                               offsetof(Backend, add_relu_backward_bf16),
                               offsetof(Backend, maxpool_forward_bf16),
                               offsetof(Backend, avgpool_forward_bf16)};
    for (const Backend *const *b = backend_all(); *b; b++) {
        if (!(*b)->host_memory) continue; /* a device table is checked by its own tests */
        for (size_t off = offsetof(Backend, alloc); off < sizeof(Backend); off += sizeof(void *)) {
            int opt = 0;
            for (size_t k = 0; k < sizeof optional / sizeof optional[0]; k++)
                opt |= off == optional[k];
            if (!opt && !*(void *const *)((const char *)*b + off))
                fail_msg("backend %s: the op at offset %zu is empty", (*b)->name, off);
        }
    }
    assert_null(backend_select("no-such-backend", BACKEND_NEEDS_TRAIN, NULL));
    assert_non_null(strstr(clft_last_error(), "device 'no-such-backend' is not built"));
    assert_non_null(strstr(clft_last_error(), "(built: cpu cpu-im2col cpu-ref"));
    assert_ptr_equal(backend_select("cpu", BACKEND_NEEDS_TRAIN | BACKEND_NEEDS_MIX, NULL), cpu);
    BackendOptions bf16 = {.precision = PRECISION_BF16};
    assert_null(backend_select("cpu-ref", BACKEND_NEEDS_TRAIN, &bf16)); /* fp32 only */
    assert_non_null(strstr(clft_last_error(), "fp32 only"));
    /* bf16 storage: the cpu table has all of it or none (model.c takes the entries together) */
    assert_non_null(cpu->bf16_storage);
    assert_true(cpu->add_relu_forward_bf16 && cpu->add_relu_backward_bf16 &&
                cpu->maxpool_forward_bf16 && cpu->avgpool_forward_bf16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fd_simple_layers), cmocka_unit_test(test_golden_simple_layers),
        cmocka_unit_test(test_gemm_convention),  cmocka_unit_test(test_impossible_shapes),
        cmocka_unit_test(test_backend_table),
    };
    return nn_run_groups("layers", tests, sizeof tests / sizeof tests[0], &be, &ref);
}

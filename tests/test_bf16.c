/* test_bf16.c — bf16 storage on the "cpu" backend (core/nn/nn.h "bf16 storage").
 *
 * Each layer that reads or writes a bf16 activation must equal its fp32 twin run on the widened
 * bf16 values, with its bf16 outputs rounded once: bit for bit for BN (forward statistics, running
 * update, output; backward din, dgamma, dbeta), the residual join and the pools, which compute in
 * the same order on the same floats; within accumulation order for the convolutions, whose bf16
 * output is written by oneDNN from its fp32 accumulators. The rounding itself against hand-worked
 * cases (ties to even, NaN and inf kept), and the model's storage plan: which activations a bf16
 * run keeps in bf16 (the small and the ImageNet stem) and the memory it saves.
 * Skipped (exit 77) where oneDNN cannot open at bf16.
 */
#include "tests/test_util.h"

#include <stdint.h>

#include "core/backend/cpu/cpu.h"
#include "core/model/model.h"
#include "core/nn/nn.h"
#include "core/rng.h"

static const Backend *be;
static int native_here; /* what dnnl_open chose for this CPU (with AMX: bf16 primitives) */

static uint32_t bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static void test_rounding(void **state)
{
    (void)state;
    static const struct {
        uint32_t in;
        uint16_t out;
    } cases[] = {
        {0x3f800000u, 0x3f80}, /* 1 */
        {0x3f808000u, 0x3f80}, /* 1 + half an ulp: tie, to even (down) */
        {0x3f818000u, 0x3f82}, /* tie from an odd mantissa: up to even */
        {0x3f808001u, 0x3f81}, /* just above the tie: up */
        {0x3f807fffu, 0x3f80}, /* just below: down */
        {0xbf808001u, 0xbf81}, /* negative: the magnitude rounds the same */
        {0x80000000u, 0x8000}, /* −0 */
        {0x7f800000u, 0x7f80}, /* +inf */
        {0xff800000u, 0xff80}, /* −inf */
        {0x7f7fffffu, 0x7f80}, /* the largest float rounds to inf, as torch */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const uint16_t h = f32_to_bf16(from_bits(cases[i].in));
        if (h != cases[i].out)
            fail_msg("f32_to_bf16(0x%08x) = 0x%04x, expected 0x%04x", cases[i].in, h, cases[i].out);
        assert_int_equal(bits(bf16_to_f32(h)), (uint32_t)cases[i].out << 16); /* widening exact */
    }
    /* NaNs stay NaN, even one whose mantissa lives in the low half only (rounding must not carry
     * it into the exponent: inf) */
    const uint32_t nans[] = {0x7fc00000u, 0x7f800001u, 0xff80ffffu, 0x7fffffffu};
    for (size_t i = 0; i < sizeof nans / sizeof nans[0]; i++)
        assert_true(isnan(bf16_to_f32(f32_to_bf16(from_bits(nans[i])))));
}

/* n values of N(0, scale) + shift in bf16, and their widened fp32 twins. */
static void fill(uint16_t *h, float *w, size_t n, double shift, double scale, Rng *r)
{
    for (size_t i = 0; i < n; i++) {
        h[i] = f32_to_bf16((float)(shift + scale * rng_normal(r)));
        w[i] = bf16_to_f32(h[i]);
    }
}

static void assert_rounded(const char *what, const uint16_t *h, const float *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (h[i] != f32_to_bf16(f[i]))
            fail_msg("%s[%zu]: bf16 0x%04x, the rounded fp32 twin 0x%04x", what, i, h[i],
                     f32_to_bf16(f[i]));
}

static void assert_same(const char *what, const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (bits(a[i]) != bits(b[i]))
            fail_msg("%s[%zu]: %.9g vs fp32 twin %.9g", what, i, a[i], b[i]);
}

/* BN over (N, C, HW) channels-last, G groups: forward and backward in bf16 storage against fp32 on
 * the widened values. C = 24 takes the kernels' general tile, 64 a compiled width. */
static void bn_case(int N, int C, int HW, int G, int relu, BnMode mode, int din_set)
{
    Rng r;
    rng_init(&r, 5, RNG_STREAM_DATA, (uint64_t)C, (uint64_t)relu);
    const size_t n = (size_t)N * C * HW, gc = (size_t)G * C;
    uint16_t *xh = xmalloc(n * 2), *yh = xmalloc(n * 2);
    float *xw = xmalloc(n * 4), *yf = xmalloc(n * 4), *yw = xmalloc(n * 4), *dy = xmalloc(n * 4);
    float *din_h = xmalloc(n * 4), *din_f = xmalloc(n * 4);
    float gamma[64], beta[64], rm[2][64], rv[2][64], mean[2][256], rstd[2][256], dg[2][64],
        db[2][64];
    assert_true(C <= 64 && gc <= 256);
    fill(xh, xw, n, 3.0, 2.0, &r); /* |mean| > std: the shifted sums matter */
    for (int c = 0; c < C; c++) {
        gamma[c] = (float)rng_range(&r, 0.5, 1.5);
        beta[c] = (float)rng_range(&r, -0.5, 0.5);
        rm[0][c] = rm[1][c] = (float)rng_range(&r, -1, 1);
        rv[0][c] = rv[1][c] = (float)rng_range(&r, 0.5, 2);
        dg[0][c] = dg[1][c] = db[0][c] = db[1][c] = 0.25f; /* backward accumulates */
    }
    for (size_t i = 0; i < n; i++) {
        dy[i] = (float)rng_normal(&r);
        din_h[i] = din_f[i] = 0.5f;
    }
    BnShape s = {.N = N,
                 .C = C,
                 .HW = HW,
                 .groups = G,
                 .eps = 1e-5f,
                 .momentum = 0.1f,
                 .relu = relu,
                 .din_set = din_set};
    batchnorm_forward_nhwc(yf, mean[0], rstd[0], xw, gamma, beta, rm[0], rv[0], &s, mode);
    s.bf16 = 1;
    batchnorm_forward_nhwc((float *)yh, mean[1], rstd[1], (const float *)xh, gamma, beta, rm[1],
                           rv[1], &s, mode);
    assert_same("save_mean", mean[1], mean[0], gc);
    assert_same("save_rstd", rstd[1], rstd[0], gc);
    assert_same("running_mean", rm[1], rm[0], (size_t)C);
    assert_same("running_var", rv[1], rv[0], (size_t)C);
    assert_rounded("bn out", yh, yf, n);
    /* backward: the fp32 twin reads the widened bf16 output (the ReLU's mask) */
    for (size_t i = 0; i < n; i++)
        yw[i] = bf16_to_f32(yh[i]);
    s.bf16 = 1;
    batchnorm_backward_nhwc(din_h, dg[1], db[1], dy, (const float *)xh, mean[1], rstd[1], gamma,
                            (const float *)yh, &s, mode);
    s.bf16 = 0;
    batchnorm_backward_nhwc(din_f, dg[0], db[0], dy, xw, mean[0], rstd[0], gamma, yw, &s, mode);
    assert_same("bn din", din_h, din_f, n);
    assert_same("bn dgamma", dg[1], dg[0], (size_t)C);
    assert_same("bn dbeta", db[1], db[0], (size_t)C);
    free(xh), free(yh), free(xw), free(yf), free(yw), free(dy), free(din_h), free(din_f);
}

static void test_batchnorm(void **state)
{
    (void)state;
    bn_case(8, 24, 9, 2, 1, BN_TRAIN, 1);
    bn_case(8, 24, 9, 2, 0, BN_TRAIN, 0);
    bn_case(4, 64, 25, 1, 1, BN_TRAIN, 0);
    bn_case(4, 64, 25, 4, 1, BN_EVAL, 1);
}

static void test_join_and_pool(void **state)
{
    (void)state;
    enum { N = 3, C = 40, HW = 7 };
    const size_t n = (size_t)N * C * HW;
    Rng r;
    rng_init(&r, 9, RNG_STREAM_DATA, 0, 0);
    uint16_t ah[n], bh[n], yh[n];
    float aw[n], bw[n], yf[n], yw[n], dy[n], da[2][n], dbb[2][n], pool[2][N * C];
    fill(ah, aw, n, 0.0, 1.0, &r);
    fill(bh, bw, n, 0.0, 1.0, &r);
    add_relu_forward_bf16_cpu(yh, ah, bh, n);
    add_relu_forward_cpu(yf, aw, bw, n);
    assert_rounded("add_relu out", yh, yf, n);
    for (size_t i = 0; i < n; i++) {
        yw[i] = bf16_to_f32(yh[i]);
        dy[i] = (float)rng_normal(&r);
        da[0][i] = da[1][i] = 0.5f;
        dbb[0][i] = dbb[1][i] = -0.5f;
    }
    for (int set = 0; set < 2; set++) {
        add_relu_backward_bf16_cpu(da[1], dbb[1], dy, yh, n, set, !set);
        add_relu_backward_cpu(da[0], dbb[0], dy, yw, n, set, !set);
        assert_same("add_relu da", da[1], da[0], n);
        assert_same("add_relu db", dbb[1], dbb[0], n);
    }
    avgpool_forward_bf16_nhwc(pool[1], yh, N, C, HW);
    avgpool_forward_nhwc(pool[0], yw, N, C, HW);
    assert_same("avgpool", pool[1], pool[0], (size_t)N * C);
}

/* The ImageNet stem's 3x3/2 max-pool (padding 1) in bf16: the same argmax, the maximum as it is. */
static void test_maxpool(void **state)
{
    (void)state;
    PoolShape s = {.N = 2, .C = 24, .H = 9, .W = 9, .k = 3, .stride = 2, .pad = 1};
    assert_int_equal(maxpool_shape(&s), 0);
    const size_t n = (size_t)s.N * s.C * s.H * s.W, no = (size_t)s.N * s.C * s.H_out * s.W_out;
    Rng r;
    rng_init(&r, 4, RNG_STREAM_DATA, 0, 0);
    uint16_t *xh = xmalloc(n * 2), *yh = xmalloc(no * 2);
    float *xw = xmalloc(n * 4), *yf = xmalloc(no * 4);
    int *arg[2] = {xmalloc(no * sizeof(int)), xmalloc(no * sizeof(int))};
    fill(xh, xw, n, 0.0, 1.0, &r);
    for (size_t i = 0; i < n; i += 7)
        xh[i] = xh[i + 1 < n ? i + 1 : i], xw[i] = bf16_to_f32(xh[i]);
    maxpool_forward_bf16_nhwc(yh, arg[1], xh, &s);
    maxpool_forward_nhwc(yf, arg[0], xw, &s);
    assert_memory_equal(arg[1], arg[0], no * sizeof(int));
    assert_rounded("maxpool out", yh, yf, no);
    free(xh), free(yh), free(xw), free(yf), free(arg[0]), free(arg[1]);
}

/* A convolution reading and writing bf16 storage against the same convolution with an fp32
 * input and fp32 output, in the same bf16 run, on oneDNN's bf16 primitives (native) and
 * on its fp32 ones with bf16-rounded operands (emulated, the choice without AMX); then the two
 * against each other: the same exact bf16 products, summed in fp32 in another order. */
typedef struct {
    float *y, *dx, *dw; /* fp32 storage: output, input and weight gradients */
} ConvResult;

static ConvResult conv_run(int native, ConvShape sf, const uint16_t *xh, const float *xw,
                           const float *w, const float *dy)
{
    dnnl_set_bf16_native(native);
    ConvShape sh = sf;
    sh.src_bf16 = sh.dst_bf16 = 1;
    assert_int_equal(be->conv2d_plan(&sf), CLFT_OK);
    assert_int_equal(be->conv2d_plan(&sh), CLFT_OK);
    const size_t nx = (size_t)sf.N * sf.C_in * sf.H * sf.W,
                 ny = (size_t)sf.N * sf.C_out * sf.H_out * sf.W_out,
                 nw = (size_t)sf.C_out * sf.C_in * sf.KH * sf.KW;
    const size_t wf = be->conv2d_workspace_floats(&sf), wh = be->conv2d_workspace_floats(&sh);
    uint16_t *yh = xmalloc(ny * 2);
    float *yw = xmalloc(ny * 4), *dx = xmalloc(nx * 4), *dw = xcalloc(nw, 4);
    float *ws = alloc_cpu((wf > wh ? wf : wh) * 4);
    ConvResult r = {xmalloc(ny * 4), xmalloc(nx * 4), xcalloc(nw, 4)};
    be->conv2d_forward(r.y, xw, w, &sf, ws);
    be->conv2d_forward((float *)yh, (const float *)xh, w, &sh, ws);
    for (size_t i = 0; i < ny; i++)
        yw[i] = bf16_to_f32(yh[i]);
    /* one bf16 rounding of the same accumulators: within half a bf16 ulp, 2⁻⁹ relative, plus
     * what a different summation order gives */
    ASSERT_CLOSE("conv out (bf16 storage)", yw, r.y, ny, 4e-3);
    be->conv2d_backward(r.dx, r.dw, dy, xw, w, &sf, ws);
    be->conv2d_backward(dx, dw, dy, (const float *)xh, w, &sh, ws);
    ASSERT_CLOSE("conv din (bf16 storage)", dx, r.dx, nx, 1e-5);
    ASSERT_CLOSE("conv dweight (bf16 storage)", dw, r.dw, nw, 1e-5);
    be->conv2d_unplan(&sf);
    be->conv2d_unplan(&sh);
    free(yh), free(yw), free(dx), free(dw), free_cpu(ws);
    return r;
}

static void conv_case(int C_in, int C_out, int H, int k, int stride)
{
    ConvShape s = {.N = 4,
                   .C_in = C_in,
                   .H = H,
                   .W = H,
                   .C_out = C_out,
                   .KH = k,
                   .KW = k,
                   .stride = stride,
                   .pad = k / 2,
                   .grads = CONV_GRADS_ALL,
                   .din_set = 1};
    assert_int_equal(conv2d_shape(&s), 0);
    const size_t nx = (size_t)s.N * C_in * H * H, ny = (size_t)s.N * C_out * s.H_out * s.W_out,
                 nw = (size_t)C_out * C_in * k * k;
    Rng r;
    rng_init(&r, 3, RNG_STREAM_DATA, (uint64_t)C_in, (uint64_t)k);
    uint16_t *xh = xmalloc(nx * 2);
    float *xw = xmalloc(nx * 4), *w = xmalloc(nw * 4), *dy = xmalloc(ny * 4);
    /* an fp32 input with more bits than bf16 keeps: both paths round it to xh first (the same
     * numbers as xh stored), weights and output gradients likewise */
    for (size_t i = 0; i < nx; i++) {
        xw[i] = (float)rng_normal(&r);
        xh[i] = f32_to_bf16(xw[i]);
    }
    for (size_t i = 0; i < nw; i++)
        w[i] = (float)rng_normal(&r);
    for (size_t i = 0; i < ny; i++)
        dy[i] = (float)rng_normal(&r);
    ConvResult nat = conv_run(1, s, xh, xw, w, dy), emu = conv_run(0, s, xh, xw, w, dy);
    ASSERT_CLOSE("conv out, emulated vs native bf16", emu.y, nat.y, ny, 1e-5);
    ASSERT_CLOSE("conv din, emulated vs native bf16", emu.dx, nat.dx, nx, 1e-5);
    ASSERT_CLOSE("conv dweight, emulated vs native bf16", emu.dw, nat.dw, nw, 1e-5);
    free(nat.y), free(nat.dx), free(nat.dw), free(emu.y), free(emu.dx), free(emu.dw);
    free(xh), free(xw), free(w), free(dy);
}

static void test_conv(void **state)
{
    (void)state;
    conv_case(16, 32, 9, 3, 1);
    conv_case(32, 64, 8, 3, 2);
    conv_case(32, 64, 8, 1, 2);
    conv_case(3, 16, 8, 3, 1); /* a stem's fp32 input: rounded (emulated) or reordered (native) */
    dnnl_set_bf16_native(native_here);
}

/* Counts a model's bf16 activations; asserts the network input, the features and the output fp32.
 */
static int count_bf16(const Model *m)
{
    assert_false(m->act_bf16[0]);
    assert_false(m->act_bf16[m->feat_act]);
    assert_false(m->act_bf16[m->n_acts - 1]);
    int k = 0;
    for (int i = 0; i < m->n_acts; i++)
        k += m->act_bf16[i];
    return k;
}

static void test_model_plan(void **state)
{
    (void)state;
    ModelOptions opt = {.with_grads = 1, .bn_groups = 2};
    ModelConfig small = {.arch = ARCH_RESNET_SMALL,
                         .stem = STEM_SMALL,
                         .width = 8,
                         .stages = 2,
                         .blocks = 1,
                         .in_channels = 1,
                         .head = HEAD_MLP,
                         .head_dim = 16};
    Model m, f;
    assert_int_equal(model_init(&m, be, &small, 4, 1, 12, 12, &opt), CLFT_OK);
    /* every conv, BN and join output of the trunk is bf16; the head's are not */
    int trunk = 0;
    for (int k = 0; k < m.n_ops; k++) {
        const Op *op = &m.ops[k];
        if (op->kind == OP_CONV || op->kind == OP_BN || op->kind == OP_ADD_RELU) {
            trunk++;
            assert_true(m.act_bf16[op->out]);
        }
        if (op->kind == OP_CONV) {
            assert_int_equal(op->s.conv.src_bf16, op->in != 0);
            assert_true(op->s.conv.dst_bf16);
        }
        if (op->kind == OP_BN) assert_true(op->s.bn.bf16);
        if (op->kind == OP_LINEAR || op->kind == OP_L2NORM) assert_false(m.act_bf16[op->out]);
    }
    assert_int_equal(count_bf16(&m), trunk);
    /* the same model in fp32 storage (the cpu-im2col table has none) takes more memory */
    assert_int_equal(model_init(&f, backend_find("cpu-im2col"), &small, 4, 1, 12, 12, &opt),
                     CLFT_OK);
    assert_int_equal(count_bf16(&f), 0);
    assert_true(m.tensor_floats < f.tensor_floats);
    model_free(&f);
    model_free(&m);
    /* the ImageNet stem with its max-pool, whose output is the first join's skip: bf16 too */
    ModelConfig r18 = {.arch = ARCH_RESNET18,
                       .stem = STEM_IMAGENET,
                       .width = 8,
                       .in_channels = 3,
                       .head = HEAD_LINEAR,
                       .head_dim = 16};
    assert_int_equal(model_init(&m, be, &r18, 2, 3, 64, 64, &opt), CLFT_OK);
    int pools = 0;
    trunk = 0;
    for (int k = 0; k < m.n_ops; k++) {
        const Op *op = &m.ops[k];
        pools += op->kind == OP_MAXPOOL;
        if (op->kind == OP_CONV || op->kind == OP_BN || op->kind == OP_ADD_RELU ||
            op->kind == OP_MAXPOOL) {
            trunk++;
            assert_true(m.act_bf16[op->out]);
        }
    }
    assert_int_equal(pools, 1);
    assert_int_equal(count_bf16(&m), trunk);
    model_free(&m);
}

int main(void)
{
    const BackendOptions bf16 = {.precision = PRECISION_BF16};
    be = backend_select("cpu", BACKEND_NEEDS_TRAIN, &bf16);
    if (!be || !be->bf16_storage || !be->bf16_storage()) {
        printf("skip: the cpu backend does not open at bf16 here\n");
        return 77;
    }
    native_here = dnnl_bf16_native();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rounding),      cmocka_unit_test(test_batchnorm),
        cmocka_unit_test(test_join_and_pool), cmocka_unit_test(test_maxpool),
        cmocka_unit_test(test_conv),          cmocka_unit_test(test_model_plan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

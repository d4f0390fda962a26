/* test_nn_conv_bn.c — conv2d and batch norm of core/nn: finite-difference gradients, the fused
 * BN + relu and add + relu against their unfused compositions (bit for bit), the optimised conv
 * against its naive twin, and PyTorch golden values (tests/gen_golden_nn.py). The finite-difference
 * harness and its tolerances: tests/nn_fd.h.
 */
#include "tests/nn_fd.h"

/* The backend under test and the reference (nn_run_groups: "cpu-im2col", then "cpu-ref"). */
static const Backend *be, *ref;

/* ---- (a) every layer's backward against finite differences ---- */

typedef struct {
    ConvShape s;
    float *in, *w, *out, *R, *ws;
} ConvCtx;

static double conv_loss(void *p)
{
    ConvCtx *c = p;
    be->conv2d_forward(c->out, c->in, c->w, &c->s, c->ws);
    return dot_d(c->out, c->R, (size_t)c->s.N * c->s.C_out * c->s.H_out * c->s.W_out);
}

static void test_fd_conv2d(void **state)
{
    (void)state;
    static const ConvShape shapes[] = {
        {.N = 2, .C_in = 3, .H = 6, .W = 5, .C_out = 4, .KH = 3, .KW = 3, .stride = 2, .pad = 1},
        {.N = 3, .C_in = 2, .H = 5, .W = 5, .C_out = 3, .KH = 3, .KW = 3, .stride = 1, .pad = 1},
        {.N = 3, .C_in = 4, .H = 3, .W = 3, .C_out = 2, .KH = 1, .KW = 1, .stride = 1, .pad = 0},
    };
    Rng r;
    rng_init(&r, 1, RNG_STREAM_DATA, 1, 0);
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        ConvCtx c = {.s = shapes[k]};
        assert_int_equal(conv2d_shape(&c.s), 0);
        size_t ni = (size_t)c.s.N * c.s.C_in * c.s.H * c.s.W;
        size_t nw = (size_t)c.s.C_out * c.s.C_in * c.s.KH * c.s.KW;
        size_t no = (size_t)c.s.N * c.s.C_out * c.s.H_out * c.s.W_out;
        c.in = alloc_normal(&r, ni, 1.0);
        c.w = alloc_normal(&r, nw, 0.5);
        c.R = alloc_normal(&r, no, 1.0);
        c.out = xmalloc(sizeof(float) * no);
        c.ws = xmalloc(sizeof(float) * be->conv2d_workspace_floats(&c.s));
        float *din = alloc_fill(ni, GRAD_PREFILL), *dw = alloc_fill(nw, GRAD_PREFILL);
        conv_loss(&c);
        be->conv2d_backward(din, dw, c.R, c.in, c.w, &c.s, c.ws);
        FdModel m = {.forward = conv_loss, .ctx = &c};
        fd_check("conv2d din", &m, c.in, din, ni);
        fd_check("conv2d dweight", &m, c.w, dw, nw);
        free(c.in), free(c.w), free(c.R), free(c.out), free(c.ws), free(din), free(dw);
    }
}

typedef struct {
    BnShape s;
    BnMode mode;
    float *in, *gamma, *beta, *rm, *rv, *mean, *rstd, *out, *R;
} BnCtx;

static double bn_loss(void *p)
{
    BnCtx *b = p;
    be->batchnorm_forward(b->out, b->mean, b->rstd, b->in, b->gamma, b->beta, b->rm, b->rv, &b->s,
                          b->mode);
    return dot_d(b->out, b->R, (size_t)b->s.N * b->s.C * b->s.HW);
}

static uint64_t bn_kinks(void *p)
{
    BnCtx *b = p;
    return hash_mask(1469598103934665603ull, b->out, (size_t)b->s.N * b->s.C * b->s.HW);
}

/* relu = 1: the BN with its fused ReLU (batchnorm_forward's s->relu). */
static void bn_fd_case(int N, int C, int HW, int groups, BnMode mode, int relu)
{
    Rng r;
    rng_init(&r, 2, RNG_STREAM_DATA, (uint64_t)groups, (uint64_t)mode);
    BnCtx b = {.s = {.N = N,
                     .C = C,
                     .HW = HW,
                     .groups = groups,
                     .eps = 1e-5f,
                     .momentum = 0.1f,
                     .relu = relu},
               .mode = mode};
    size_t n = (size_t)N * C * HW;
    b.in = alloc_normal(&r, n, 1.0);
    for (size_t i = 0; i < n; i++)
        b.in[i] += (float)(i % C); /* channel offsets */
    b.gamma = alloc_normal(&r, C, 0.3);
    b.beta = alloc_normal(&r, C, 0.3);
    for (int c = 0; c < C; c++)
        b.gamma[c] += 1.0f;
    b.rm = alloc_normal(&r, C, 0.5);
    b.rv = alloc_fill(C, 1.5f);
    b.mean = xmalloc(sizeof(float) * groups * C);
    b.rstd = xmalloc(sizeof(float) * groups * C);
    b.out = xmalloc(sizeof(float) * n);
    b.R = alloc_normal(&r, n, 1.0);
    float *din = alloc_fill(n, GRAD_PREFILL), *dg = alloc_fill(C, GRAD_PREFILL);
    float *db = alloc_fill(C, GRAD_PREFILL);
    bn_loss(&b);
    be->batchnorm_backward(din, dg, db, b.R, b.in, b.mean, b.rstd, b.gamma, b.out, &b.s, mode);
    FdModel m = {.forward = bn_loss, .kinks = relu ? bn_kinks : NULL, .ctx = &b};
    fd_check("batchnorm din", &m, b.in, din, n);
    fd_check("batchnorm dgamma", &m, b.gamma, dg, C);
    fd_check("batchnorm dbeta", &m, b.beta, db, C);
    free(b.in), free(b.gamma), free(b.beta), free(b.rm), free(b.rv), free(b.mean), free(b.rstd);
    free(b.out), free(b.R), free(din), free(dg), free(db);
}

static void test_fd_batchnorm(void **state)
{
    (void)state;
    for (int relu = 0; relu <= 1; relu++) {
        bn_fd_case(4, 3, 6, 1, BN_TRAIN, relu);
        bn_fd_case(4, 3, 6, 2, BN_TRAIN, relu);
        bn_fd_case(8, 5, 1, 1, BN_TRAIN, relu); /* 1d */
        bn_fd_case(8, 5, 1, 2, BN_TRAIN, relu);
        bn_fd_case(3, 4, 5, 1, BN_EVAL, relu);
    }
}

/* The fused BN+ReLU (s.relu = 1) gives the same bits as BN, then relu_forward / relu_backward
 * into a zeroed buffer, then the BN backward: forward output, din, dgamma and dbeta, in train (2
 * groups, a plane length that is not a multiple of 8) and eval mode. */
static void test_bn_relu_fused_bitwise(void **state)
{
    (void)state;
    const int N = 6, C = 5, HW = 13, G = 2;
    const size_t n = (size_t)N * C * HW;
    for (int mode = BN_TRAIN; mode <= BN_EVAL; mode++) {
        Rng r;
        rng_init(&r, 7, RNG_STREAM_DATA, (uint64_t)mode, 0);
        float *in = alloc_normal(&r, n, 1.0), *dout = alloc_normal(&r, n, 1.0);
        float *gamma = alloc_normal(&r, C, 0.5), *beta = alloc_normal(&r, C, 0.5);
        float *rm[2] = {alloc_fill(C, 0.1f), alloc_fill(C, 0.1f)};
        float *rv[2] = {alloc_fill(C, 1.2f), alloc_fill(C, 1.2f)};
        float *mean[2], *rstd[2], *out[2], *din[2], *dg[2], *db[2];
        for (int k = 0; k < 2; k++) {
            mean[k] = xmalloc(sizeof(float) * G * C), rstd[k] = xmalloc(sizeof(float) * G * C);
            out[k] = xmalloc(sizeof(float) * n);
            din[k] = alloc_fill(n, GRAD_PREFILL), dg[k] = alloc_fill(C, GRAD_PREFILL);
            db[k] = alloc_fill(C, GRAD_PREFILL);
        }
        BnShape plain = {.N = N, .C = C, .HW = HW, .groups = G, .eps = 1e-5f, .momentum = 0.1f};
        BnShape fused = plain;
        fused.relu = 1;
        /* separate: BN, relu in place; relu_backward into zeros, BN backward */
        be->batchnorm_forward(out[0], mean[0], rstd[0], in, gamma, beta, rm[0], rv[0], &plain,
                              mode);
        be->relu_forward(out[0], out[0], n);
        float *dbn = alloc_fill(n, 0.0f);
        be->relu_backward(dbn, dout, out[0], n);
        be->batchnorm_backward(din[0], dg[0], db[0], dbn, in, mean[0], rstd[0], gamma, NULL, &plain,
                               mode);
        /* fused */
        be->batchnorm_forward(out[1], mean[1], rstd[1], in, gamma, beta, rm[1], rv[1], &fused,
                              mode);
        be->batchnorm_backward(din[1], dg[1], db[1], dout, in, mean[1], rstd[1], gamma, out[1],
                               &fused, mode);
        assert_memory_equal(out[0], out[1], n * sizeof(float));
        assert_memory_equal(din[0], din[1], n * sizeof(float));
        /* din_set: din written, not read (NaN in it must not matter), = din accumulated onto 0 */
        float *dset = alloc_fill(n, NAN), *dacc = alloc_fill(n, 0.0f);
        float *dgs = alloc_fill(C, 0.0f), *dbs = alloc_fill(C, 0.0f);
        BnShape set = fused;
        set.din_set = 1;
        be->batchnorm_backward(dset, dgs, dbs, dout, in, mean[1], rstd[1], gamma, out[1], &set,
                               mode);
        be->batchnorm_backward(dacc, dgs, dbs, dout, in, mean[1], rstd[1], gamma, out[1], &fused,
                               mode);
        for (size_t i = 0; i < n;
             i++) /* == : 0 + (-0) is +0, so only the sign of a zero may differ */
            if (!(dset[i] == dacc[i]))
                fail_msg("din_set: element %zu: %g != %g", i, dset[i], dacc[i]);
        free(dset), free(dacc), free(dgs), free(dbs);
        assert_memory_equal(dg[0], dg[1], C * sizeof(float));
        assert_memory_equal(db[0], db[1], C * sizeof(float));
        assert_memory_equal(rm[0], rm[1], C * sizeof(float));
        assert_memory_equal(rv[0], rv[1], C * sizeof(float));
        size_t zeros = 0;
        for (size_t i = 0; i < n; i++)
            zeros += out[1][i] == 0.0f;
        assert_true(zeros > n / 4 && zeros < 3 * n / 4); /* the ReLU did gate about half */
        free(in), free(dout), free(gamma), free(beta), free(dbn);
        for (int k = 0; k < 2; k++) {
            free(rm[k]), free(rv[k]), free(mean[k]), free(rstd[k]), free(out[k]), free(din[k]);
            free(dg[k]), free(db[k]);
        }
    }
}

/* add_relu_forward/backward = add_forward + relu_forward, relu_backward into zeros + add_inplace
 * twice, bit for bit; set_a/set_b overwrite (NaN before must not matter), else accumulate. (Written
 * over, a gradient can be -0 where the sum onto zeros gives +0: no other difference.) */
static void test_add_relu_fused_bitwise(void **state)
{
    (void)state;
    const size_t n = 1000;
    Rng r;
    rng_init(&r, 9, RNG_STREAM_DATA, 0, 0);
    float *a = alloc_normal(&r, n, 1.0), *b = alloc_normal(&r, n, 1.0);
    float *dout = alloc_normal(&r, n, 1.0), *y0 = xmalloc(n * sizeof(float));
    float *y1 = xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        y0[i] = a[i] + b[i];
    be->relu_forward(y0, y0, n);
    be->add_relu_forward(y1, a, b, n);
    assert_memory_equal(y0, y1, n * sizeof(float));
    for (int set = 0; set <= 1; set++) {
        float *ref_a = alloc_fill(n, set ? 0.0f : 0.5f), *ref_b = alloc_fill(n, set ? 0.0f : -2.0f);
        float *da = alloc_fill(n, set ? NAN : 0.5f), *db = alloc_fill(n, set ? NAN : -2.0f);
        float *g = alloc_fill(n, 0.0f);
        be->relu_backward(g, dout, y0, n);
        be->add_inplace(ref_a, g, n);
        be->add_inplace(ref_b, g, n);
        be->add_relu_backward(da, db, dout, y1, n, set, set);
        assert_memory_equal(da, ref_a, n * sizeof(float));
        assert_memory_equal(db, ref_b, n * sizeof(float));
        free(ref_a), free(ref_b), free(da), free(db), free(g);
    }
    free(a), free(b), free(dout), free(y0), free(y1);
}

/* ---- (c) optimised conv against its naive twin ---- */

static void conv_vs_naive(ConvShape s, Rng *r)
{
    assert_int_equal(conv2d_shape(&s), 0);
    size_t ni = (size_t)s.N * s.C_in * s.H * s.W, nw = (size_t)s.C_out * s.C_in * s.KH * s.KW;
    size_t no = (size_t)s.N * s.C_out * s.H_out * s.W_out;
    float *in = alloc_normal(r, ni, 1.0), *w = alloc_normal(r, nw, 1.0);
    float *dout = alloc_normal(r, no, 1.0);
    float *o1 = xmalloc(sizeof(float) * no), *o2 = xmalloc(sizeof(float) * no);
    float *ws = xmalloc(sizeof(float) * be->conv2d_workspace_floats(&s));
    /* both gradients start from the same non-zero values: accumulation is compared too */
    float *di1 = alloc_normal(r, ni, 1.0), *dw1 = alloc_normal(r, nw, 1.0);
    float *di2 = xmalloc(sizeof(float) * ni), *dw2 = xmalloc(sizeof(float) * nw);
    memcpy(di2, di1, sizeof(float) * ni);
    memcpy(dw2, dw1, sizeof(float) * nw);
    float *dw0 = xmalloc(sizeof(float) * nw);
    memcpy(dw0, dw1, sizeof(float) * nw);
    be->conv2d_forward(o1, in, w, &s, ws);
    ref->conv2d_forward(o2, in, w, &s, NULL);
    be->conv2d_backward(di1, dw1, dout, in, w, &s, ws);
    ref->conv2d_backward(di2, dw2, dout, in, w, &s, NULL);
    char what[160];
    snprintf(what, sizeof what, "conv N%d C%d %dx%d -> C%d k%dx%d s%d p%d", s.N, s.C_in, s.H, s.W,
             s.C_out, s.KH, s.KW, s.stride, s.pad);
    /* float32 sums of up to C_in*KH*KW (fwd) or N*HWo (dW) products vs double: 1e-5 relative */
    ASSERT_CLOSE(what, o1, o2, no, 1e-5);
    ASSERT_CLOSE(what, di1, di2, ni, 1e-5);
    ASSERT_CLOSE(what, dw1, dw2, nw, 1e-5);
    /* din NULL skips the input gradient and still produces dweight */
    float *dw3 = alloc_fill(nw, 0.0f);
    be->conv2d_backward(NULL, dw3, dout, in, w, &s, ws);
    for (size_t i = 0; i < nw; i++)
        dw2[i] -= dw0[i]; /* the naive gradient alone */
    ASSERT_CLOSE(what, dw3, dw2, nw, 1e-5);
    free(in), free(w), free(dout), free(o1), free(o2), free(ws), free(di1), free(dw1), free(di2);
    free(dw2), free(dw3), free(dw0);
}

static void test_conv_vs_naive(void **state)
{
    (void)state;
    static const ConvShape shapes[] = {
        {.N = 2, .C_in = 3, .H = 9, .W = 7, .C_out = 5, .KH = 3, .KW = 3, .stride = 1, .pad = 1},
        {.N = 3, .C_in = 4, .H = 11, .W = 13, .C_out = 6, .KH = 3, .KW = 3, .stride = 2, .pad = 1},
        {.N = 2, .C_in = 1, .H = 15, .W = 14, .C_out = 4, .KH = 7, .KW = 7, .stride = 2, .pad = 3},
        {.N = 3, .C_in = 6, .H = 5, .W = 7, .C_out = 4, .KH = 1, .KW = 1, .stride = 1, .pad = 0},
        {.N = 2, .C_in = 6, .H = 9, .W = 9, .C_out = 5, .KH = 1, .KW = 1, .stride = 2, .pad = 0},
        {.N = 2, .C_in = 2, .H = 6, .W = 5, .C_out = 3, .KH = 3, .KW = 2, .stride = 3, .pad = 2},
        {.N = 2, .C_in = 1, .H = 28, .W = 28, .C_out = 8, .KH = 3, .KW = 3, .stride = 1, .pad = 1},
        /* several images per GEMM chunk, then a short remainder chunk (with 1024 target columns:
         * 10x10 outputs -> 11 images per chunk, so 11 + 1 and 11 + 2; 2x2 -> 256 + 1) */
        {.N = 12, .C_in = 3, .H = 10, .W = 10, .C_out = 4, .KH = 3, .KW = 3, .stride = 1, .pad = 1},
        {.N = 13, .C_in = 5, .H = 10, .W = 10, .C_out = 4, .KH = 1, .KW = 1, .stride = 1, .pad = 0},
        {.N = 12, .C_in = 5, .H = 10, .W = 10, .C_out = 4, .KH = 1, .KW = 1, .stride = 1, .pad = 0},
        {.N = 257, .C_in = 2, .H = 3, .W = 4, .C_out = 3, .KH = 3, .KW = 3, .stride = 2, .pad = 1},
        {.N = 1, .C_in = 2, .H = 3, .W = 3, .C_out = 2, .KH = 3, .KW = 3, .stride = 1, .pad = 0},
    };
    Rng r;
    rng_init(&r, 6, RNG_STREAM_DATA, 0, 0);
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++)
        conv_vs_naive(shapes[k], &r);
}

/* ---- (d) golden values from PyTorch (tests/gen_golden_nn.py): tolerances in nn_fd.h ---- */

static void golden_conv(const StFile *f, const char *name, ConvShape s)
{
    assert_int_equal(conv2d_shape(&s), 0);
    size_t ni = (size_t)s.N * s.C_in * s.H * s.W, nw = (size_t)s.C_out * s.C_in * s.KH * s.KW;
    size_t no = (size_t)s.N * s.C_out * s.H_out * s.W_out;
    float *out = xmalloc(sizeof(float) * no), *din = alloc_fill(ni, 0.0f);
    float *dw = alloc_fill(nw, 0.0f),
          *ws = xmalloc(sizeof(float) * be->conv2d_workspace_floats(&s));
    const float *in = gold(f, name, "in", ni), *w = gold(f, name, "weight", nw);
    const float *dout = gold(f, name, "dout", no);
    be->conv2d_forward(out, in, w, &s, ws);
    be->conv2d_backward(din, dw, dout, in, w, &s, ws);
    ASSERT_CLOSE(name, out, gold(f, name, "out", no), no, TOL_GOLD);
    ASSERT_CLOSE(name, din, gold(f, name, "din", ni), ni, TOL_GOLD);
    ASSERT_CLOSE(name, dw, gold(f, name, "dweight", nw), nw, TOL_GOLD);
    free(out), free(din), free(dw), free(ws);
}

static void golden_bn(const StFile *f, const char *name, BnShape s, BnMode mode)
{
    const int C = s.C;
    size_t n = (size_t)s.N * C * s.HW;
    float *out = xmalloc(sizeof(float) * n), *din = alloc_fill(n, 0.0f);
    float *dg = alloc_fill(C, 0.0f), *db = alloc_fill(C, 0.0f);
    float *mean = xmalloc(sizeof(float) * s.groups * C),
          *rstd = xmalloc(sizeof(float) * s.groups * C);
    float *rm = xmalloc(sizeof(float) * C), *rv = xmalloc(sizeof(float) * C);
    memcpy(rm, gold(f, name, "running_mean0", C), sizeof(float) * C);
    memcpy(rv, gold(f, name, "running_var0", C), sizeof(float) * C);
    const float *in = gold(f, name, "in", n), *gamma = gold(f, name, "gamma", C);
    be->batchnorm_forward(out, mean, rstd, in, gamma, gold(f, name, "beta", C), rm, rv, &s, mode);
    be->batchnorm_backward(din, dg, db, gold(f, name, "dout", n), in, mean, rstd, gamma, NULL, &s,
                           mode);
    ASSERT_CLOSE(name, out, gold(f, name, "out", n), n, TOL_GOLD);
    ASSERT_CLOSE(name, din, gold(f, name, "din", n), n, TOL_GOLD_BN_DIN);
    ASSERT_CLOSE(name, dg, gold(f, name, "dgamma", C), (size_t)C, TOL_GOLD);
    ASSERT_CLOSE(name, db, gold(f, name, "dbeta", C), (size_t)C, TOL_GOLD);
    ASSERT_CLOSE(name, rm, gold(f, name, "running_mean", C), (size_t)C, TOL_GOLD);
    ASSERT_CLOSE(name, rv, gold(f, name, "running_var", C), (size_t)C, TOL_GOLD);
    free(out), free(din), free(dg), free(db), free(mean), free(rstd), free(rm), free(rv);
}

static void test_golden_conv_bn(void **state)
{
    (void)state;
    StFile f;
    fixture_open(&f, "nn_layers.safetensors");
    /* mirrors CONVS in tests/gen_golden_nn.py */
    golden_conv(&f, "conv_a",
                (ConvShape){.N = 2,
                            .C_in = 3,
                            .H = 7,
                            .W = 6,
                            .C_out = 4,
                            .KH = 3,
                            .KW = 3,
                            .stride = 1,
                            .pad = 1});
    golden_conv(&f, "conv_b",
                (ConvShape){.N = 2,
                            .C_in = 3,
                            .H = 9,
                            .W = 8,
                            .C_out = 5,
                            .KH = 3,
                            .KW = 3,
                            .stride = 2,
                            .pad = 1});
    golden_conv(&f, "conv_c",
                (ConvShape){.N = 1,
                            .C_in = 1,
                            .H = 11,
                            .W = 10,
                            .C_out = 3,
                            .KH = 7,
                            .KW = 7,
                            .stride = 2,
                            .pad = 3});
    golden_conv(&f, "conv_d",
                (ConvShape){.N = 2,
                            .C_in = 4,
                            .H = 5,
                            .W = 5,
                            .C_out = 6,
                            .KH = 1,
                            .KW = 1,
                            .stride = 2,
                            .pad = 0});
    golden_conv(&f, "conv_e",
                (ConvShape){.N = 3,
                            .C_in = 8,
                            .H = 4,
                            .W = 4,
                            .C_out = 5,
                            .KH = 1,
                            .KW = 1,
                            .stride = 1,
                            .pad = 0});
    /* mirrors BNS */
    const BnShape bn = {.eps = 1e-5f, .momentum = 0.1f};
    BnShape s = bn;
    s.N = 4, s.C = 3, s.HW = 6, s.groups = 1;
    golden_bn(&f, "bn_g1", s, BN_TRAIN);
    s.groups = 2;
    golden_bn(&f, "bn_g2", s, BN_TRAIN);
    s = bn, s.N = 6, s.C = 5, s.HW = 1, s.groups = 1;
    golden_bn(&f, "bn_1d", s, BN_TRAIN);
    s = bn, s.N = 3, s.C = 4, s.HW = 4, s.groups = 1;
    golden_bn(&f, "bn_eval", s, BN_EVAL);
    st_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fd_conv2d),
        cmocka_unit_test(test_fd_batchnorm),
        cmocka_unit_test(test_bn_relu_fused_bitwise),
        cmocka_unit_test(test_add_relu_fused_bitwise),
        cmocka_unit_test(test_conv_vs_naive),
        cmocka_unit_test(test_golden_conv_bn),
    };
    return nn_run_groups("conv_bn", tests, sizeof tests / sizeof tests[0], &be, &ref);
}

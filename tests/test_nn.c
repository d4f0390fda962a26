/* test_nn.c — the layers of core/nn: finite-difference gradients of every layer and of whole ResNet
 * blocks, optimised conv vs its naive twin, PyTorch golden values, the GEMM convention, shape
 * errors and the backend table.
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
#include "tests/test_util.h"

#include <stdint.h>

#include "core/backend/backend.h"
#include "core/common.h"
#include "core/nn/nn.h"
#include "core/rng.h"

/* The backend under test and the reference. The layer tests here hand NCHW buffers to the ops,
 * so they run on the NCHW tables: "cpu-im2col", then "cpu-ref"; the channels-last "cpu" table is
 * held against "cpu-ref" by tests/test_backend_parity.c, which converts layouts. */
static const Backend *be, *ref;

#define FD_EPS 1e-2f
#define FD_EPS_BLOCK 1e-3f
#define FD_TOL_LAYER 1e-3
#define FD_TOL_BLOCK 1e-2
#define FD_MAX_SKIP 0.05
#define GRAD_PREFILL 2.0f

static void fill_normal(Rng *r, float *x, size_t n, double scale)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(scale * rng_normal(r));
}

static float *alloc_normal(Rng *r, size_t n, double scale)
{
    float *x = xmalloc(sizeof(float) * (n ? n : 1));
    fill_normal(r, x, n, scale);
    return x;
}

static float *alloc_fill(size_t n, float v)
{
    float *x = xmalloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++)
        x[i] = v;
    return x;
}

static double dot_d(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

/* ---- the finite-difference driver ---- */

/* A model under test: forward() recomputes everything from the current parameters and returns
 * L = Σ out·R; kinks() returns a signature of every relu sign and max-pool argmax (0 if none). */
typedef struct {
    double (*forward)(void *ctx);
    uint64_t (*kinks)(void *ctx);
    void *ctx;
} FdModel;

static uint64_t hash_mask(uint64_t h, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint64_t)(x[i] > 0.0f)) * 1099511628211ull + i;
    return h;
}

/* Compares grad - GRAD_PREFILL with central differences of L (step eps) in every element of param.
 * When one side crosses a kink the one-sided difference of the other side is used (truncation error
 * O(eps) instead of O(eps²)); when both do, the point is skipped. */
static void fd_check_eps(const char *what, FdModel *m, float *param, const float *grad, size_t n,
                         float eps, double tol)
{
    float *fd = xmalloc(sizeof(float) * n), *an = xmalloc(sizeof(float) * n);
    const double l0 = m->forward(m->ctx);
    const uint64_t base = m->kinks ? m->kinks(m->ctx) : 0;
    size_t skipped = 0;
    for (size_t i = 0; i < n; i++) {
        an[i] = grad[i] - GRAD_PREFILL;
        const float p0 = param[i], hp = p0 + eps, hm = p0 - eps;
        param[i] = hp;
        double lp = m->forward(m->ctx);
        int ok_p = !m->kinks || m->kinks(m->ctx) == base;
        param[i] = hm;
        double lm = m->forward(m->ctx);
        int ok_m = !m->kinks || m->kinks(m->ctx) == base;
        param[i] = p0;
        if (ok_p && ok_m) {
            fd[i] = (float)((lp - lm) / ((double)hp - hm));
        } else if (ok_p) {
            fd[i] = (float)((lp - l0) / ((double)hp - p0));
        } else if (ok_m) {
            fd[i] = (float)((l0 - lm) / ((double)p0 - hm));
        } else { /* both sides cross a kink: no derivative to compare with */
            fd[i] = an[i];
            skipped++;
        }
    }
    m->forward(m->ctx); /* leave the model's buffers as they were */
    double e = rel_err(an, fd, n, 1e-3);
    if (getenv("CLFT_TEST_VERBOSE"))
        printf("  %-32s n=%4zu FD rel err %.2e, skipped %zu\n", what, n, e, skipped);
    if (!(e <= tol)) fail_msg("%s: FD relative error %.3g > %.3g", what, e, tol);
    if (skipped > FD_MAX_SKIP * n + 1)
        fail_msg("%s: %zu of %zu FD points crossed a kink on both sides", what, skipped, n);
    free(fd);
    free(an);
}

static void fd_check(const char *what, FdModel *m, float *param, const float *grad, size_t n)
{
    fd_check_eps(what, m, param, grad, n, FD_EPS, FD_TOL_LAYER);
}

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
    BnCtx b = {.s = {.N = N, .C = C, .HW = HW, .groups = groups, .eps = 1e-5f, .momentum = 0.1f,
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
        be->batchnorm_forward(out[0], mean[0], rstd[0], in, gamma, beta, rm[0], rv[0], &plain, mode);
        be->relu_forward(out[0], out[0], n);
        float *dbn = alloc_fill(n, 0.0f);
        be->relu_backward(dbn, dout, out[0], n);
        be->batchnorm_backward(din[0], dg[0], db[0], dbn, in, mean[0], rstd[0], gamma, NULL, &plain,
                           mode);
        /* fused */
        be->batchnorm_forward(out[1], mean[1], rstd[1], in, gamma, beta, rm[1], rv[1], &fused, mode);
        be->batchnorm_backward(din[1], dg[1], db[1], dout, in, mean[1], rstd[1], gamma, out[1], &fused,
                           mode);
        assert_memory_equal(out[0], out[1], n * sizeof(float));
        assert_memory_equal(din[0], din[1], n * sizeof(float));
        /* din_set: din written, not read (NaN in it must not matter), = din accumulated onto 0 */
        float *dset = alloc_fill(n, NAN), *dacc = alloc_fill(n, 0.0f);
        float *dgs = alloc_fill(C, 0.0f), *dbs = alloc_fill(C, 0.0f);
        BnShape set = fused;
        set.din_set = 1;
        be->batchnorm_backward(dset, dgs, dbs, dout, in, mean[1], rstd[1], gamma, out[1], &set, mode);
        be->batchnorm_backward(dacc, dgs, dbs, dout, in, mean[1], rstd[1], gamma, out[1], &fused, mode);
        for (size_t i = 0; i < n; i++) /* == : 0 + (-0) is +0, so only the sign of a zero may differ */
            if (!(dset[i] == dacc[i])) fail_msg("din_set: element %zu: %g != %g", i, dset[i], dacc[i]);
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
    for (size_t i = 0; i < n; i++) y0[i] = a[i] + b[i];
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

/* ---- (b) whole ResNet blocks composed from the layer calls ---- */

typedef enum { UNIT_LINEAR, UNIT_RELU } UnitAct;

/* conv -> BN (train) -> optional relu, with its own parameters, gradients and activations. */
typedef struct {
    ConvShape cs;
    BnShape bs;
    UnitAct act;
    float *w, *gamma, *beta, *rm, *rv;    /* parameters and running statistics */
    float *dw, *dgamma, *dbeta;           /* gradients */
    float *conv, *out, *mean, *rstd, *ws; /* activations (N, C_out, H_out, W_out), saves */
    float *dconv, *dbn;                   /* backward scratch, same shape as out */
    size_t n_out;
} Unit;

static void unit_init(Unit *u, Rng *r, int N, int C_in, int H, int C_out, int k, int stride,
                      UnitAct act)
{
    *u = (Unit){.cs = {.N = N,
                       .C_in = C_in,
                       .H = H,
                       .W = H,
                       .C_out = C_out,
                       .KH = k,
                       .KW = k,
                       .stride = stride,
                       .pad = k / 2},
                .act = act};
    ASSERT(conv2d_shape(&u->cs) == 0);
    u->bs = (BnShape){.N = N,
                      .C = C_out,
                      .HW = u->cs.H_out * u->cs.W_out,
                      .groups = 1,
                      .eps = 1e-5f,
                      .momentum = 0.1f};
    size_t nw = (size_t)C_out * C_in * k * k;
    u->n_out = (size_t)N * C_out * u->bs.HW;
    u->w = alloc_normal(r, nw, 1.0 / sqrt((double)C_in * k * k));
    u->gamma = alloc_normal(r, C_out, 0.2);
    for (int c = 0; c < C_out; c++)
        u->gamma[c] += 1.0f;
    u->beta = alloc_normal(r, C_out, 0.2);
    u->rm = alloc_fill(C_out, 0.0f);
    u->rv = alloc_fill(C_out, 1.0f);
    u->dw = alloc_fill(nw, GRAD_PREFILL);
    u->dgamma = alloc_fill(C_out, GRAD_PREFILL);
    u->dbeta = alloc_fill(C_out, GRAD_PREFILL);
    u->conv = xmalloc(sizeof(float) * u->n_out);
    u->out = xmalloc(sizeof(float) * u->n_out);
    u->dconv = xmalloc(sizeof(float) * u->n_out);
    u->dbn = xmalloc(sizeof(float) * u->n_out);
    u->mean = xmalloc(sizeof(float) * C_out);
    u->rstd = xmalloc(sizeof(float) * C_out);
    u->ws = xmalloc(sizeof(float) * be->conv2d_workspace_floats(&u->cs));
}

static void unit_free(Unit *u)
{
    free(u->w), free(u->gamma), free(u->beta), free(u->rm), free(u->rv), free(u->dw);
    free(u->dgamma), free(u->dbeta), free(u->conv), free(u->out), free(u->dconv), free(u->dbn);
    free(u->mean), free(u->rstd), free(u->ws);
}

static void unit_forward(Unit *u, const float *in)
{
    be->conv2d_forward(u->conv, in, u->w, &u->cs, u->ws);
    be->batchnorm_forward(u->out, u->mean, u->rstd, u->conv, u->gamma, u->beta, u->rm, u->rv,
                          &u->bs, BN_TRAIN);
    if (u->act == UNIT_RELU) be->relu_forward(u->out, u->out, u->n_out);
}

/* dout: gradient of L w.r.t. u->out; din (or NULL) accumulates the input's gradient. */
static void unit_backward(Unit *u, float *din, const float *dout, const float *in)
{
    const float *dbn = dout;
    if (u->act == UNIT_RELU) {
        memset(u->dbn, 0, sizeof(float) * u->n_out);
        be->relu_backward(u->dbn, dout, u->out, u->n_out);
        dbn = u->dbn;
    }
    memset(u->dconv, 0, sizeof(float) * u->n_out);
    be->batchnorm_backward(u->dconv, u->dgamma, u->dbeta, dbn, u->conv, u->mean, u->rstd, u->gamma,
                           NULL, &u->bs, BN_TRAIN);
    be->conv2d_backward(din, u->dw, u->dconv, in, u->w, &u->cs, u->ws);
}

/* A residual block: units[0..n_units) in a chain, an optional downsample unit on the shortcut,
 * out = relu(chain(x) + shortcut(x)). Basic: 3x3-3x3; bottleneck: 1x1-3x3-1x1. */
typedef struct {
    int n_units, has_ds;
    Unit units[3], ds;
    float *x, *R, *out, *dsum, *dmid; /* x (N,C,H,W); out, dsum (N,C',H',W'); dmid scratch */
    size_t n_in, half; /* half: floats of each of dmid's two halves (the largest unit output) */
} Block;

static double block_loss(void *p)
{
    Block *b = p;
    const float *h = b->x;
    for (int i = 0; i < b->n_units; i++) {
        unit_forward(&b->units[i], h);
        h = b->units[i].out;
    }
    Unit *last = &b->units[b->n_units - 1];
    memcpy(b->out, last->out, sizeof(float) * last->n_out);
    if (b->has_ds) {
        unit_forward(&b->ds, b->x);
        be->add_inplace(b->out, b->ds.out, last->n_out);
    } else {
        be->add_inplace(b->out, b->x, last->n_out);
    }
    be->relu_forward(b->out, b->out, last->n_out);
    return dot_d(b->out, b->R, last->n_out);
}

static uint64_t block_kinks(void *p)
{
    Block *b = p;
    uint64_t h = hash_mask(1, b->out, b->units[b->n_units - 1].n_out);
    for (int i = 0; i < b->n_units; i++)
        if (b->units[i].act == UNIT_RELU) h = hash_mask(h, b->units[i].out, b->units[i].n_out);
    return h;
}

static void block_backward(Block *b, float *din)
{
    Unit *last = &b->units[b->n_units - 1];
    memset(b->dsum, 0, sizeof(float) * last->n_out);
    be->relu_backward(b->dsum, b->R, b->out, last->n_out);
    const float *dh = b->dsum;
    for (int i = b->n_units - 1; i >= 0; i--) {
        float *dprev = din; /* the gradient of unit i's input */
        if (i > 0) {
            dprev = b->dmid + (size_t)(i % 2) * b->half; /* alternate halves */
            memset(dprev, 0, sizeof(float) * b->units[i - 1].n_out);
        }
        unit_backward(&b->units[i], dprev, dh, i > 0 ? b->units[i - 1].out : b->x);
        dh = dprev;
    }
    if (b->has_ds)
        unit_backward(&b->ds, din, b->dsum, b->x);
    else
        be->add_inplace(din, b->dsum, last->n_out);
}

static void block_check(const char *name, const char *what, int unit, FdModel *m, float *param,
                        const float *grad, size_t n)
{
    char buf[96];
    if (unit >= 0)
        snprintf(buf, sizeof buf, "%s unit %d %s", name, unit, what);
    else
        snprintf(buf, sizeof buf, "%s %s", name, what);
    fd_check_eps(buf, m, param, grad, n, FD_EPS_BLOCK, FD_TOL_BLOCK);
}

static void block_fd(Block *b, const char *name, Rng *r, int N, int C, int H)
{
    b->n_in = (size_t)N * C * H * H;
    size_t n_out = b->units[b->n_units - 1].n_out;
    b->x = alloc_normal(r, b->n_in, 1.0);
    b->R = alloc_normal(r, n_out, 1.0);
    b->out = xmalloc(sizeof(float) * n_out);
    b->dsum = xmalloc(sizeof(float) * n_out);
    b->half = 0;
    for (int i = 0; i < b->n_units; i++)
        if (b->units[i].n_out > b->half) b->half = b->units[i].n_out;
    b->dmid = xmalloc(sizeof(float) * 2 * b->half);
    float *din = alloc_fill(b->n_in, GRAD_PREFILL);
    block_loss(b);
    block_backward(b, din);
    FdModel m = {.forward = block_loss, .kinks = block_kinks, .ctx = b};
    block_check(name, "din", -1, &m, b->x, din, b->n_in);
    for (int i = 0; i <= b->n_units; i++) {
        Unit *u = i < b->n_units ? &b->units[i] : &b->ds;
        if (i == b->n_units && !b->has_ds) break;
        size_t nw = (size_t)u->cs.C_out * u->cs.C_in * u->cs.KH * u->cs.KW;
        block_check(name, "dweight", i, &m, u->w, u->dw, nw);
        block_check(name, "dgamma", i, &m, u->gamma, u->dgamma, (size_t)u->cs.C_out);
        block_check(name, "dbeta", i, &m, u->beta, u->dbeta, (size_t)u->cs.C_out);
    }
    for (int i = 0; i < b->n_units; i++)
        unit_free(&b->units[i]);
    if (b->has_ds) unit_free(&b->ds);
    free(b->x), free(b->R), free(b->out), free(b->dsum), free(b->dmid), free(din);
}

static void test_fd_basic_block(void **state)
{
    (void)state;
    Rng r;
    rng_init(&r, 4, RNG_STREAM_DATA, 0, 0);
    Block b = {.n_units = 2};
    unit_init(&b.units[0], &r, 2, 4, 6, 4, 3, 1, UNIT_RELU);
    unit_init(&b.units[1], &r, 2, 4, 6, 4, 3, 1, UNIT_LINEAR);
    block_fd(&b, "basic identity", &r, 2, 4, 6);

    Block d = {.n_units = 2, .has_ds = 1};
    unit_init(&d.units[0], &r, 2, 4, 7, 6, 3, 2, UNIT_RELU);
    unit_init(&d.units[1], &r, 2, 6, 4, 6, 3, 1, UNIT_LINEAR);
    unit_init(&d.ds, &r, 2, 4, 7, 6, 1, 2, UNIT_LINEAR);
    block_fd(&d, "basic downsample", &r, 2, 4, 7);
}

static void test_fd_bottleneck_block(void **state)
{
    (void)state;
    Rng r;
    rng_init(&r, 5, RNG_STREAM_DATA, 0, 0);
    Block b = {.n_units = 3, .has_ds = 1};
    unit_init(&b.units[0], &r, 2, 4, 6, 3, 1, 1, UNIT_RELU);
    unit_init(&b.units[1], &r, 2, 3, 6, 3, 3, 2, UNIT_RELU);
    unit_init(&b.units[2], &r, 2, 3, 3, 8, 1, 1, UNIT_LINEAR);
    unit_init(&b.ds, &r, 2, 4, 6, 8, 1, 2, UNIT_LINEAR);
    block_fd(&b, "bottleneck", &r, 2, 4, 6);
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

/* ---- (d) golden values from PyTorch (tests/gen_golden_nn.py) ----
 * Tolerances (rel_err, normalised by the reference's largest magnitude): the references are exact
 * (float64) answers rounded to float32, and clft computes in float32 with sums of ≤ 100 terms, so
 * outputs and weight/bias gradients must agree to TOL_GOLD = 1e-5 (≈ 100 float32 ulps). BN's input
 * gradient is a difference of three terms of similar size (dy - mean(dy) - x̂·mean(dy x̂)), which
 * can lose a digit to cancellation: TOL_GOLD_BN_DIN = 1e-4. Running statistics: 1e-5. */
#define TOL_GOLD 1e-5
#define TOL_GOLD_BN_DIN 1e-4

static const float *gold(const StFile *f, const char *layer, const char *key, size_t n)
{
    char name[96];
    snprintf(name, sizeof name, "%s.%s", layer, key);
    return fixture_f32(f, name, n);
}

static void golden_conv(const StFile *f, const char *name, ConvShape s)
{
    assert_int_equal(conv2d_shape(&s), 0);
    size_t ni = (size_t)s.N * s.C_in * s.H * s.W, nw = (size_t)s.C_out * s.C_in * s.KH * s.KW;
    size_t no = (size_t)s.N * s.C_out * s.H_out * s.W_out;
    float *out = xmalloc(sizeof(float) * no), *din = alloc_fill(ni, 0.0f);
    float *dw = alloc_fill(nw, 0.0f), *ws = xmalloc(sizeof(float) * be->conv2d_workspace_floats(&s));
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
    be->batchnorm_backward(din, dg, db, gold(f, name, "dout", n), in, mean, rstd, gamma, NULL, &s, mode);
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
    /* entries a backend may leave empty: pinned host memory and convolution plans */
    const size_t optional[] = {offsetof(Backend, host_alloc), offsetof(Backend, host_free),
                               offsetof(Backend, conv2d_plan), offsetof(Backend, conv2d_unplan),
                               offsetof(Backend, from_nchw)};
    for (const Backend *const *b = backend_all(); *b; b++) {
        if (!(*b)->host_memory) continue; /* a device table is checked by its own tests */
        for (size_t off = offsetof(Backend, alloc); off < sizeof(Backend); off += sizeof(void *)) {
            int opt = 0;
            for (size_t k = 0; k < sizeof optional / sizeof optional[0]; k++) opt |= off == optional[k];
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
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fd_conv2d),           cmocka_unit_test(test_fd_batchnorm),
        cmocka_unit_test(test_bn_relu_fused_bitwise), cmocka_unit_test(test_add_relu_fused_bitwise),
        cmocka_unit_test(test_fd_simple_layers),    cmocka_unit_test(test_fd_basic_block),
        cmocka_unit_test(test_fd_bottleneck_block), cmocka_unit_test(test_conv_vs_naive),
        cmocka_unit_test(test_golden_conv_bn),      cmocka_unit_test(test_golden_simple_layers),
        cmocka_unit_test(test_gemm_convention),     cmocka_unit_test(test_impossible_shapes),
        cmocka_unit_test(test_backend_table),
    };
    int failed = 0;
    ref = backend_find("cpu-ref");
    be = backend_find("cpu-im2col");
    failed += cmocka_run_group_tests_name("layers on cpu-im2col", tests, NULL, NULL);
    be = backend_find("cpu-ref");
    failed += cmocka_run_group_tests_name("layers on cpu-ref", tests, NULL, NULL);
    return failed;
}

/* test_nn_blocks.c — whole ResNet blocks (basic and bottleneck) composed from core/nn's layer
 * calls, their gradients against finite differences at FD_EPS_BLOCK / FD_TOL_BLOCK
 * (tests/nn_fd.h).
 */
#include "tests/nn_fd.h"

/* The backend under test and the reference (nn_run_groups: "cpu-im2col", then "cpu-ref"). */
static const Backend *be, *ref;

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fd_basic_block),
        cmocka_unit_test(test_fd_bottleneck_block),
    };
    return nn_run_groups("blocks", tests, sizeof tests / sizeof tests[0], &be, &ref);
}

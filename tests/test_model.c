/* test_model.c — the ResNet builder against PyTorch golden values (tests/gen_golden_resnet.py):
 * features, probe loss, every parameter gradient, BN running statistics, 3 SGD steps; and
 * parameter names/shapes against torchvision's resnet18/resnet50 state_dicts. The golden cases run
 * on both host backends ("cpu" and the reference "cpu-ref"). */
#include "tests/nn_fd.h"

#include "core/model/model.h"
#include "core/optim/optim.h"

/* Fixed linear probe + cross entropy on the features: returns the mean loss, writes dL/dfeat. */
static double probe_loss(const float *feat /* (N, F) */, const float *w /* (10, F) */,
                         const float *b /* (10) */, const float *labels, int N, int F,
                         float *dfeat /* (N, F) */)
{
    double loss = 0.0;
    memset(dfeat, 0, (size_t)N * F * sizeof(float));
    for (int n = 0; n < N; n++) {
        double z[10], mx = -INFINITY, sum = 0.0;
        for (int o = 0; o < 10; o++) {
            z[o] = b[o];
            for (int f = 0; f < F; f++) z[o] += (double)w[o * F + f] * feat[n * F + f];
            mx = fmax(mx, z[o]);
        }
        for (int o = 0; o < 10; o++) sum += exp(z[o] - mx);
        int y = (int)labels[n];
        loss += -(z[y] - mx - log(sum)) / N;
        for (int o = 0; o < 10; o++) {
            double dz = (exp(z[o] - mx) / sum - (o == y)) / N;
            for (int f = 0; f < F; f++) dfeat[n * F + f] += (float)(dz * w[o * F + f]);
        }
    }
    return loss;
}

static void load_prefixed(Model *m, const StFile *f, const char *prefix)
{
    for (int i = 0; i < m->n_params; i++) {
        char name[160];
        snprintf(name, sizeof name, "%s%s", prefix, m->params[i].name);
        const float *src = fixture_f32(f, name, m->params[i].numel);
        memcpy(m->param_arena.base + m->params[i].offset, src, m->params[i].numel * sizeof(float));
    }
}

static void compare_params(const Model *m, const float *base, const StFile *f, const char *prefix,
                           double tol)
{
    for (int i = 0; i < m->n_params; i++) {
        char name[160];
        snprintf(name, sizeof name, "%s%s", prefix, m->params[i].name);
        ASSERT_CLOSE(name, base + m->params[i].offset, fixture_f32(f, name, m->params[i].numel),
                     m->params[i].numel, tol);
    }
}

/* Each step starts from torch's parameters (see gen_golden_resnet.py for why) and keeps clft's own
 * momentum buffer. Tolerances: float32 forward through 20 layers differs from PyTorch's reduction
 * order at ~1e-6 relative (features 1e-5); gradients pass through BN's 1/σ and are compared at 2e-4
 * relative to the tensor's largest entry; the SGD update θ − lr·buf moves parameters by ~1e-2 of
 * their size, so a 2e-4 gradient error is ~1e-6 of the parameter (checked at 1e-5). */
static void golden_case(const Backend *be, const char *fixture, StemKind stem, int H)
{
    StFile f;
    fixture_open(&f, fixture);
    ModelConfig cfg = {.arch = ARCH_RESNET18, .stem = stem, .width = 4, .in_channels = 3,
                       .head = HEAD_NONE};
    ModelOptions opt = {.with_grads = 1, .bn_groups = 1};
    Model m;
    assert_int_equal(model_init(&m, be, &cfg, 4, 3, H, H, &opt), CLFT_OK);
    const int N = 4, F = m.feat_dim;
    const float *x = fixture_f32(&f, "x", (size_t)N * 3 * H * H);
    const float *pw = fixture_f32(&f, "probe.weight", 10 * (size_t)F);
    const float *pb = fixture_f32(&f, "probe.bias", 10);
    const float *labels = fixture_f32(&f, "labels", N);
    const float *losses = fixture_f32(&f, "losses", 3);
    float *dfeat = xmalloc((size_t)N * F * sizeof(float));
    float *buf = xcalloc(m.param_arena.cap, sizeof(float));
    SgdOptions sgd = {.lr = 0.05f, .momentum = 0.9f, .weight_decay = 1e-4f};
    for (int step = 0; step < 3; step++) {
        char prefix[8];
        snprintf(prefix, sizeof prefix, "p%d.", step);
        load_prefixed(&m, &f, prefix);
        model_zero_grads(&m);
        const float *feat = model_forward(&m, x, MODEL_TRAIN);
        double loss = probe_loss(feat, pw, pb, labels, N, F, dfeat);
        model_backward(&m, dfeat);
        if (fabs(loss - losses[step]) > 1e-5 * fmax(1.0, fabs(losses[step])))
            fail_msg("%s step %d: loss %.7f, torch %.7f", fixture, step, loss, losses[step]);
        if (step == 0) {
            ASSERT_CLOSE("features", feat, fixture_f32(&f, "features", (size_t)N * F),
                         (size_t)N * F, 1e-5);
            for (int i = 0; i < m.n_buffers; i++) {
                char name[160];
                snprintf(name, sizeof name, "b.%s", m.buffers[i].name);
                ASSERT_CLOSE(name, m.buffer_arena.base + m.buffers[i].offset,
                             fixture_f32(&f, name, m.buffers[i].numel), m.buffers[i].numel, 1e-5);
            }
        }
        snprintf(prefix, sizeof prefix, "g%d.", step);
        compare_params(&m, m.grad_arena.base, &f, prefix, 2e-4);
        be->sgd_step(m.param_arena.base, m.grad_arena.base, buf, m.param_arena.cap, &sgd);
        snprintf(prefix, sizeof prefix, "p%d.", step + 1);
        compare_params(&m, m.param_arena.base, &f, prefix, 1e-5);
    }
    free(dfeat);
    free(buf);
    model_free(&m);
    st_close(&f);
}

static void test_golden_small_stem(void **state)
{
    golden_case(test_backend(state), "resnet18w4_small.safetensors", STEM_SMALL, 32);
}

static void test_golden_imagenet_stem(void **state)
{
    golden_case(test_backend(state), "resnet18w4_imagenet.safetensors", STEM_IMAGENET, 64);
}

/* Every (name, shape) of torchvision's state_dict (fc and num_batches_tracked aside) is built. */
static void names_case(ResNetArch arch, const char *list)
{
    ModelConfig cfg = {.arch = arch, .stem = STEM_IMAGENET, .width = 64, .in_channels = 3,
                       .head = HEAD_NONE};
    ModelOptions opt = {.with_grads = 0, .bn_groups = 1};
    Model m;
    assert_int_equal(model_init(&m, backend_host(), &cfg, 1, 3, 32, 32, &opt), CLFT_OK);
    char path[256], line[256];
    snprintf(path, sizeof path, "tests/fixtures/%s", list);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    int count = 0;
    while (fgets(line, sizeof line, fp)) {
        char name[160], dims[64];
        assert_int_equal(sscanf(line, "%159s %63s", name, dims), 2);
        const NamedTensor *t = model_find_param(&m, name);
        if (!t) t = model_find_buffer(&m, name);
        if (!t) fail_msg("%s: torchvision tensor %s not in clft's model", list, name);
        char ours[64] = "";
        for (int d = 0; d < t->ndim; d++)
            snprintf(ours + strlen(ours), sizeof ours - strlen(ours), d ? ",%d" : "%d", t->shape[d]);
        if (strcmp(ours, dims)) fail_msg("%s: %s shape %s, torchvision %s", list, name, ours, dims);
        count++;
    }
    fclose(fp);
    assert_int_equal(count, m.n_params + m.n_buffers);
    model_free(&m);
}

static void test_torchvision_names(void **state)
{
    (void)state;
    names_case(ARCH_RESNET18, "torchvision_resnet18_names.txt");
    names_case(ARCH_RESNET50, "torchvision_resnet50_names.txt");
}

/* ---- model.c's own fused ops against finite differences ----
 * The layer tests (test_nn_*.c) check each layer call alone; here the ops as model.c composes
 * them — BN with its fused ReLU, the residual add_relu, the downsample shortcut, pooling, the MLP
 * head and its L2 norm, the liveness-planned activation memory and the first-writer gradients —
 * are checked end to end: L = Σ out·R, every parameter's gradient from model_backward against
 * central differences (tests/nn_fd.h, block step and tolerance). Kinks: the sign patterns of every
 * ReLU output and the max-pool argmax, which backward keeps. */
typedef struct {
    Model m;
    float *x, *R;
} FdNet;

static double net_loss(void *p)
{
    FdNet *n = p;
    const float *out = model_forward(&n->m, n->x, MODEL_TRAIN);
    return dot_d(out, n->R, (size_t)n->m.N * n->m.out_dim);
}

static uint64_t net_kinks(void *p)
{
    FdNet *n = p;
    uint64_t h = 1;
    for (int i = 0; i < n->m.n_ops; i++) {
        const Op *op = &n->m.ops[i];
        if (op->kind == OP_RELU || op->kind == OP_ADD_RELU || (op->kind == OP_BN && op->s.bn.relu))
            h = hash_mask(h, n->m.acts[op->out].data, op->n);
        if (op->kind == OP_MAXPOOL)
            for (size_t j = 0; j < op->n; j++)
                h = h * 1099511628211u + (uint64_t)op->argmax[j];
    }
    return h;
}

/* FD of the tensors of the model whose names start with one of `prefixes` (NULL: all). */
static void net_fd(const Backend *be, const ModelConfig *cfg, int N, int H,
                   const char *const *prefixes)
{
    FdNet n;
    ModelOptions opt = {.with_grads = 1, .bn_groups = 1};
    assert_int_equal(model_init(&n.m, be, cfg, N, cfg->in_channels, H, H, &opt), CLFT_OK);
    Rng r;
    rng_init(&r, 11, RNG_STREAM_DATA, 0, 0);
    model_init_weights(&n.m, &r);
    /* BN's γ away from 1 and β from 0, so that a wrong term in their gradients shows */
    for (int i = 0; i < n.m.n_params; i++) {
        const NamedTensor *t = &n.m.params[i];
        float *v = n.m.param_arena.base + t->offset;
        if (t->kind == TENSOR_BN_WEIGHT || t->kind == TENSOR_BN_BIAS)
            for (size_t j = 0; j < t->numel; j++)
                v[j] += (float)(0.2 * rng_normal(&r));
    }
    const size_t n_in = (size_t)N * cfg->in_channels * H * H, n_out = (size_t)N * n.m.out_dim;
    n.x = alloc_normal(&r, n_in, 1.0);
    n.R = alloc_normal(&r, n_out, 1.0);
    for (size_t j = 0; j < n.m.grad_arena.cap; j++)
        n.m.grad_arena.base[j] = GRAD_PREFILL;
    net_loss(&n);
    model_backward(&n.m, n.R);
    FdModel fm = {.forward = net_loss, .kinks = net_kinks, .ctx = &n};
    int checked = 0;
    for (int i = 0; i < n.m.n_params; i++) {
        const NamedTensor *t = &n.m.params[i];
        int take = prefixes == NULL;
        for (int k = 0; prefixes && prefixes[k] && !take; k++)
            take = !strncmp(t->name, prefixes[k], strlen(prefixes[k]));
        if (!take) continue;
        char what[128];
        snprintf(what, sizeof what, "%s d%s", be->name, t->name);
        fd_check_eps(what, &fm, n.m.param_arena.base + t->offset, n.m.grad_arena.base + t->offset,
                     t->numel, FD_EPS_BLOCK, FD_TOL_BLOCK);
        checked++;
    }
    assert_true(checked > 0);
    free(n.x), free(n.R);
    model_free(&n.m);
}

/* resnet_small with the small stem, basic blocks with and without a downsample, average pooling
 * and MoCo v2's MLP head with its L2 norm; then with the ImageNet stem (7x7/2 conv, BN-ReLU, 3x3/2
 * max-pool) and no head: every parameter. (No bottleneck network: resnet50 is the only one, and at
 * a size FD can afford its last stages' BN sees 2 values per channel, where float32 differences
 * are noise; the bottleneck block's composition is checked in test_nn_blocks.c.) */
static void test_fd_model(void **state)
{
    ModelConfig cfg = {.arch = ARCH_RESNET_SMALL,
                       .stem = STEM_SMALL,
                       .width = 4,
                       .stages = 2,
                       .blocks = 1,
                       .in_channels = 1,
                       .head = HEAD_MLP,
                       .head_dim = 6};
    net_fd(test_backend(state), &cfg, 2, 6, NULL);
    cfg.stem = STEM_IMAGENET, cfg.in_channels = 3, cfg.head = HEAD_NONE;
    net_fd(test_backend(state), &cfg, 4, 16, NULL);
}

/* Impossible configurations are reported, not crashed on. */
static void test_bad_shapes(void **state)
{
    (void)state;
    ModelConfig cfg = {.arch = ARCH_RESNET18, .stem = STEM_IMAGENET, .width = 4, .in_channels = 3};
    ModelOptions opt = {.with_grads = 0, .bn_groups = 3};
    Model m;
    assert_int_equal(model_init(&m, backend_host(), &cfg, 4, 3, 64, 64, &opt), CLFT_ERR_VALUE); /* 3 ∤ 4 */
    assert_non_null(strstr(clft_last_error(), "divide"));
    opt.bn_groups = 1;
    assert_int_equal(model_init(&m, backend_host(), &cfg, 4, 1, 64, 64, &opt), CLFT_ERR_SHAPE); /* channels */
    assert_int_equal(model_init(&m, backend_host(), &cfg, 4, 3, 8, 8, &opt), CLFT_ERR_SHAPE);   /* too small */
    assert_non_null(strstr(clft_last_error(), "too small"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST_ON(test_golden_small_stem, "cpu"),
        TEST_ON(test_golden_small_stem, "cpu-im2col"),
        TEST_ON(test_golden_small_stem, "cpu-ref"),
        TEST_ON(test_golden_imagenet_stem, "cpu"),
        TEST_ON(test_golden_imagenet_stem, "cpu-im2col"),
        TEST_ON(test_golden_imagenet_stem, "cpu-ref"),
        TEST_ON(test_fd_model, "cpu"),
        TEST_ON(test_fd_model, "cpu-ref"),
        cmocka_unit_test(test_torchvision_names),
        cmocka_unit_test(test_bad_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

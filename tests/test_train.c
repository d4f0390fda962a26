/* test_train.c — the MoCo step against a faithful PyTorch MoCo v2 step (tests/gen_golden_moco.py):
 * same initial weights, inputs, queue and shuffle permutations for 3 steps; compares logits,
 * losses, dL/dq, every parameter gradient of step 0, the query and key encoders after the EMA, the
 * key encoder's BN running statistics, the queue and its pointer; on both host backends ("cpu" and
 * the reference "cpu-ref"). */
#include "tests/test_util.h"

#include "core/train/moco.h"
#include "variants/ft.h"
#include "variants/variant.h"

static void copy_named(float *base, const NamedTensor *list, int n, const StFile *f,
                       const char *prefix)
{
    for (int i = 0; i < n; i++) {
        char name[160];
        snprintf(name, sizeof name, "%s%s", prefix, list[i].name);
        memcpy(base + list[i].offset, fixture_f32(f, name, list[i].numel),
               list[i].numel * sizeof(float));
    }
}

static void compare_named(const float *base, const NamedTensor *list, int n, const StFile *f,
                          const char *prefix, double tol)
{
    for (int i = 0; i < n; i++) {
        char name[160];
        snprintf(name, sizeof name, "%s%s", prefix, list[i].name);
        ASSERT_CLOSE(name, base + list[i].offset, fixture_f32(f, name, list[i].numel),
                     list[i].numel, tol);
    }
}

/* A hook that runs FT with the draws of the golden trajectory instead of sampling them. */
typedef struct {
    FtState *ft;
    const StFile *f;
    int step;
    float lam_ex, lam_in;
    int perm[16];
} FixedFt;

static void fixed_ft_forward(void *self, const VariantInput *in, Rng *rng, VariantOutput *out)
{
    FixedFt *x = self;
    (void)rng;
    char name[32];
    snprintf(name, sizeof name, "ft.lam_ex.%d", x->step);
    x->lam_ex = fixture_f32(x->f, name, 1)[0];
    snprintf(name, sizeof name, "ft.lam_in.%d", x->step);
    x->lam_in = fixture_f32(x->f, name, 1)[0];
    snprintf(name, sizeof name, "ft.qperm.%d", x->step);
    const StTensor *p = st_find(x->f, name);
    assert_non_null(p);
    for (int i = 0; i < 16; i++) x->perm[i] = (int)((const int64_t *)p->data)[i];
    FtDraws d = {.n_ex = 1, .lam_ex = &x->lam_ex, .n_in = 1, .lam_in = &x->lam_in, .perm = x->perm};
    ft_set_draws(x->ft, &d);
    ft_apply(x->ft, in, out);
    x->step++;
}

static void fixed_ft_backward(void *self, const float *dq_hat, const float *dk_hat, float *dq)
{
    ft_backward(((FixedFt *)self)->ft, dq_hat, dk_hat, dq);
}

/* Three MoCo v2 steps from the fixture's start; `prefix` selects the trajectory ("" or "ft.").
 * Tolerances: logits and loss are float32 through ~12 layers: 1e-5 relative. Gradients go back
 * through split-BN over 4 samples per group (1/σ of small groups amplifies rounding): 5e-4. After
 * three steps the parameters have moved by lr·grad ≈ 1e-2 and match at 1e-4; queue rows are unit
 * keys and match at 1e-4. */
static void golden_trajectory(const Backend *be, const StFile *f, const char *prefix,
                              VariantHook hook)
{
    MocoOptions opt = {
        .be = be,
        .N = 8, .C = 1, .H = 8, .W = 8, .K = 16, .T = 0.2f, .m = 0.99f, .bn_groups = 2,
        .model = {.arch = ARCH_RESNET_SMALL, .stem = STEM_SMALL, .width = 4, .stages = 2,
                  .blocks = 1, .in_channels = 1, .head = HEAD_MLP, .head_hidden = 0,
                  .head_dim = 8},
        .variant = hook, .seed = 1};
    Moco mc;
    /* head.type = none is a word of the config (HeadKind's) that MoCo refuses, saying so */
    opt.model.head = HEAD_NONE;
    assert_int_equal(moco_init(&mc, &opt), CLFT_ERR_VALUE);
    assert_non_null(strstr(clft_last_error(), "projection head"));
    opt.model.head = HEAD_MLP;
    assert_int_equal(moco_init(&mc, &opt), CLFT_OK);
    copy_named(mc.q.param_arena.base, mc.q.params, mc.q.n_params, f, "p.");
    copy_named(mc.k.param_arena.base, mc.k.params, mc.k.n_params, f, "p.");
    memcpy(mc.queue.data, fixture_f32(f, "queue0", 16 * 8), 16 * 8 * sizeof(float));
    SgdOptions sgd = {.lr = 0.05f, .momentum = 0.9f, .weight_decay = 1e-4f};
    int perm[8];
    char name[64], pre[64];
    for (int step = 0; step < 3; step++) {
        snprintf(name, sizeof name, "perm.%d", step);
        const StTensor *p = st_find(f, name);
        assert_non_null(p);
        for (int i = 0; i < 8; i++) perm[i] = (int)((const int64_t *)p->data)[i];
        mc.fixed_perm = perm;
        snprintf(name, sizeof name, "x1.%d", step);
        const float *x1 = fixture_f32(f, name, 8 * 64);
        snprintf(name, sizeof name, "x2.%d", step);
        const float *x2 = fixture_f32(f, name, 8 * 64);
        MocoStepResult res;
        moco_step(&mc, x1, x2, &sgd, 0, &res);
        snprintf(name, sizeof name, "%sloss.%d", prefix, step);
        double want = fixture_f32(f, name, 1)[0];
        if (fabs(res.loss - want) > 1e-5 * fabs(want))
            fail_msg("%s: loss %.7f, torch %.7f", name, res.loss, want);
        snprintf(name, sizeof name, "%slogits.%d", prefix, step);
        ASSERT_CLOSE(name, mc.nce.logits, fixture_f32(f, name, 8 * 17), 8 * 17, 1e-5);
        snprintf(name, sizeof name, "%sk.%d", prefix, step);
        ASSERT_CLOSE(name, mc.k_feat, fixture_f32(f, name, 8 * 8), 8 * 8, 1e-5);
        snprintf(name, sizeof name, "%sdq.%d", prefix, step);
        ASSERT_CLOSE(name, mc.dq, fixture_f32(f, name, 8 * 8), 8 * 8, 1e-4);
        /* Step 0's parameter gradients: moco_step leaves the grad arena as computed. */
        snprintf(pre, sizeof pre, "%sg.", prefix);
        if (step == 0) compare_named(mc.q.grad_arena.base, mc.q.params, mc.q.n_params, f, pre, 5e-4);
    }
    snprintf(pre, sizeof pre, "%sq3.", prefix);
    compare_named(mc.q.param_arena.base, mc.q.params, mc.q.n_params, f, pre, 1e-4);
    snprintf(pre, sizeof pre, "%sk3.", prefix);
    compare_named(mc.k.param_arena.base, mc.k.params, mc.k.n_params, f, pre, 1e-4);
    compare_named(mc.k.buffer_arena.base, mc.k.buffers, mc.k.n_buffers, f, pre, 1e-4);
    snprintf(name, sizeof name, "%squeue3", prefix);
    ASSERT_CLOSE(name, mc.queue.data, fixture_f32(f, name, 16 * 8), 16 * 8, 1e-4);
    snprintf(name, sizeof name, "%sptr3", prefix);
    const StTensor *ptr = st_find(f, name);
    assert_non_null(ptr);
    assert_int_equal(mc.queue.ptr, (int)((const int64_t *)ptr->data)[0]);
    moco_free(&mc);
}

static void test_golden_moco_v2_step(void **state)
{
    const Backend *be = test_backend(state);
    StFile f;
    fixture_open(&f, "moco_step.safetensors");
    VariantOptions vopt;
    variant_options_default(&vopt);
    const Variant *none = variant_find("none");
    VariantHook hook = variant_instantiate(none, &vopt, be, 8, 8, 16);
    golden_trajectory(be, &f, "", hook);
    variant_release(none, &hook);
    st_close(&f);
}

/* The same with FT (the paper's default: scalar λ_ex, λ_in, both targets, no re-normalisation),
 * fed torch's draws. */
static void test_golden_moco_v2_ft_step(void **state)
{
    const Backend *be = test_backend(state);
    StFile f;
    fixture_open(&f, "moco_step.safetensors");
    VariantOptions vopt;
    variant_options_default(&vopt);
    FixedFt fixed = {.ft = ft_create(&vopt, be, 8, 8, 16), .f = &f};
    VariantHook hook = {.name = "ft-fixed", .self = &fixed, .forward = fixed_ft_forward,
                        .backward = fixed_ft_backward};
    golden_trajectory(be, &f, "ft.", hook);
    ft_destroy(fixed.ft);
    st_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST_ON(test_golden_moco_v2_step, "cpu"), TEST_ON(test_golden_moco_v2_step, "cpu-im2col"), TEST_ON(test_golden_moco_v2_step, "cpu-ref"),
        TEST_ON(test_golden_moco_v2_ft_step, "cpu"), TEST_ON(test_golden_moco_v2_ft_step, "cpu-im2col"), TEST_ON(test_golden_moco_v2_ft_step, "cpu-ref"),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

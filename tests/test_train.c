/* test_train.c — the MoCo step against a faithful PyTorch MoCo v2 step (tests/gen_golden_moco.py):
 * same initial weights, inputs, queue and shuffle permutations for 3 steps; compares logits,
 * losses, dL/dq, every parameter gradient of step 0, the query and key encoders after the EMA, the
 * key encoder's BN running statistics, the queue and its pointer. */
#include "tests/test_util.h"

#include "core/train/moco.h"
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

/* Tolerances: logits and loss are float32 through ~12 layers: 1e-5 relative. Gradients go back
 * through split-BN over 4 samples per group (1/σ of small groups amplifies rounding): 5e-4. After
 * three steps the parameters have moved by lr·grad ≈ 1e-2 and match at 1e-4; queue rows are unit
 * keys and match at 1e-4. */
static void test_golden_moco_v2_step(void **state)
{
    (void)state;
    StFile f;
    fixture_open(&f, "moco_step.safetensors");
    MocoOptions opt = {
        .N = 8, .C = 1, .H = 8, .W = 8, .K = 16, .T = 0.2f, .m = 0.99f, .bn_groups = 2,
        .model = {.arch = ARCH_RESNET_SMALL, .stem = STEM_SMALL, .width = 4, .stages = 2,
                  .blocks = 1, .in_channels = 1, .head = HEAD_MLP, .head_hidden = 0,
                  .head_dim = 8},
        .seed = 1};
    VariantOptions vopt;
    variant_options_default(&vopt);
    const Variant *none = variant_find("none");
    opt.variant = variant_instantiate(none, &vopt, opt.N, 8, opt.K);
    Moco mc;
    assert_int_equal(moco_init(&mc, &opt), CLFT_OK);
    copy_named(mc.q.param_arena.base, mc.q.params, mc.q.n_params, &f, "p.");
    copy_named(mc.k.param_arena.base, mc.k.params, mc.k.n_params, &f, "p.");
    memcpy(mc.queue.data, fixture_f32(&f, "queue0", 16 * 8), 16 * 8 * sizeof(float));
    SgdOptions sgd = {.lr = 0.05f, .momentum = 0.9f, .weight_decay = 1e-4f};
    int perm[8];
    for (int step = 0; step < 3; step++) {
        char name[32];
        snprintf(name, sizeof name, "perm.%d", step);
        const StTensor *p = st_find(&f, name);
        assert_non_null(p);
        for (int i = 0; i < 8; i++) perm[i] = (int)((const int64_t *)p->data)[i];
        mc.fixed_perm = perm;
        snprintf(name, sizeof name, "x1.%d", step);
        const float *x1 = fixture_f32(&f, name, 8 * 64);
        snprintf(name, sizeof name, "x2.%d", step);
        const float *x2 = fixture_f32(&f, name, 8 * 64);
        /* Step 0's parameter gradients are compared before the SGD step overwrites nothing of
         * them: moco_step leaves the grad arena as computed. */
        MocoStepResult res;
        moco_step(&mc, x1, x2, &sgd, 0, &res);
        snprintf(name, sizeof name, "loss.%d", step);
        double want = fixture_f32(&f, name, 1)[0];
        if (fabs(res.loss - want) > 1e-5 * fabs(want))
            fail_msg("step %d: loss %.7f, torch %.7f", step, res.loss, want);
        snprintf(name, sizeof name, "logits.%d", step);
        ASSERT_CLOSE(name, mc.nce.logits, fixture_f32(&f, name, 8 * 17), 8 * 17, 1e-5);
        snprintf(name, sizeof name, "k.%d", step);
        ASSERT_CLOSE(name, mc.k_feat, fixture_f32(&f, name, 8 * 8), 8 * 8, 1e-5);
        snprintf(name, sizeof name, "dq.%d", step);
        ASSERT_CLOSE(name, mc.dq, fixture_f32(&f, name, 8 * 8), 8 * 8, 1e-4);
        if (step == 0)
            compare_named(mc.q.grad_arena.base, mc.q.params, mc.q.n_params, &f, "g.", 5e-4);
    }
    compare_named(mc.q.param_arena.base, mc.q.params, mc.q.n_params, &f, "q3.", 1e-4);
    compare_named(mc.k.param_arena.base, mc.k.params, mc.k.n_params, &f, "k3.", 1e-4);
    compare_named(mc.k.buffer_arena.base, mc.k.buffers, mc.k.n_buffers, &f, "k3.", 1e-4);
    ASSERT_CLOSE("queue3", mc.queue.data, fixture_f32(&f, "queue3", 16 * 8), 16 * 8, 1e-4);
    const StTensor *ptr = st_find(&f, "ptr3");
    assert_int_equal(mc.queue.ptr, (int)((const int64_t *)ptr->data)[0]);
    moco_free(&mc);
    variant_release(none, &opt.variant);
    st_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_moco_v2_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

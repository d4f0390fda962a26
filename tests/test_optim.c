/* test_optim.c — SGD against hand-computed torch.optim.SGD steps, schedules, EMA; the SGD and EMA
 * kernels on both host backends. */
#include "tests/test_util.h"

#include "core/optim/optim.h"

/* Two steps of torch.optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.01) worked by hand:
 * p0 = 1, grad 0.5 both steps.
 * step 1: g = 0.5 + 0.01·1 = 0.51; buf = 0.51; p = 1 − 0.051 = 0.949
 * step 2: g = 0.5 + 0.01·0.949 = 0.50949; buf = 0.9·0.51 + 0.50949 = 0.96849; p = 0.949 − 0.096849
 *         = 0.852151 */
static void test_sgd_hand(void **state)
{
    const Backend *be = test_backend(state);
    float p = 1.0f, g = 0.5f, buf = 0.0f;
    SgdOptions o = {.lr = 0.1f, .momentum = 0.9f, .weight_decay = 0.01f};
    be->sgd_step(&p, &g, &buf, 1, &o);
    assert_float_equal(p, 0.949f, 1e-6);
    assert_float_equal(buf, 0.51f, 1e-6);
    be->sgd_step(&p, &g, &buf, 1, &o);
    assert_float_equal(buf, 0.96849f, 1e-6);
    assert_float_equal(p, 0.852151f, 1e-6);
}

static void test_schedules(void **state)
{
    (void)state;
    Schedule s = {.kind = SCHEDULE_STEP, .base_lr = 0.03, .epochs = 200, .milestones = {120, 160},
                  .n_milestones = 2, .gamma = 0.1};
    assert_float_equal(schedule_lr(&s, 0, 0, 10), 0.03, 1e-12);
    assert_float_equal(schedule_lr(&s, 119, 9, 10), 0.03, 1e-12);
    assert_float_equal(schedule_lr(&s, 120, 0, 10), 0.003, 1e-12);
    assert_float_equal(schedule_lr(&s, 199, 0, 10), 0.0003, 1e-12);
    s.kind = SCHEDULE_COSINE; /* MoCo: lr·½(1 + cos(π·epoch/epochs)) */
    assert_float_equal(schedule_lr(&s, 0, 5, 10), 0.03, 1e-12);
    assert_float_equal(schedule_lr(&s, 100, 0, 10), 0.015, 1e-12);
    assert_float_equal(schedule_lr(&s, 50, 0, 10), 0.03 * 0.5 * (1 + cos(M_PI / 4)), 1e-12);
    s.kind = SCHEDULE_CONSTANT;
    s.warmup_epochs = 2; /* 20 warm-up steps: step k has lr·(k+1)/20 */
    assert_float_equal(schedule_lr(&s, 0, 0, 10), 0.03 / 20, 1e-12);
    assert_float_equal(schedule_lr(&s, 1, 4, 10), 0.03 * 15 / 20, 1e-12);
    assert_float_equal(schedule_lr(&s, 2, 0, 10), 0.03, 1e-12);
}

/* θ_k = 0.99·2 + 0.01·4 = 2.02; m = 1 freezes the key encoder; m = 0 copies the query. */
static void test_ema(void **state)
{
    const Backend *be = test_backend(state);
    float k[2] = {2.0f, -1.0f}, q[2] = {4.0f, 3.0f};
    be->ema_update(k, q, 2, 0.99f);
    assert_float_equal(k[0], 2.02f, 1e-6);
    assert_float_equal(k[1], -0.96f, 1e-6);
    be->ema_update(k, q, 2, 1.0f);
    assert_float_equal(k[0], 2.02f, 0);
    be->ema_update(k, q, 2, 0.0f);
    assert_float_equal(k[1], 3.0f, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST_ON(test_sgd_hand, "cpu"), TEST_ON(test_sgd_hand, "cpu-ref"),
        cmocka_unit_test(test_schedules),
        TEST_ON(test_ema, "cpu"), TEST_ON(test_ema, "cpu-ref"),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_alloc.c — the steady-state training step allocates nothing (DESIGN.md "Tensor").
 *
 * This executable interposes malloc/calloc/realloc (forwarding to glibc's __libc_* entry points)
 * and counts calls while `counting` is set. A model is built (all allocation happens there), one
 * warm-up step runs, then several full forward + backward + SGD steps must make zero calls. */
#include "tests/test_util.h"

#include "core/model/model.h"
#include "core/optim/optim.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

static volatile int counting;
static volatile long n_allocs;

void *malloc(size_t n)
{
    if (counting) n_allocs++;
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t s)
{
    if (counting) n_allocs++;
    return __libc_calloc(n, s);
}

void *realloc(void *p, size_t n)
{
    if (counting) n_allocs++;
    return __libc_realloc(p, n);
}

static void test_step_allocates_nothing(void **state)
{
    (void)state;
    ModelConfig cfg = {.arch = ARCH_RESNET_SMALL, .stem = STEM_SMALL, .width = 8, .stages = 3,
                       .blocks = 1, .in_channels = 1, .head = HEAD_MLP, .head_dim = 16};
    ModelOptions opt = {.with_grads = 1, .bn_groups = 4};
    const int N = 16, H = 28;
    Model m;
    assert_int_equal(model_init(&m, &cfg, N, 1, H, H, &opt), CLFT_OK);
    Rng rng;
    rng_init(&rng, 1, RNG_STREAM_INIT, 0, 0);
    model_init_weights(&m, &rng);
    float *x = xmalloc((size_t)N * H * H * sizeof(float));
    float *dout = xmalloc((size_t)N * m.out_dim * sizeof(float));
    float *buf = xcalloc(m.param_arena.cap, sizeof(float));
    for (size_t i = 0; i < (size_t)N * H * H; i++) x[i] = (float)rng_normal(&rng);
    for (size_t i = 0; i < (size_t)N * m.out_dim; i++) dout[i] = (float)rng_normal(&rng);
    /* Positive control: the counter does see an allocation. */
    counting = 1;
    void *volatile probe = malloc(8); /* volatile: the compiler may not elide the pair */
    free(probe);
    counting = 0;
    assert_int_equal(n_allocs, 1);
    n_allocs = 0;
    SgdOptions sgd = {.lr = 0.01f, .momentum = 0.9f, .weight_decay = 1e-4f};
    for (int step = 0; step < 4; step++) {
        counting = step > 0; /* the first step may warm up BLAS thread buffers */
        model_zero_grads(&m);
        model_forward(&m, x, MODEL_TRAIN);
        model_backward(&m, dout);
        sgd_step(m.param_arena.base, m.grad_arena.base, buf, m.param_arena.cap, &sgd);
        model_forward(&m, x, MODEL_EVAL);
        counting = 0;
    }
    if (n_allocs != 0) fail_msg("%ld heap allocations in 3 steady-state steps", n_allocs);
    free(x);
    free(dout);
    free(buf);
    model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_step_allocates_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

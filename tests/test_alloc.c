/* test_alloc.c — the steady-state MoCo training step allocates nothing (DESIGN.md "Tensor"):
 * neither from the heap nor from the backend's allocator.
 *
 * This executable interposes malloc/calloc/realloc (forwarding to glibc's __libc_* entry points)
 * and, while `counting` is set, counts each call by who made it (dladdr of the return address):
 * clft's code (linked into this executable) must make none. The libraries' own are counted by
 * library and reported, not failed on: OpenBLAS 0.3.21's small-matrix sgemm kernels
 * (SkylakeX/Cooperlake, GEMMs under ~1e6 multiply-adds) malloc a packing buffer on every call, and
 * oneDNN 2.6 builds a small std::unordered_map of the arguments on every primitive execution
 * (through libstdc++'s operator new) — small host objects, not tensors. The whole MoCo step runs (encoders,
 * shuffle-BN, variant, InfoNCE, score statistics, backward, SGD, EMA, queue) with `none`, `ft` and
 * `mochi`, on a copy of the CPU backend whose alloc counts its calls: moco_init must take memory
 * from it (the positive control), the steps none.
 */
#include "tests/test_util.h"

#include <dlfcn.h>

#include "core/train/moco.h"
#include "variants/variant.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

static volatile int counting;
static volatile long n_ours, n_blas, n_dnnl;

static void count(const void *caller)
{
    if (!counting) return;
    counting = 0; /* dladdr itself must not be counted */
    Dl_info info, self;
    int known = dladdr(caller, &info) && info.dli_fname;
    if (known && dladdr((const void *)&counting, &self) && !strcmp(info.dli_fname, self.dli_fname))
        n_ours++; /* clft's code, linked into this executable */
    else if (known && strstr(info.dli_fname, "openblas"))
        n_blas++;
    else if (known && (strstr(info.dli_fname, "dnnl") || strstr(info.dli_fname, "libstdc++")))
        n_dnnl++; /* oneDNN, directly or through its C++ containers */
    else
        n_ours++; /* unknown callers count against clft */
    counting = 1;
}

void *malloc(size_t n)
{
    count(__builtin_return_address(0));
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t s)
{
    count(__builtin_return_address(0));
    return __libc_calloc(n, s);
}

void *realloc(void *p, size_t n)
{
    count(__builtin_return_address(0));
    return __libc_realloc(p, n);
}

static long n_backend_allocs;

static void *counting_alloc(size_t bytes)
{
    n_backend_allocs++;
    return backend_find("cpu")->alloc(bytes);
}

static void run_variant_at(const char *name, Precision precision)
{
    const BackendOptions bo = {.precision = precision};
    assert_non_null(backend_select("cpu", BACKEND_NEEDS_TRAIN, &bo)); /* opens oneDNN so */
    Backend counted = *backend_find("cpu");
    counted.alloc = counting_alloc;
    MocoOptions opt = {
        .be = &counted,
        .N = 32, .C = 1, .H = 28, .W = 28, .K = 256, .T = 0.2f, .m = 0.99f, .bn_groups = 4,
        .model = {.arch = ARCH_RESNET_SMALL, .stem = STEM_SMALL, .width = 8, .stages = 3,
                  .blocks = 1, .in_channels = 1, .head = HEAD_MLP, .head_dim = 16},
        .seed = 1};
    const Variant *v = variant_find(name);
    assert_non_null(v);
    VariantOptions vopt;
    variant_options_default(&vopt);
    variant_options_preset(&vopt, name);
    opt.variant = variant_instantiate(v, &vopt, opt.be, opt.N, 16, opt.K);
    Moco mc;
    n_backend_allocs = 0;
    assert_int_equal(moco_init(&mc, &opt), CLFT_OK);
    assert_true(n_backend_allocs > 10); /* the arenas and buffers came from the backend */
    const size_t n = (size_t)opt.N * 28 * 28;
    float *x1 = xmalloc(n * sizeof(float)), *x2 = xmalloc(n * sizeof(float));
    Rng rng;
    rng_init(&rng, 2, RNG_STREAM_DATA, 0, 0);
    for (size_t i = 0; i < n; i++) {
        x1[i] = (float)rng_normal(&rng);
        x2[i] = (float)rng_normal(&rng);
    }
    SgdOptions sgd = {.lr = 0.01f, .momentum = 0.9f, .weight_decay = 1e-4f};
    MocoStepResult res;
    n_ours = n_blas = n_dnnl = 0;
    n_backend_allocs = 0;
    for (int step = 0; step < 4; step++) {
        counting = step > 0; /* the first step may warm up BLAS thread buffers */
        moco_step(&mc, x1, x2, &sgd, 0, &res);
        counting = 0;
    }
    printf("variant %s (%s): %ld allocations by clft, %ld inside OpenBLAS, %ld inside oneDNN, in 3 "
           "steps\n",
           name, precision == PRECISION_BF16 ? "bf16" : "fp32", n_ours, n_blas, n_dnnl);
    if (n_ours != 0) fail_msg("variant %s: %ld heap allocations by clft in 3 steps", name, n_ours);
    if (n_backend_allocs != 0)
        fail_msg("variant %s: %ld backend allocations in 4 steps", name, n_backend_allocs);
    free(x1);
    free(x2);
    moco_free(&mc);
    variant_release(v, &opt.variant);
}

static void run_variant(const char *name)
{
    run_variant_at(name, PRECISION_FP32);
}

/* Positive control: the counter sees an allocation made here. */
static void test_counter_works(void **state)
{
    (void)state;
    n_ours = 0;
    counting = 1;
    void *volatile probe = malloc(8); /* volatile: the compiler may not elide the pair */
    counting = 0;
    free(probe);
    assert_int_equal(n_ours, 1);
}

static void test_step_none_allocates_nothing(void **state)
{
    (void)state;
    run_variant("none");
}

static void test_step_ft_allocates_nothing(void **state)
{
    (void)state;
    run_variant("ft");
}

static void test_step_mochi_allocates_nothing(void **state)
{
    (void)state;
    run_variant("mochi");
}

/* bf16: the storage kernels and the convolutions' conversions use the workspace only (last: the
 * precision is the process's). */
static void test_step_ft_bf16_allocates_nothing(void **state)
{
    (void)state;
    run_variant_at("ft", PRECISION_BF16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_works),
        cmocka_unit_test(test_step_none_allocates_nothing),
        cmocka_unit_test(test_step_ft_allocates_nothing),
        cmocka_unit_test(test_step_mochi_allocates_nothing),
        cmocka_unit_test(test_step_ft_bf16_allocates_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* bench_variant_overhead.c — what each variant adds to a whole MoCo training step of a small
 * network (resnet_small 32/64/128 — bench_moco's mini32 —, 28x28x1, MLP head, batch 256, split-BN
 * 8; a variant's cost does not depend on the network, so on the lighter mini network the same
 * milliseconds are a larger share of the step) at the paper's queue
 * size K = 65536, D = 128. Variants are timed interleaved, round by round, on one Moco whose hook
 * is swapped, so they share the same machine state. Prints per variant
 *     variant_overhead variant=NAME step_ms=X base_ms=Y ratio=Z
 * with medians over rounds; base is the `none` step. Usage: bench_variant_overhead [rounds] [K]
 * (K: the queue length, default 65536; the mini preset trains at 4096). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend/blas.h"
#include "core/train/moco.h"
#include "variants/variant.h"

enum { N = 256, MAX_ROUNDS = 16 };
static const char *const NAMES[] = {"none", "ft", "ft_pos", "ft_neg", "ft_pos_interp",
                                    "ft_uniform", "ft_dimwise", "mochi"};
enum { NV = sizeof NAMES / sizeof NAMES[0] };

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    blas_setup(argv);
    int rounds = argc > 1 ? atoi(argv[1]) : 3;
    if (rounds < 1 || rounds > MAX_ROUNDS) rounds = 3;
    const int K = argc > 2 ? atoi(argv[2]) : 65536;
    if (K < N || K > (1 << 20))
        clft_die("bench_variant_overhead: K %s: not in [%d, %d]", argv[2], N, 1 << 20);
    VariantHook hooks[NV];
    const Variant *vs[NV];
    for (int v = 0; v < NV; v++) {
        vs[v] = variant_find(NAMES[v]);
        VariantOptions o;
        variant_options_default(&o);
        variant_options_preset(&o, NAMES[v]);
        hooks[v] = variant_instantiate(vs[v], &o, backend_find("cpu"), N, 128, K);
    }
    MocoOptions opt = {
        .be = backend_find("cpu"),
        .N = N, .C = 1, .H = 28, .W = 28, .K = K, .T = 0.2f, .m = 0.99f, .bn_groups = 8,
        .model = {.arch = ARCH_RESNET_SMALL, .stem = STEM_SMALL, .width = 32, .stages = 3,
                  .blocks = 1, .in_channels = 1, .head = HEAD_MLP, .head_dim = 128},
        .variant = hooks[NV - 1], /* the largest n_extra (mochi) sizes the InfoNCE workspace */
        .seed = 1};
    Moco mc;
    if (moco_init(&mc, &opt) != CLFT_OK) clft_die("%s", clft_last_error());
    const size_t n = (size_t)N * 28 * 28;
    float *x1 = xmalloc(n * sizeof(float)), *x2 = xmalloc(n * sizeof(float));
    Rng rng;
    rng_init(&rng, 2, RNG_STREAM_DATA, 0, 0);
    for (size_t i = 0; i < n; i++) {
        x1[i] = (float)rng_normal(&rng);
        x2[i] = (float)rng_normal(&rng);
    }
    SgdOptions sgd = {.lr = 0.01f, .momentum = 0.9f, .weight_decay = 1e-4f};
    MocoStepResult res;
    double t[NV][MAX_ROUNDS];
    printf("# OpenBLAS core %s, %d threads; mini32 network, N=%d, K=%d, %d rounds\n", blas_core_name(),
           blas_get_threads(), N, K, rounds);
    for (int r = -1; r < rounds; r++) /* round -1 warms up */
        for (int v = 0; v < NV; v++) {
            mc.opt.variant = hooks[v];
            double t0 = clft_now();
            moco_step(&mc, x1, x2, &sgd, 0, &res);
            if (r >= 0) t[v][r] = 1e3 * (clft_now() - t0);
        }
    for (int v = 0; v < NV; v++) qsort(t[v], (size_t)rounds, sizeof(double), cmp_double);
    double base = t[0][rounds / 2];
    for (int v = 0; v < NV; v++)
        printf("variant_overhead variant=%s step_ms=%.1f base_ms=%.1f ratio=%.3f\n", NAMES[v],
               t[v][rounds / 2], base, t[v][rounds / 2] / base);
    mc.opt.variant = hooks[NV - 1];
    moco_free(&mc);
    for (int v = 0; v < NV; v++) variant_release(vs[v], &hooks[v]);
    free(x1);
    free(x2);
    return 0;
}

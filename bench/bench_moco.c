/* bench_moco.c — one MoCo v2 training step (core/train/moco.c, variant `none`) in clft against the
 * same step in PyTorch 2.15 from PyPI (bench/bench_moco_torch.py in .venv-bench/, set up by
 * scripts/bench.sh; MoCo's own SplitBatchNorm), interleaved in one run, 2 threads each, at each
 * precision: fp32, and bf16 (clft --precision bf16 against torch autocast + channels_last).
 *
 * Networks (both with MoCo v2's MLP head feat -> feat -> ReLU -> 128, split-BN over 8 contiguous
 * groups in both encoders, batch 256, K 4096, T 0.2, SGD momentum 0.9 + wd 1e-4):
 *   mini      resnet_small, small stem, 4 stages of 1 basic block, widths 16/32/64/128, 28x28x1
 *             (the `mini` preset's encoder, configs/mini.ini);
 *   mini32    the same at widths 32/64/128 (the network issue 4's speed bar was first set on);
 *   resnet18  resnet18 with the small-image stem (3x3/1 conv, no max-pool), 32x32x3.
 * Each side runs in its own process (so its peak RSS is its own): clft re-executes this program as
 * `bench_moco --child NET WARMUP STEPS [--precision bf16] [--device NAME]`, torch is
 * `$CLFT_TORCH_PYTHON bench/bench_moco_torch.py` (default .venv-bench/bin/python3).
 * Rounds alternate clft, torch, clft, torch, ...; each round does WARMUP untimed steps and STEPS
 * timed ones; a side's img/s is the best of its rounds (the machine is shared with other jobs that
 * come and go: the best round is the one least disturbed, for both sides alike; every round is
 * printed on stderr); RSS is the largest ru_maxrss of its rounds. Output, per
 * network:
 *   moco_step net=NAME precision=P clft_img_s=X torch_img_s=Y ratio=Z clft_rss_mb=A torch_rss_mb=B
 *
 * Usage: bench_moco [--net mini|mini32|resnet18|all] [--precision fp32|bf16|all] [--rounds R]
 *        [--device NAME]   (the torch side is skipped with torch_img_s=nan if it fails.)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/backend/backend.h"
#include "core/backend/blas.h"
#include "core/common.h"
#include "core/train/moco.h"
#include "variants/variant.h"

typedef struct {
    const char *name;
    ModelConfig model;
    int C, H;
    int warmup, steps; /* per round */
} BenchNet;

/* resnet_small with the small stem on 28x28x1 Fashion-MNIST-sized input, MoCo v2's MLP head. */
#define SMALL_NET(NAME, WIDTH, STAGES, STEPS)                                                      \
    {NAME,                                                                                         \
     {.arch = ARCH_RESNET_SMALL,                                                                   \
      .stem = STEM_SMALL,                                                                          \
      .width = WIDTH,                                                                              \
      .stages = STAGES,                                                                            \
      .blocks = 1,                                                                                 \
      .in_channels = 1,                                                                            \
      .head = HEAD_MLP,                                                                            \
      .head_dim = 128},                                                                            \
     1, 28, 2, STEPS}

static const BenchNet nets[] = {
    SMALL_NET("mini", 16, 4, 8),
    SMALL_NET("mini32", 32, 3, 4),
    {"resnet18",
     {.arch = ARCH_RESNET18,
      .stem = STEM_SMALL,
      .width = 64,
      .in_channels = 3,
      .head = HEAD_MLP,
      .head_hidden = 0,
      .head_dim = 128},
     3,
     32,
     1,
     1},
};
#define N_NETS (int)(sizeof nets / sizeof nets[0])
#define BATCH 256
#define QUEUE_K 4096
#define BN_GROUPS 8

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The clft side, in a child process: prints `img_s=X rss_mb=Y`. */
static int run_child(const BenchNet *net, int warmup, int steps, const char *device,
                     Precision precision)
{
    ASSERT(steps > 0);
    blas_set_threads(2);
    BackendOptions bo = {.precision = precision};
    const Backend *be = backend_select(device, BACKEND_NEEDS_TRAIN, &bo);
    if (!be) clft_die("bench_moco: %s", clft_last_error());
    MocoOptions opt = {.N = BATCH,
                       .C = net->C,
                       .H = net->H,
                       .W = net->H,
                       .K = QUEUE_K,
                       .T = 0.2f,
                       .m = 0.99f,
                       .bn_groups = BN_GROUPS,
                       .model = net->model,
                       .seed = 1};
    const Variant *v = variant_find("none");
    ASSERT(v);
    VariantOptions vopt;
    variant_options_default(&vopt);
    variant_options_preset(&vopt, "none");
    opt.be = be;
    opt.variant = variant_instantiate(v, &vopt, opt.be, opt.N, net->model.head_dim, opt.K);
    Moco mc;
    if (moco_init(&mc, &opt) != CLFT_OK) clft_die("bench_moco: %s", clft_last_error());
    const size_t n = (size_t)BATCH * net->C * net->H * net->H;
    float *x1 = xmalloc(n * sizeof(float)), *x2 = xmalloc(n * sizeof(float)); /* (N, C, H, W) */
    Rng rng;
    rng_init(&rng, 2, RNG_STREAM_DATA, 0, 0);
    for (size_t i = 0; i < n; i++) {
        x1[i] = (float)rng_normal(&rng);
        x2[i] = (float)rng_normal(&rng);
    }
    SgdOptions sgd = {.lr = 0.03f, .momentum = 0.9f, .weight_decay = 1e-4f};
    MocoStepResult res;
    for (int s = 0; s < warmup; s++)
        moco_step(&mc, x1, x2, &sgd, 0, &res);
    double t0 = now_s();
    for (int s = 0; s < steps; s++)
        moco_step(&mc, x1, x2, &sgd, 0, &res);
    double dt = now_s() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("img_s=%.3f rss_mb=%.1f loss=%.4f\n", (double)BATCH * steps / dt,
           (double)ru.ru_maxrss / 1024.0, res.loss);
    free(x1);
    free(x2);
    moco_free(&mc);
    variant_release(v, &opt.variant);
    return 0;
}

/* Runs `cmd`, parses its last `img_s=X rss_mb=Y` line; 0 on success. */
static int measure(const char *cmd, double *img_s, double *rss_mb)
{
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    char line[512];
    int ok = 0;
    while (fgets(line, sizeof line, p)) {
        const char *a = strstr(line, "img_s="), *b = strstr(line, "rss_mb=");
        if (a && b) {
            *img_s = atof(a + 6);
            *rss_mb = atof(b + 7);
            ok = 1;
        }
    }
    int rc = pclose(p);
    return ok && rc == 0 ? 0 : -1;
}

static double best(const double *v, int n)
{
    double b = NAN;
    for (int i = 0; i < n; i++)
        if (!(v[i] <= b)) b = v[i];
    return b;
}

#define MAX_ROUNDS 16

static const char *const precision_names[] = {"fp32", "tf32", "bf16"};

static void bench_net(const BenchNet *net, const char *self, int rounds, const char *device,
                      Precision precision)
{
    double ci[MAX_ROUNDS], ti[MAX_ROUNDS], crss = 0.0, trss = 0.0;
    int nc = 0, nt = 0;
    char ccmd[4400], tcmd[4400];
    const char *pname = precision_names[precision];
    const char *py = getenv("CLFT_TORCH_PYTHON");
    char venv_py[4200];
    snprintf(venv_py, sizeof venv_py, "%s/.venv-bench/bin/python3", CLFT_SOURCE_DIR);
    snprintf(ccmd, sizeof ccmd, "'%s' --child %s %d %d --precision %s --device %s", self,
             net->name, net->warmup, net->steps, pname, device);
    snprintf(tcmd, sizeof tcmd,
             "'%s' %s/bench/bench_moco_torch.py --net %s --warmup %d --steps %d --batch %d --K %d "
             "--groups %d --precision %s",
             py ? py : venv_py, CLFT_SOURCE_DIR, net->name, net->warmup, net->steps, BATCH, QUEUE_K,
             BN_GROUPS, pname);
    for (int r = 0; r < rounds; r++) {
        double v, rss;
        if (measure(ccmd, &v, &rss) == 0) {
            ci[nc++] = v;
            if (rss > crss) crss = rss;
            fprintf(stderr, "  %s %s round %d: clft %.1f img/s (%.0f MB)\n", net->name, pname, r, v,
                    rss);
        }
        if (measure(tcmd, &v, &rss) == 0) {
            ti[nt++] = v;
            if (rss > trss) trss = rss;
            fprintf(stderr, "  %s %s round %d: torch %.1f img/s (%.0f MB)\n", net->name, pname, r,
                    v, rss);
        }
    }
    if (nc == 0) clft_die("bench_moco: the clft child failed for net %s", net->name);
    double c = best(ci, nc), t = best(ti, nt);
    printf("moco_step net=%s precision=%s clft_img_s=%.1f torch_img_s=%.1f ratio=%.3f "
           "clft_rss_mb=%.0f torch_rss_mb=%.0f\n",
           net->name, pname, c, t, c / t, crss, nt ? trss : NAN);
    fflush(stdout);
}

static int int_arg(const char *s, const char *what)
{
    long v;
    if (parse_int(s, 0, 1000, &v) != CLFT_OK)
        clft_die("bench_moco: %s: %s", what, clft_last_error());
    return (int)v;
}

static const BenchNet *find_net(const char *name)
{
    for (int i = 0; i < N_NETS; i++)
        if (!strcmp(nets[i].name, name)) return &nets[i];
    clft_die("bench_moco: unknown net '%s' (mini, mini32, resnet18, all)", name);
}

static Precision precision_arg(const char *s)
{
    for (int p = 0; p < 3; p++)
        if (!strcmp(s, precision_names[p])) return (Precision)p;
    clft_die("bench_moco: --precision '%s': expected fp32, tf32 or bf16", s);
}

int main(int argc, char **argv)
{
    blas_setup(argv);
    const char *which = "all", *prec = "all", *device = "cpu";
    int rounds = 3, child = argc >= 5 && !strcmp(argv[1], "--child");
    for (int i = child ? 5 : 1; i < argc; i++) {
        if (!strcmp(argv[i], "--net") && i + 1 < argc) {
            which = argv[++i];
        } else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) {
            rounds = int_arg(argv[++i], "--rounds");
        } else if (!strcmp(argv[i], "--precision") && i + 1 < argc) {
            prec = argv[++i];
        } else if (!strcmp(argv[i], "--device") && i + 1 < argc) {
            device = argv[++i];
        } else {
            clft_die("usage: bench_moco [--net mini|mini32|resnet18|all] [--precision "
                     "fp32|bf16|all] [--rounds R] [--device NAME]");
        }
    }
    if (child)
        return run_child(find_net(argv[2]), int_arg(argv[3], "warmup"), int_arg(argv[4], "steps"),
                         device, strcmp(prec, "all") ? precision_arg(prec) : PRECISION_FP32);
    if (rounds > MAX_ROUNDS) clft_die("bench_moco: --rounds must be at most %d", MAX_ROUNDS);
    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) clft_die("bench_moco: cannot read /proc/self/exe");
    self[len] = '\0';
    printf("blas_core=%s (%s) threads=2 batch=%d K=%d bn_groups=%d\n", blas_core_name(),
           blas_core_origin(), BATCH, QUEUE_K, BN_GROUPS);
    fflush(stdout);
    for (int i = 0; i < N_NETS; i++)
        for (int p = 0; p < 3; p++) {
            if (strcmp(which, "all") && strcmp(which, nets[i].name)) continue;
            if (!strcmp(prec, "all") ? p == PRECISION_TF32 : p != (int)precision_arg(prec)) continue;
            bench_net(&nets[i], self, rounds, device, (Precision)p);
        }
    return 0;
}

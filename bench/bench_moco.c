/* bench_moco.c — one MoCo v2 training step (core/train/moco.c; variant `none`, or `ft` for MoCo v2 +
 * FT) in clft against the same step in PyTorch (bench/bench_moco_torch.py), interleaved in one run,
 * on the CPU (2 threads each by default, --threads) or on a GPU (--device cuda).
 *
 * Networks (all with MoCo v2's MLP head feat -> feat -> ReLU -> 128, split-BN over 8 contiguous
 * groups in both encoders, T 0.2, SGD momentum 0.9 + wd 1e-4):
 *   mini      resnet_small, small stem, 4 stages of 1 basic block, widths 16/32/64/128, 28x28x1
 *             (the `mini` preset's encoder, configs/mini.ini); batch 256, K 4096;
 *   mini32    the same at widths 32/64/128 (the network issue 4's speed bar was first set on);
 *   resnet18  resnet18 with the small-image stem (3x3/1 conv, no max-pool), 32x32x3, batch 256,
 *             K 4096;
 *   resnet50  resnet50 with the ImageNet stem (7x7/2 conv, 3x3/2 max-pool), 224x224x3, batch 256,
 *             K 65536 (the paper's ImageNet step; GPU only, `all` skips it on the CPU).
 * Each side runs in its own process (so its peak RSS is its own): clft re-executes this program as
 * `bench_moco --child NET WARMUP STEPS [--device D --precision P --variant V --batch N --K K]`,
 * torch is `PYTHON bench/bench_moco_torch.py` with the same settings (PYTHON: --python, default
 * .venv-bench/bin/python3 — PyTorch 2.15 from PyPI, set up by scripts/bench.sh — else
 * /usr/bin/python3). Rounds alternate clft, torch, clft, torch, ...; each round does WARMUP untimed
 * steps and STEPS timed ones (on a GPU the clock stops after a synchronize); a side's img/s is the
 * best of its rounds (the machine is shared with other jobs that come and go: the best round is
 * the one least disturbed, for both sides alike; every round is printed on stderr); RSS is the
 * largest ru_maxrss of its rounds (torch on a GPU also reports its peak device memory). Precision
 * (--precision; tf32 on a GPU only): clft's run precision (backend.h) against torch with TF32 off (fp32), TF32 on
 * for matmuls and cuDNN (tf32), or bf16 autocast with channels_last (bf16). Output, per network:
 *   moco_step net=NAME device=D precision=P variant=V batch=N K=K clft_img_s=X torch_img_s=Y
 *             ratio=Z clft_rss_mb=A torch_rss_mb=B torch_gpu_mb=C
 * and with --csv FILE the same as one CSV row per network (header written when FILE is new);
 * a side that fails (e.g. out of memory) is nan there and `status` says which.
 *
 * Usage: bench_moco [--net mini|mini32|resnet18|resnet50|all] [--rounds R] [--device cpu|cuda]
 *                   [--precision fp32|tf32|bf16] [--variant none|ft] [--batch N] [--K K]
 *                   [--warmup W] [--steps S] [--threads T] [--python PY] [--no-torch]
 *                   [--csv FILE]
 * (from the repository root, or with CLFT_SOURCE_DIR's bench/ script; the torch side is skipped
 * with torch_img_s=nan if it fails.)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/backend/blas.h"
#include "core/common.h"
#include "core/train/moco.h"
#include "variants/variant.h"

typedef struct {
    const char *name;
    ModelConfig model;
    int C, H;
    int warmup, steps; /* per round */
    int batch, K;      /* MoCo's batch and queue length */
    int gpu_only;      /* not in `all` on the CPU (hours per round there) */
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
     1, 28, 2, STEPS, 256, 4096, 0}

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
     3, 32, 1, 1, 256, 4096, 0},
    {"resnet50",
     {.arch = ARCH_RESNET50,
      .stem = STEM_IMAGENET,
      .width = 64,
      .in_channels = 3,
      .head = HEAD_MLP,
      .head_hidden = 0,
      .head_dim = 128},
     3, 224, 1, 1, 256, 65536, 1},
};
#define N_NETS (int)(sizeof nets / sizeof nets[0])
#define BN_GROUPS 8

/* What one measurement runs: the net and the settings both sides share. */
typedef struct {
    const char *device;    /* "cpu" or "cuda" */
    const char *precision; /* "fp32", "tf32", "bf16" */
    const char *variant;   /* "none" or "ft" */
    int batch, K;          /* 0: the net's */
    int warmup, steps;     /* 0: the net's (on the CPU) or 3 / 10 (on a GPU) */
    int rounds;
    int threads;           /* compute threads of each side (2: this machine's cores) */
    const char *python;
    int torch; /* 0: clft only */
    const char *csv;
} BenchOptions;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static Precision precision_of(const char *name)
{
    if (!strcmp(name, "tf32")) return PRECISION_TF32;
    if (!strcmp(name, "bf16")) return PRECISION_BF16;
    if (strcmp(name, "fp32")) clft_die("bench_moco: --precision %s: fp32, tf32 or bf16", name);
    return PRECISION_FP32;
}

/* The clft side, in a child process: prints `img_s=X rss_mb=Y loss=Z`. */
static int run_child(const BenchNet *net, const BenchOptions *o)
{
    ASSERT(o->steps > 0);
    blas_set_threads(o->threads);
    MocoOptions opt = {.N = o->batch,
                       .C = net->C,
                       .H = net->H,
                       .W = net->H,
                       .K = o->K,
                       .T = 0.2f,
                       .m = 0.99f,
                       .bn_groups = BN_GROUPS,
                       .model = net->model,
                       .seed = 1};
    const Variant *v = variant_find(o->variant);
    if (!v) clft_die("bench_moco: unknown variant '%s'", o->variant);
    VariantOptions vopt;
    variant_options_default(&vopt);
    variant_options_preset(&vopt, v->name);
    const BackendOptions bo = {.precision = precision_of(o->precision)};
    const int needs = BACKEND_NEEDS_TRAIN | (strcmp(v->name, "none") ? BACKEND_NEEDS_MIX : 0);
    opt.be = backend_select(o->device, needs, &bo);
    if (!opt.be) clft_die("bench_moco: %s", clft_last_error());
    opt.variant = variant_instantiate(v, &vopt, opt.be, opt.N, net->model.head_dim, opt.K);
    Moco mc;
    if (moco_init(&mc, &opt) != CLFT_OK) clft_die("bench_moco: %s", clft_last_error());
    model_print_summary(&mc.q, stderr); /* the arenas: the device memory a GPU run holds */
    model_print_summary(&mc.k, stderr);
    const size_t n = (size_t)o->batch * net->C * net->H * net->H;
    float *x1 = xmalloc(n * sizeof(float)), *x2 = xmalloc(n * sizeof(float)); /* (N, C, H, W) */
    Rng rng;
    rng_init(&rng, 2, RNG_STREAM_DATA, 0, 0);
    for (size_t i = 0; i < n; i++) {
        x1[i] = (float)rng_normal(&rng);
        x2[i] = (float)rng_normal(&rng);
    }
    SgdOptions sgd = {.lr = 0.03f, .momentum = 0.9f, .weight_decay = 1e-4f};
    MocoStepResult res;
    for (int s = 0; s < o->warmup; s++)
        moco_step(&mc, x1, x2, &sgd, 0, &res);
    opt.be->synchronize();
    double t0 = now_s();
    for (int s = 0; s < o->steps; s++)
        moco_step(&mc, x1, x2, &sgd, 0, &res);
    opt.be->synchronize(); /* the last step's backward and update have run */
    double dt = now_s() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("img_s=%.3f rss_mb=%.1f loss=%.4f\n", (double)o->batch * o->steps / dt,
           (double)ru.ru_maxrss / 1024.0, res.loss);
    free(x1);
    free(x2);
    moco_free(&mc);
    variant_release(v, &opt.variant);
    return 0;
}

/* Runs `cmd`, parses its last `img_s=X rss_mb=Y [gpu_mb=Z]` line; 0 on success. */
static int measure(const char *cmd, double *img_s, double *rss_mb, double *gpu_mb)
{
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    char line[512];
    int ok = 0;
    while (fgets(line, sizeof line, p)) {
        const char *a = strstr(line, "img_s="), *b = strstr(line, "rss_mb=");
        const char *g = strstr(line, "gpu_mb=");
        if (a && b) {
            *img_s = atof(a + 6);
            *rss_mb = atof(b + 7);
            if (g) *gpu_mb = atof(g + 7);
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

/* One row of --csv (header first when the file is new or empty). */
static void csv_row(const BenchOptions *o, const char *net, double c, double t, double crss,
                    double trss, double tgpu, const char *status)
{
    FILE *f = fopen(o->csv, "a");
    if (!f) clft_die("bench_moco: cannot append to %s", o->csv);
    fseek(f, 0, SEEK_END);
    if (ftell(f) == 0)
        fprintf(f, "net,device,precision,variant,batch,K,clft_img_s,torch_img_s,ratio,"
                   "clft_rss_mb,torch_rss_mb,torch_gpu_mb,status\n");
    fprintf(f, "%s,%s,%s,%s,%d,%d,%.1f,%.1f,%.3f,%.0f,%.0f,%.0f,%s\n", net, o->device,
            o->precision, o->variant, o->batch, o->K, c, t, c / t, crss, trss, tgpu, status);
    fclose(f);
}

static void bench_net(const BenchNet *net, const char *self, const BenchOptions *o)
{
    double ci[MAX_ROUNDS], ti[MAX_ROUNDS], crss = 0.0, trss = 0.0, tgpu = NAN;
    int nc = 0, nt = 0;
    char ccmd[4400], tcmd[4400];
    snprintf(ccmd, sizeof ccmd,
             "'%s' --child %s %d %d --device %s --precision %s --variant %s --batch %d --K %d "
             "--threads %d",
             self, net->name, o->warmup, o->steps, o->device, o->precision, o->variant, o->batch,
             o->K, o->threads);
    snprintf(tcmd, sizeof tcmd,
             "%s %s/bench/bench_moco_torch.py --net %s --warmup %d --steps %d --batch %d --K %d "
             "--groups %d --device %s --precision %s --variant %s --threads %d",
             o->python, CLFT_SOURCE_DIR, net->name, o->warmup, o->steps, o->batch, o->K,
             BN_GROUPS, o->device, o->precision, o->variant, o->threads);
    for (int r = 0; r < o->rounds; r++) {
        double v, rss, gpu = NAN;
        if (measure(ccmd, &v, &rss, &gpu) == 0) {
            ci[nc++] = v;
            if (rss > crss) crss = rss;
            fprintf(stderr, "  %s round %d: clft %.1f img/s (%.0f MB)\n", net->name, r, v, rss);
        }
        if (o->torch && measure(tcmd, &v, &rss, &gpu) == 0) {
            ti[nt++] = v;
            if (rss > trss) trss = rss;
            if (!(gpu <= tgpu)) tgpu = gpu;
            fprintf(stderr, "  %s round %d: torch %.1f img/s (%.0f MB)\n", net->name, r, v, rss);
        }
    }
    double c = best(ci, nc), t = best(ti, nt);
    const char *status = nc && (nt || !o->torch) ? "ok" : !nc && !nt ? "both_failed"
                                                  : !nc             ? "clft_failed"
                                                                    : "torch_failed";
    printf("moco_step net=%s device=%s precision=%s variant=%s batch=%d K=%d clft_img_s=%.1f "
           "torch_img_s=%.1f ratio=%.3f clft_rss_mb=%.0f torch_rss_mb=%.0f torch_gpu_mb=%.0f\n",
           net->name, o->device, o->precision, o->variant, o->batch, o->K, c, t, c / t,
           nc ? crss : NAN, nt ? trss : NAN, tgpu);
    fflush(stdout);
    if (o->csv) csv_row(o, net->name, c, t, nc ? crss : NAN, nt ? trss : NAN, tgpu, status);
    if (nc == 0 && !o->csv) clft_die("bench_moco: the clft child failed for net %s", net->name);
}

static int int_arg(const char *s, const char *what)
{
    long v;
    if (parse_int(s, 0, 1 << 20, &v) != CLFT_OK)
        clft_die("bench_moco: %s: %s", what, clft_last_error());
    return (int)v;
}

static const BenchNet *find_net(const char *name)
{
    for (int i = 0; i < N_NETS; i++)
        if (!strcmp(nets[i].name, name)) return &nets[i];
    clft_die("bench_moco: unknown net '%s' (mini, mini32, resnet18, resnet50, all)", name);
}

/* The net's batch, queue and step counts where the options leave them at 0. */
static BenchOptions resolve(const BenchOptions *o, const BenchNet *net)
{
    BenchOptions r = *o;
    const int gpu = strcmp(o->device, "cpu") != 0;
    if (!r.batch) r.batch = net->batch;
    if (!r.K) r.K = net->K;
    if (!r.warmup) r.warmup = gpu ? 3 : net->warmup;
    if (!r.steps) r.steps = gpu ? 10 : net->steps;
    return r;
}

/* Parses the settings shared by parent and child; returns how many arguments it took (0: none). */
static int settings_arg(BenchOptions *o, int argc, char **argv, int i)
{
    if (i + 1 >= argc) return 0;
    const char *a = argv[i], *v = argv[i + 1];
    if (!strcmp(a, "--device")) o->device = v;
    else if (!strcmp(a, "--precision")) o->precision = v;
    else if (!strcmp(a, "--variant")) o->variant = v;
    else if (!strcmp(a, "--batch")) o->batch = int_arg(v, "--batch");
    else if (!strcmp(a, "--K")) o->K = int_arg(v, "--K");
    else if (!strcmp(a, "--warmup")) o->warmup = int_arg(v, "--warmup");
    else if (!strcmp(a, "--steps")) o->steps = int_arg(v, "--steps");
    else if (!strcmp(a, "--rounds")) o->rounds = int_arg(v, "--rounds");
    else if (!strcmp(a, "--threads")) o->threads = int_arg(v, "--threads");
    else if (!strcmp(a, "--python")) o->python = v;
    else if (!strcmp(a, "--csv")) o->csv = v;
    else return 0;
    return 2;
}

#define USAGE                                                                                      \
    "usage: bench_moco [--net mini|mini32|resnet18|resnet50|all] [--rounds R] "                   \
    "[--device cpu|cuda] [--precision fp32|tf32|bf16] [--variant none|ft] [--batch N] [--K K] "   \
    "[--warmup W] [--steps S] [--threads T] [--python PY] [--no-torch] [--csv FILE]"

int main(int argc, char **argv)
{
    blas_setup(argv);
    /* torch: the PyTorch 2.15 that scripts/bench.sh installs into .venv-bench/, where it is */
    static char venv_python[4200];
    snprintf(venv_python, sizeof venv_python, "%s/.venv-bench/bin/python3", CLFT_SOURCE_DIR);
    BenchOptions o = {.device = "cpu", .precision = "fp32", .variant = "none", .rounds = 3, .threads = 2,
                      .python = access(venv_python, X_OK) == 0 ? venv_python : "/usr/bin/python3",
                      .torch = 1};
    if (argc >= 5 && !strcmp(argv[1], "--child")) {
        for (int i = 5; i < argc;) {
            int used = settings_arg(&o, argc, argv, i);
            if (!used) clft_die("bench_moco --child: unknown argument '%s'", argv[i]);
            i += used;
        }
        const BenchNet *net = find_net(argv[2]);
        BenchOptions r = resolve(&o, net);
        r.warmup = int_arg(argv[3], "warmup"); /* as the parent resolved them */
        r.steps = int_arg(argv[4], "steps");
        return run_child(net, &r);
    }
    const char *which = "all";
    for (int i = 1; i < argc;) {
        int used = settings_arg(&o, argc, argv, i);
        if (used) {
            i += used;
        } else if (!strcmp(argv[i], "--net") && i + 1 < argc) {
            which = argv[i + 1];
            i += 2;
        } else if (!strcmp(argv[i], "--no-torch")) {
            o.torch = 0;
            i++;
        } else {
            clft_die(USAGE);
        }
    }
    if (o.rounds < 1 || o.rounds > MAX_ROUNDS)
        clft_die("bench_moco: --rounds must be 1 to %d", MAX_ROUNDS);
    (void)precision_of(o.precision);
    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) clft_die("bench_moco: cannot read /proc/self/exe");
    self[len] = '\0';
    const int gpu = strcmp(o.device, "cpu") != 0;
    printf("blas_core=%s (%s) threads=%d device=%s precision=%s variant=%s bn_groups=%d\n",
           blas_core_name(), blas_core_origin(), o.threads, o.device, o.precision, o.variant,
           BN_GROUPS);
    fflush(stdout);
    int ran = 0;
    for (int i = 0; i < N_NETS; i++) {
        const int named = !strcmp(which, nets[i].name);
        if (!named && !(!strcmp(which, "all") && (gpu || !nets[i].gpu_only))) continue;
        BenchOptions r = resolve(&o, &nets[i]);
        bench_net(&nets[i], self, &r);
        ran++;
    }
    if (!ran) find_net(which); /* dies naming the nets */
    return 0;
}

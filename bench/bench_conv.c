/* bench_conv.c — conv2d throughput (forward, backward-data, backward-weight) for every distinct
 * convolution shape of the two encoders clft trains on CPU, against this machine's sgemm peak.
 *
 *   (i)  resnet18 with the small-image stem (3x3/1 stem, no max-pool), 32x32x3 input, batch 256;
 *   (ii) a small 3-stage ResNet (widths 32/64/128, basic blocks, small stem), 28x28x1, batch 256.
 * Each shape is planned as the model plans it (be->conv2d_plan, at --precision). GFLOP/s use
 * 2·N·C_out·H_out·W_out·C_in·KH·KW per pass. Backward-weight is timed on a weights-only plan;
 * backward-data as the full backward minus that (noisy: a difference of two timings), n/a for the
 * first layer (the model never computes its input gradient) or when the difference is not
 * positive; bwd_gflops is the backward the model runs. Each pass is run once to warm up, then
 * `--reps` times; the best time counts. To keep the run short, resnet18 is timed on a batch of 64
 * (`--batch18`): GFLOP/s is a rate, so it stands for batch 256 at these GEMM sizes.
 *
 * At bf16 the kernels are the ones the CPU gets (oneDNN's bf16 primitives with AMX, else its fp32
 * primitives on bf16-rounded operands: dnnl_conv.c); --bf16-kernels bf16|fp32 forces one, to
 * compare them.
 *
 * Usage: bench_conv [--reps R] [--batch18 N] [--batch-small N] [--precision fp32|bf16]
 *                   [--bf16-kernels bf16|fp32]
 */
#include <cblas.h>
#include <dnnl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend/backend.h"
#include "core/backend/blas.h"
#include "core/backend/cpu/cpu.h"
#include "core/common.h"
#include "core/nn/nn.h"
#include "core/rng.h"

/* The backend benchmarked: the CPU one. */
static const Backend *be;

typedef struct {
    const char *name;
    int C_in, H, C_out, k, stride;
} ConvLayer;

/* Distinct conv shapes of resnet18 (small stem) at 32x32 */
static const ConvLayer resnet18_layers[] = {
    {"stem", 3, 32, 64, 3, 1},           {"layer1.conv", 64, 32, 64, 3, 1},
    {"layer2.conv1", 64, 32, 128, 3, 2}, {"layer2.conv2", 128, 16, 128, 3, 1},
    {"layer2.down", 64, 32, 128, 1, 2},  {"layer3.conv1", 128, 16, 256, 3, 2},
    {"layer3.conv2", 256, 8, 256, 3, 1}, {"layer3.down", 128, 16, 256, 1, 2},
    {"layer4.conv1", 256, 8, 512, 3, 2}, {"layer4.conv2", 512, 4, 512, 3, 1},
    {"layer4.down", 256, 8, 512, 1, 2},
};
/* ... and of the small 3-stage ResNet at 28x28x1 */
static const ConvLayer small_layers[] = {
    {"stem", 1, 28, 32, 3, 1},           {"stage1.conv", 32, 28, 32, 3, 1},
    {"stage2.conv1", 32, 28, 64, 3, 2},  {"stage2.conv2", 64, 14, 64, 3, 1},
    {"stage2.down", 32, 28, 64, 1, 2},   {"stage3.conv1", 64, 14, 128, 3, 2},
    {"stage3.conv2", 128, 7, 128, 3, 1}, {"stage3.down", 64, 14, 128, 1, 2},
};

/* Best-of-reps GFLOP/s of oneDNN's matmul on 2048² × 2048² in fp32 or bf16 (fp32 output): why the
 * head's GEMMs stay OpenBLAS fp32 in bf16 runs (Debian's OpenBLAS has no bf16 GEMM, and oneDNN's
 * bf16 one is slower than fp32 on a CPU without AMX). */
static double dnnl_matmul_gflops(int bf16, int reps)
{
    const int n = 2048;
    dnnl_engine_t eng;
    dnnl_stream_t st;
    if (dnnl_engine_create(&eng, dnnl_cpu, 0) != dnnl_success) return NAN;
    dnnl_stream_create(&st, eng, dnnl_stream_default_flags);
    const dnnl_dims_t d = {n, n};
    const dnnl_data_type_t dt = bf16 ? dnnl_bf16 : dnnl_f32;
    dnnl_memory_desc_t a, b, c;
    dnnl_memory_desc_init_by_tag(&a, 2, d, dt, dnnl_ab);
    dnnl_memory_desc_init_by_tag(&b, 2, d, dt, dnnl_ab);
    dnnl_memory_desc_init_by_tag(&c, 2, d, dnnl_f32, dnnl_ab);
    dnnl_matmul_desc_t md;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    double best = NAN;
    if (dnnl_matmul_desc_init(&md, &a, &b, NULL, &c) == dnnl_success &&
        dnnl_primitive_desc_create(&pd, &md, NULL, eng, NULL) == dnnl_success) {
        dnnl_primitive_create(&prim, pd);
        dnnl_memory_t m[3];
        dnnl_memory_create(&m[0], &a, eng, DNNL_MEMORY_ALLOCATE);
        dnnl_memory_create(&m[1], &b, eng, DNNL_MEMORY_ALLOCATE);
        dnnl_memory_create(&m[2], &c, eng, DNNL_MEMORY_ALLOCATE);
        for (int i = 0; i < 2; i++) { /* zeros: the timing does not depend on the values */
            void *h;
            dnnl_memory_get_data_handle(m[i], &h);
            memset(h, 0, (size_t)n * n * (bf16 ? 2 : 4));
        }
        dnnl_exec_arg_t args[3] = {
            {DNNL_ARG_SRC, m[0]}, {DNNL_ARG_WEIGHTS, m[1]}, {DNNL_ARG_DST, m[2]}};
        for (int it = 0; it <= reps; it++) {
            double t0 = clft_now();
            dnnl_primitive_execute(prim, st, 3, args);
            dnnl_stream_wait(st);
            double g = 2.0 * n * (double)n * n / (clft_now() - t0) / 1e9;
            if (it > 0 && !(g <= best)) best = g;
        }
        for (int i = 0; i < 3; i++)
            dnnl_memory_destroy(m[i]);
        dnnl_primitive_destroy(prim);
        dnnl_primitive_desc_destroy(pd);
    }
    dnnl_stream_destroy(st);
    dnnl_engine_destroy(eng);
    return best;
}

/* Best-of-reps square sgemm GFLOP/s over sizes 1024 and 2048. */
static double sgemm_peak(int reps)
{
    double best = 0.0;
    static const int sizes[] = {1024, 2048};
    Rng r;
    rng_init(&r, 1, RNG_STREAM_DATA, 9, 0);
    for (int s = 0; s < 2; s++) {
        const int n = sizes[s];
        size_t nn = (size_t)n * n;
        float *a = xmalloc(sizeof(float) * nn), *b = xmalloc(sizeof(float) * nn);
        float *c = xmalloc(sizeof(float) * nn);
        for (size_t i = 0; i < nn; i++)
            a[i] = (float)rng_uniform(&r), b[i] = (float)rng_uniform(&r);
        for (int it = 0; it <= reps; it++) {
            double t0 = clft_now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f,
                        c, n);
            double g = 2.0 * n * (double)n * n / (clft_now() - t0) / 1e9;
            if (it > 0 && g > best) best = g;
        }
        free(a), free(b), free(c);
    }
    return best;
}

typedef enum { PASS_FWD, PASS_BWD } ConvPass;

/* Best of `reps` timed runs (after one warm-up) of the forward or of the backward the plan is for
 * (weights only, or weights and input). */
static double time_pass(ConvPass p, const ConvShape *s, float *bufs[7], int reps)
{
    float *in = bufs[0], *w = bufs[1], *out = bufs[2], *dout = bufs[3];
    float *din = s->grads == CONV_GRADS_ALL ? bufs[4] : NULL, *dw = bufs[5], *ws = bufs[6];
    double best = 1e30;
    for (int it = 0; it <= reps; it++) {
        double t0 = clft_now();
        if (p == PASS_FWD)
            be->conv2d_forward(out, in, w, s, ws);
        else
            be->conv2d_backward(din, dw, dout, in, w, s, ws);
        double t = clft_now() - t0;
        if (it > 0 && t < best) best = t;
    }
    return best;
}

/* A shape planned for `grads` (as the model plans it), its buffers, and the best times. */
static void time_shape(ConvShape *s, ConvGrads grads, int reps, double *tf, double *tb)
{
    s->grads = grads;
    s->din_set = 1;
    if (conv2d_shape(s) != 0) clft_die("bench_conv: %s", clft_last_error());
    if (be->conv2d_plan && be->conv2d_plan(s) != CLFT_OK)
        clft_die("bench_conv: %s", clft_last_error());
    size_t ni = (size_t)s->N * s->C_in * s->H * s->W, nw = (size_t)s->C_out * s->C_in * s->KH * s->KW;
    size_t no = (size_t)s->N * s->C_out * s->H_out * s->W_out;
    size_t sizes[7] = {ni, nw, no, no, ni, nw, be->conv2d_workspace_floats(s)};
    float *bufs[7];
    Rng r;
    rng_init(&r, 2, RNG_STREAM_DATA, 0, 0);
    for (int i = 0; i < 7; i++) {
        bufs[i] = xaligned_alloc(sizeof(float) * (sizes[i] ? sizes[i] : 1));
        for (size_t j = 0; j < sizes[i]; j++) bufs[i][j] = (float)rng_normal(&r) * 0.1f;
    }
    *tf = time_pass(PASS_FWD, s, bufs, reps);
    *tb = time_pass(PASS_BWD, s, bufs, reps);
    for (int i = 0; i < 7; i++) free(bufs[i]);
    if (be->conv2d_unplan) be->conv2d_unplan(s);
}

/* "%.1f" of a rate, or n/a when nothing was timed (t ≤ 0). */
static const char *rate(char *buf, double gflop, double t)
{
    if (t > 0)
        snprintf(buf, 32, "%.1f", gflop / t);
    else
        snprintf(buf, 32, "n/a");
    return buf;
}

static void bench_layer(const char *net, const ConvLayer *L, int first, int N, int batch_nominal,
                        int reps, double peak)
{
    ConvShape s = {.N = N, .C_in = L->C_in, .H = L->H, .W = L->H, .C_out = L->C_out, .KH = L->k,
                   .KW = L->k, .stride = L->stride, .pad = L->k / 2};
    /* As the model plans it: the first layer computes no input gradient. Backward-weight alone
     * is timed on a weights-only plan; backward-data is the difference to the full backward
     * (n/a for the first layer, whose model never computes it, or when noise makes it ≤ 0). */
    double tf, tw, ta = 0.0, tdummy;
    time_shape(&s, CONV_GRADS_WEIGHT, reps, &tf, &tw);
    if (!first) time_shape(&s, CONV_GRADS_ALL, reps, &tdummy, &ta);
    const double td = first ? 0.0 : ta - tw;
    const double gflop = 2.0 * N * s.C_out * s.H_out * s.W_out * (double)s.C_in * s.KH * s.KW / 1e9;
    const double tb = first ? tw : ta; /* the backward the model runs */
    char b1[32], b2[32], b3[32], b4[32];
    printf("conv net=%s layer=%s shape=%dx%dx%d->%dx%dx%d k=%d stride=%d timed_batch=%d "
           "fwd_gflops=%s bwd_data_gflops=%s bwd_weight_gflops=%s bwd_gflops=%s "
           "fwd_peak_ratio=%.2f step_ms_batch%d=%.1f\n",
           net, L->name, s.C_in, s.H, s.W, s.C_out, s.H_out, s.W_out, L->k, L->stride, N,
           rate(b1, gflop, tf), td > 0 ? rate(b2, gflop, td) : "n/a", rate(b3, gflop, tw),
           rate(b4, (first ? 1.0 : 2.0) * gflop, tb), gflop / tf / peak, batch_nominal,
           (tf + tb) * 1e3 * batch_nominal / N);
    fflush(stdout);
}

static long arg_long(int argc, char **argv, const char *key, long dflt)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], key) == 0) {
            long v;
            if (parse_int(argv[i + 1], 1, 4096, &v) != CLFT_OK)
                clft_die("bench_conv: %s: %s", key, clft_last_error());
            return v;
        }
    return dflt;
}

int main(int argc, char **argv)
{
    blas_setup(argv);
    const char *prec = "fp32", *kernels = NULL;
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--precision") == 0) prec = argv[i + 1];
        if (strcmp(argv[i], "--bf16-kernels") == 0) kernels = argv[i + 1];
    }
    if (strcmp(prec, "fp32") && strcmp(prec, "bf16"))
        clft_die("bench_conv: --precision %s: fp32 or bf16", prec);
    if (kernels && strcmp(kernels, "bf16") && strcmp(kernels, "fp32"))
        clft_die("bench_conv: --bf16-kernels %s: bf16 or fp32", kernels);
    const BackendOptions bo = {.precision = strcmp(prec, "bf16") ? PRECISION_FP32 : PRECISION_BF16};
    be = backend_select("cpu", BACKEND_NEEDS_TRAIN, &bo);
    if (!be) clft_die("bench_conv: %s", clft_last_error());
    if (kernels) dnnl_set_bf16_native(!strcmp(kernels, "bf16"));
    if (!strcmp(prec, "bf16"))
        printf("bf16_kernels=%s (oneDNN's %s primitives%s)\n", dnnl_bf16_native() ? "bf16" : "fp32",
               dnnl_bf16_native() ? "bf16" : "fp32",
               dnnl_bf16_native() ? ""
                                  : " on bf16-rounded operands, the conversions timed with them");
    const int reps = (int)arg_long(argc, argv, "--reps", 2);
    const int b18 = (int)arg_long(argc, argv, "--batch18", 64);
    const int bsmall = (int)arg_long(argc, argv, "--batch-small", 256);
    double peak = sgemm_peak(3);
    printf("sgemm_peak threads=%d gflops=%.1f precision=%s core=%s (%s)\n", blas_get_threads(), peak, prec,
           blas_core_name(), blas_core_origin());
    if (!strcmp(prec, "bf16"))
        printf("dnnl_matmul n=2048 fp32_gflops=%.1f bf16_gflops=%.1f\n", dnnl_matmul_gflops(0, 3),
               dnnl_matmul_gflops(1, 3));
    printf("# resnet18 timed at batch %d, small net at batch %d; GFLOP/s are rates, step_ms is "
           "fwd + full bwd scaled to batch 256\n",
           b18, bsmall);
    fflush(stdout);
    double t0 = clft_now();
    for (size_t i = 0; i < sizeof resnet18_layers / sizeof resnet18_layers[0]; i++)
        bench_layer("resnet18_s32", &resnet18_layers[i], i == 0, b18, 256, reps, peak);
    for (size_t i = 0; i < sizeof small_layers / sizeof small_layers[0]; i++)
        bench_layer("resnet_small3_s28", &small_layers[i], i == 0, bsmall, 256, reps, peak);
    printf("# total bench time %.1f s\n", clft_now() - t0);
    return 0;
}

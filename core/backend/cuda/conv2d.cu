/* conv2d.cu — 2-D convolution (no bias) through cuDNN's legacy C API: the cross-correlation of
 * torch.nn.functional.conv2d on NCHW tensors, weight (C_out, C_in, KH, KW), as
 * core/backend/cpu/conv2d.c.
 *
 * A plan per shape (ConvShape → s->plan, made once at model init by conv2d_plan): the tensor,
 * filter and convolution descriptors, and one algorithm per direction (forward, backward data,
 * backward filter) chosen once from cuDNN's heuristics (cudnnGet*Algorithm_v7, in their order of
 * expected speed), as PyTorch does with cudnn.benchmark off: the first candidate that succeeded,
 * is deterministic when BackendOptions.deterministic asks for it (CUDNN_DETERMINISTIC), has a math
 * type the precision allows, and needs at most CONV_WS_CAP bytes of workspace. The heuristics are
 * a fixed function of device, library and shape, so the choice — and a deterministic run's bits —
 * repeat. Each direction gets its own convolution descriptor so that each runs with the math type
 * of its own algorithm (cuDNN 7.4+ picks tensor-core kernels by algorithm AND math type).
 *   fp32  descriptors in CUDNN_FMA_MATH and only FMA algorithms: no TF32 anywhere; and only the
 *         GEMM-like algorithms (no FFT, no Winograd: their transforms lose accuracy);
 *   tf32  CUDNN_DEFAULT_MATH (TF32 tensor cores allowed on sm_80+);
 *   bf16  bf16 NCHW tensors, fp32 compute (PSEUDO_BFLOAT16_CONFIG), CUDNN_TENSOR_OP_MATH; the
 *         fp32 operands are rounded into bf16 copies in the workspace and the bf16 results
 *         converted back (cuda.h).
 * CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION (fp32 → fp16 behind our back) is never accepted. A shape
 * with no bf16 algorithm at all falls back to tf32 (the closest tensor-core arithmetic) rather than
 * failing the run. CLFT_CUDA_VERBOSE=1 prints every plan (algorithms, math types, workspace).
 *
 * Semantics as the CPU: forward writes out; backward ACCUMULATES into dweight and, when din is
 * not NULL, into din (beta = 1; in bf16 the bf16 gradients are converted and added) — or writes
 * din when it is din's first writer (s->din_set: beta = 0, no zeroing pass).
 * Workspace (conv2d_workspace_floats, one buffer of the model shared by every conv): the largest
 * cuDNN workspace of the three algorithms, after (bf16 only) the bf16 copies
 *   x (N·C_in·H·W) | w (C_out·C_in·KH·KW) | y or dy (N·C_out·H_out·W_out) | dx (as x) | dw (as w).
 *
 * Plans are shared by every ConvShape with the same shape (a process-wide list, reference
 * counted): the query and key encoders plan their identical convolutions once. An op handed a
 * shape with no plan (s->plan NULL: a shape that never went through conv2d_plan, e.g. the parity
 * tests') finds or makes the plan of its shape in that list, where it stays.
 */
#include <cuda_bf16.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend/cuda/cuda_util.cuh"

/* The most workspace one algorithm may ask for (bytes): beyond it the next candidate is taken. */
#define CONV_WS_CAP ((size_t)1 << 30)

typedef struct ConvPlanCuda {
    struct ConvPlanCuda *next;
    int refs; /* conv2d_plan calls not yet undone by conv2d_unplan */
    int N, C_in, H, W, C_out, KH, KW, stride, pad, H_out, W_out;
    Precision asked;     /* the run's precision when planned (the key) */
    Precision precision; /* what it computes in: `asked`, or tf32 where cuDNN has no bf16 kernel */
    int deterministic;
    cudnnTensorDescriptor_t x, y;         /* (N, C_in, H, W), (N, C_out, H_out, W_out) */
    cudnnFilterDescriptor_t w;            /* (C_out, C_in, KH, KW) */
    cudnnConvolutionDescriptor_t conv[3]; /* per direction, with its algorithm's math type */
    cudnnConvolutionFwdAlgo_t fwd;
    cudnnConvolutionBwdDataAlgo_t bwd_data;
    cudnnConvolutionBwdFilterAlgo_t bwd_filter;
    size_t dnn_ws;        /* bytes: the largest cuDNN workspace of the three */
    size_t n_x, n_w, n_y; /* elements of input, weight, output */
    size_t off_w, off_y, off_dx, off_dw, off_dnn; /* byte offsets in the workspace (bf16 copies) */
    size_t ws_bytes;
} ConvPlanCuda;

enum { DIR_FWD, DIR_BWD_DATA, DIR_BWD_FILTER };

static ConvPlanCuda *plans; /* every live plan */

static int plan_matches(const ConvPlanCuda *p, const ConvShape *s)
{
    return p->N == s->N && p->C_in == s->C_in && p->H == s->H && p->W == s->W &&
           p->C_out == s->C_out && p->KH == s->KH && p->KW == s->KW && p->stride == s->stride &&
           p->pad == s->pad && p->asked == cuda_ctx.precision &&
           p->deterministic == cuda_ctx.deterministic;
}

/* One heuristic candidate, whatever its direction. */
typedef struct {
    int algo;
    cudnnStatus_t status;
    cudnnDeterminism_t determinism;
    cudnnMathType_t math;
} Candidate;

static cudnnMathType_t base_math(Precision prec)
{
    switch (prec) {
    case PRECISION_TF32:
        return CUDNN_DEFAULT_MATH;
    case PRECISION_BF16:
        return CUDNN_TENSOR_OP_MATH;
    default:
        return CUDNN_FMA_MATH;
    }
}

static int math_allowed(Precision prec, cudnnMathType_t m)
{
    if (m == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) return 0;
    return prec != PRECISION_FP32 || m == CUDNN_FMA_MATH;
}

/* Strict fp32 takes only the GEMM-like algorithms (implicit / explicit GEMM, direct): FFT and
 * Winograd transforms trade accuracy for speed (errors near 1e-5 relative, the fp32 parity
 * budget), which `fp32` does not ask for; tf32 and bf16 allow them. */
static int algo_allowed(Precision prec, int dir, int algo)
{
    if (prec != PRECISION_FP32) return 1;
    switch (dir) {
    case DIR_FWD:
        return algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM ||
               algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM ||
               algo == CUDNN_CONVOLUTION_FWD_ALGO_GEMM || algo == CUDNN_CONVOLUTION_FWD_ALGO_DIRECT;
    case DIR_BWD_DATA:
        return algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_0 ||
               algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_1;
    default:
        return algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0 ||
               algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1 ||
               algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3;
    }
}

/* The workspace of `algo` in direction `dir` with the plan's descriptors; a status, as cuDNN
 * refuses a configuration it cannot run here. */
static cudnnStatus_t dir_workspace(const ConvPlanCuda *p, int dir, int algo, size_t *bytes)
{
    cudnnHandle_t h = cuda_ctx.dnn;
    switch (dir) {
    case DIR_FWD:
        return cudnnGetConvolutionForwardWorkspaceSize(h, p->x, p->w, p->conv[dir], p->y,
                                                       (cudnnConvolutionFwdAlgo_t)algo, bytes);
    case DIR_BWD_DATA:
        return cudnnGetConvolutionBackwardDataWorkspaceSize(
            h, p->w, p->y, p->conv[dir], p->x, (cudnnConvolutionBwdDataAlgo_t)algo, bytes);
    default:
        return cudnnGetConvolutionBackwardFilterWorkspaceSize(
            h, p->x, p->y, p->conv[dir], p->w, (cudnnConvolutionBwdFilterAlgo_t)algo, bytes);
    }
}

/* cuDNN's heuristic candidates of direction `dir`, best first; returns their number. */
static int dir_candidates(const ConvPlanCuda *p, int dir, Candidate *c, int cap)
{
    cudnnHandle_t h = cuda_ctx.dnn;
    int got = 0;
    if (dir == DIR_FWD) {
        cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
        CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(
            h, p->x, p->w, p->conv[dir], p->y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &got, perf));
        for (int i = 0; i < got && i < cap; i++)
            c[i] = (Candidate){perf[i].algo, perf[i].status, perf[i].determinism, perf[i].mathType};
    } else if (dir == DIR_BWD_DATA) {
        cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
        CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(
            h, p->w, p->y, p->conv[dir], p->x, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &got, perf));
        for (int i = 0; i < got && i < cap; i++)
            c[i] = (Candidate){perf[i].algo, perf[i].status, perf[i].determinism, perf[i].mathType};
    } else {
        cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
        CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(
            h, p->x, p->y, p->conv[dir], p->w, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &got,
            perf));
        for (int i = 0; i < got && i < cap; i++)
            c[i] = (Candidate){perf[i].algo, perf[i].status, perf[i].determinism, perf[i].mathType};
    }
    return got < cap ? got : cap;
}

/* Chooses direction `dir`'s algorithm (its math type set on conv[dir]); the fallback is the
 * deterministic implicit GEMM of each direction in the precision's own math type. */
static ClftStatus choose_algo(ConvPlanCuda *p, int dir, int *algo, size_t *ws)
{
    Candidate c[16];
    int n = dir_candidates(p, dir, c, 16);
    for (int i = 0; i < n; i++) {
        if (c[i].status != CUDNN_STATUS_SUCCESS || !math_allowed(p->precision, c[i].math) ||
            !algo_allowed(p->precision, dir, c[i].algo))
            continue;
        if (p->deterministic && c[i].determinism != CUDNN_DETERMINISTIC) continue;
        CUDNN_CHECK(cudnnSetConvolutionMathType(p->conv[dir], c[i].math));
        if (dir_workspace(p, dir, c[i].algo, ws) != CUDNN_STATUS_SUCCESS || *ws > CONV_WS_CAP)
            continue;
        *algo = c[i].algo;
        return CLFT_OK;
    }
    static const int fallback[3] = {CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM,
                                    CUDNN_CONVOLUTION_BWD_DATA_ALGO_1,
                                    CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1};
    CUDNN_CHECK(cudnnSetConvolutionMathType(p->conv[dir], base_math(p->precision)));
    cudnnStatus_t st = dir_workspace(p, dir, fallback[dir], ws);
    if (st != CUDNN_STATUS_SUCCESS) {
        static const char *const names[3] = {"forward", "backward data", "backward filter"};
        clft_set_error("cuDNN has no %s algorithm for conv %dx%dx%d k%dx%d s%d p%d -> %d "
                       "(batch %d): %s",
                       names[dir], p->C_in, p->H, p->W, p->KH, p->KW, p->stride, p->pad, p->C_out,
                       p->N, cudnnGetErrorString(st));
        return CLFT_ERR_VALUE;
    }
    *algo = fallback[dir];
    return CLFT_OK;
}

static size_t align256(size_t b)
{
    return (b + 255) & ~(size_t)255;
}

static void plan_destroy(ConvPlanCuda *p)
{
    CUDNN_CHECK(cudnnDestroyTensorDescriptor(p->x));
    CUDNN_CHECK(cudnnDestroyTensorDescriptor(p->y));
    CUDNN_CHECK(cudnnDestroyFilterDescriptor(p->w));
    for (int d = 0; d < 3; d++)
        CUDNN_CHECK(cudnnDestroyConvolutionDescriptor(p->conv[d]));
    free(p);
}

static void plan_describe(ConvPlanCuda *p)
{
    const cudnnDataType_t dt =
        p->precision == PRECISION_BF16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->x));
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->y));
    CUDNN_CHECK(cudnnCreateFilterDescriptor(&p->w));
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->x, CUDNN_TENSOR_NCHW, dt, p->N, p->C_in, p->H, p->W));
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->y, CUDNN_TENSOR_NCHW, dt, p->N, p->C_out, p->H_out,
                                           p->W_out));
    CUDNN_CHECK(
        cudnnSetFilter4dDescriptor(p->w, dt, CUDNN_TENSOR_NCHW, p->C_out, p->C_in, p->KH, p->KW));
    for (int d = 0; d < 3; d++) {
        CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&p->conv[d]));
        CUDNN_CHECK(cudnnSetConvolution2dDescriptor(p->conv[d], p->pad, p->pad, p->stride,
                                                    p->stride, 1, 1, CUDNN_CROSS_CORRELATION,
                                                    CUDNN_DATA_FLOAT));
        CUDNN_CHECK(cudnnSetConvolutionMathType(p->conv[d], base_math(p->precision)));
    }
    int n, c, h, w; /* cuDNN's output size must be conv2d_shape's */
    CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(p->conv[0], p->x, p->w, &n, &c, &h, &w));
    ASSERT(n == p->N && c == p->C_out && h == p->H_out && w == p->W_out);
}

/* The bf16 copies' offsets, then cuDNN's workspace. */
static void plan_layout(ConvPlanCuda *p)
{
    size_t off = 0;
    if (p->precision == PRECISION_BF16) {
        const size_t h = sizeof(__nv_bfloat16);
        off = align256(p->n_x * h);
        p->off_w = off;
        off += align256(p->n_w * h);
        p->off_y = off;
        off += align256(p->n_y * h);
        p->off_dx = off;
        off += align256(p->n_x * h);
        p->off_dw = off;
        off += align256(p->n_w * h);
    }
    p->off_dnn = off;
    p->ws_bytes = off + p->dnn_ws;
}

/* CLFT_CUDA_VERBOSE=1: one line per plan on stderr (the device check logs them). */
static void plan_report(const ConvPlanCuda *p)
{
    static int verbose = -1;
    if (verbose < 0) verbose = getenv("CLFT_CUDA_VERBOSE") != NULL;
    if (!verbose) return;
    static const char *const prec[] = {"fp32", "tf32", "bf16"};
    cudnnMathType_t m[3];
    for (int d = 0; d < 3; d++)
        CUDNN_CHECK(cudnnGetConvolutionMathType(p->conv[d], &m[d]));
    fprintf(stderr,
            "cuda: conv N%d %dx%dx%d k%dx%d s%d p%d -> %d: %s%s, algos fwd %d (math %d) bwd-data "
            "%d (math %d) bwd-filter %d (math %d), workspace %.1f MiB%s\n",
            p->N, p->C_in, p->H, p->W, p->KH, p->KW, p->stride, p->pad, p->C_out,
            prec[p->precision], p->precision != p->asked ? " (no bf16 algorithm)" : "", (int)p->fwd,
            (int)m[0], (int)p->bwd_data, (int)m[1], (int)p->bwd_filter, (int)m[2],
            (double)p->ws_bytes / (1 << 20), p->deterministic ? ", deterministic" : "");
}

static ConvPlanCuda *plan_make_as(const ConvShape *s, Precision prec)
{
    ASSERT(cuda_ctx.opened && s->H_out >= 1 && s->W_out >= 1);
    ConvPlanCuda *p = (ConvPlanCuda *)xcalloc(1, sizeof *p);
    p->N = s->N, p->C_in = s->C_in, p->H = s->H, p->W = s->W, p->C_out = s->C_out;
    p->KH = s->KH, p->KW = s->KW, p->stride = s->stride, p->pad = s->pad;
    p->H_out = s->H_out, p->W_out = s->W_out;
    p->asked = cuda_ctx.precision;
    p->precision = prec;
    p->deterministic = cuda_ctx.deterministic;
    p->n_x = (size_t)s->N * s->C_in * s->H * s->W;
    p->n_w = (size_t)s->C_out * s->C_in * s->KH * s->KW;
    p->n_y = (size_t)s->N * s->C_out * s->H_out * s->W_out;
    plan_describe(p);
    int a[3];
    size_t ws[3];
    for (int d = 0; d < 3; d++)
        if (choose_algo(p, d, &a[d], &ws[d]) != CLFT_OK) {
            plan_destroy(p);
            return NULL;
        }
    p->fwd = (cudnnConvolutionFwdAlgo_t)a[DIR_FWD];
    p->bwd_data = (cudnnConvolutionBwdDataAlgo_t)a[DIR_BWD_DATA];
    p->bwd_filter = (cudnnConvolutionBwdFilterAlgo_t)a[DIR_BWD_FILTER];
    p->dnn_ws = ws[0] > ws[1] ? ws[0] : ws[1];
    if (ws[2] > p->dnn_ws) p->dnn_ws = ws[2];
    plan_layout(p);
    return p;
}

/* The plan of s at the run's precision, into the list. A shape cuDNN has no bf16 algorithm for
 * (e.g. a channel count its bf16 kernels do not take) is planned in tf32 instead, the closest
 * tensor-core arithmetic, and says so under CLFT_CUDA_VERBOSE. */
static ConvPlanCuda *plan_make(const ConvShape *s)
{
    ConvPlanCuda *p = plan_make_as(s, cuda_ctx.precision);
    if (!p && cuda_ctx.precision == PRECISION_BF16) p = plan_make_as(s, PRECISION_TF32);
    if (!p) return NULL;
    plan_report(p);
    p->next = plans;
    plans = p;
    return p;
}

static ConvPlanCuda *plan_find(const ConvShape *s)
{
    for (ConvPlanCuda *p = plans; p; p = p->next)
        if (plan_matches(p, s)) return p;
    return NULL;
}

/* s's plan: its own, or the list's for its shape (made now if none). */
static const ConvPlanCuda *plan_of(const ConvShape *s)
{
    if (s->plan) return (const ConvPlanCuda *)s->plan;
    ConvPlanCuda *p = plan_find(s);
    if (!p) p = plan_make(s);
    if (!p) clft_die("%s", clft_last_error());
    return p;
}

extern "C" ClftStatus conv2d_plan_cuda(ConvShape *s)
{
    ConvPlanCuda *p = plan_find(s);
    if (!p) p = plan_make(s);
    if (!p) return CLFT_ERR_VALUE;
    p->refs++;
    s->plan = p;
    return CLFT_OK;
}

extern "C" void conv2d_unplan_cuda(ConvShape *s)
{
    ConvPlanCuda *p = (ConvPlanCuda *)s->plan;
    s->plan = NULL;
    if (!p || --p->refs > 0) return;
    for (ConvPlanCuda **l = &plans; *l; l = &(*l)->next)
        if (*l == p) {
            *l = p->next;
            break;
        }
    CUDA_CHECK(cudaStreamSynchronize(cuda_ctx.stream)); /* no queued call still uses it */
    plan_destroy(p);
}

extern "C" size_t conv2d_workspace_floats_cuda(const ConvShape *s)
{
    return (plan_of(s)->ws_bytes + sizeof(float) - 1) / sizeof(float);
}

/* ---- bf16 staging ---- */

static __global__ void to_bf16_kernel(__nv_bfloat16 *dst, const float *src, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        dst[i] = __float2bfloat16_rn(src[i]);
}

/* dst = src (accumulate 0) or dst += src (accumulate 1), in fp32. */
static __global__ void from_bf16_kernel(float *dst, const __nv_bfloat16 *src, size_t n,
                                        int accumulate)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        const float v = __bfloat162float(src[i]);
        dst[i] = accumulate ? dst[i] + v : v;
    }
}

static __nv_bfloat16 *bf16_at(float *ws, size_t off)
{
    return (__nv_bfloat16 *)((char *)ws + off);
}

static void to_bf16(__nv_bfloat16 *dst, const float *src, size_t n)
{
    to_bf16_kernel<<<cuda_grid(n), CUDA_BLOCK, 0, cuda_ctx.stream>>>(dst, src, n);
    KERNEL_CHECK();
}

static void from_bf16(float *dst, const __nv_bfloat16 *src, size_t n, int accumulate)
{
    from_bf16_kernel<<<cuda_grid(n), CUDA_BLOCK, 0, cuda_ctx.stream>>>(dst, src, n, accumulate);
    KERNEL_CHECK();
}

/* ---- the ops ---- */

extern "C" void conv2d_forward_cuda(float *out, const float *in, const float *weight,
                                    const ConvShape *s, float *ws)
{
    const ConvPlanCuda *p = plan_of(s);
    const float one = 1.0f, zero = 0.0f;
    void *dnn_ws = (char *)ws + p->off_dnn;
    if (p->precision != PRECISION_BF16) {
        CUDNN_CHECK(cudnnConvolutionForward(cuda_ctx.dnn, &one, p->x, in, p->w, weight,
                                            p->conv[DIR_FWD], p->fwd, dnn_ws, p->dnn_ws, &zero,
                                            p->y, out));
        return;
    }
    __nv_bfloat16 *xb = bf16_at(ws, 0), *wb = bf16_at(ws, p->off_w), *yb = bf16_at(ws, p->off_y);
    to_bf16(xb, in, p->n_x);
    to_bf16(wb, weight, p->n_w);
    CUDNN_CHECK(cudnnConvolutionForward(cuda_ctx.dnn, &one, p->x, xb, p->w, wb, p->conv[DIR_FWD],
                                        p->fwd, dnn_ws, p->dnn_ws, &zero, p->y, yb));
    from_bf16(out, yb, p->n_y, 0);
}

extern "C" void conv2d_backward_cuda(float *din, float *dweight, const float *dout, const float *in,
                                     const float *weight, const ConvShape *s, float *ws)
{
    const ConvPlanCuda *p = plan_of(s);
    const float one = 1.0f, zero = 0.0f;
    const float *din_beta = s->din_set ? &zero : &one;
    void *dnn_ws = (char *)ws + p->off_dnn;
    if (p->precision != PRECISION_BF16) {
        CUDNN_CHECK(cudnnConvolutionBackwardFilter(cuda_ctx.dnn, &one, p->x, in, p->y, dout,
                                                   p->conv[DIR_BWD_FILTER], p->bwd_filter, dnn_ws,
                                                   p->dnn_ws, &one, p->w, dweight));
        if (din)
            CUDNN_CHECK(cudnnConvolutionBackwardData(cuda_ctx.dnn, &one, p->w, weight, p->y, dout,
                                                     p->conv[DIR_BWD_DATA], p->bwd_data, dnn_ws,
                                                     p->dnn_ws, din_beta, p->x, din));
        return;
    }
    __nv_bfloat16 *xb = bf16_at(ws, 0), *wb = bf16_at(ws, p->off_w);
    __nv_bfloat16 *dyb = bf16_at(ws, p->off_y), *dxb = bf16_at(ws, p->off_dx);
    __nv_bfloat16 *dwb = bf16_at(ws, p->off_dw);
    to_bf16(xb, in, p->n_x);
    to_bf16(dyb, dout, p->n_y);
    CUDNN_CHECK(cudnnConvolutionBackwardFilter(cuda_ctx.dnn, &one, p->x, xb, p->y, dyb,
                                               p->conv[DIR_BWD_FILTER], p->bwd_filter, dnn_ws,
                                               p->dnn_ws, &zero, p->w, dwb));
    from_bf16(dweight, dwb, p->n_w, 1);
    if (!din) return;
    to_bf16(wb, weight, p->n_w);
    CUDNN_CHECK(cudnnConvolutionBackwardData(cuda_ctx.dnn, &one, p->w, wb, p->y, dyb,
                                             p->conv[DIR_BWD_DATA], p->bwd_data, dnn_ws, p->dnn_ws,
                                             &zero, p->x, dxb));
    from_bf16(din, dxb, p->n_x, !s->din_set);
}

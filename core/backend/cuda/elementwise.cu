/* elementwise.cu — the CUDA backend's small ops, each the formula of its CPU twin
 * (core/backend/cpu/elementwise.c, pool.c, misc.c): relu, the residual add + ReLU, y += x, zero,
 * row-wise L2 normalisation, max-pool with argmax and global average pool, the key shuffle's row
 * gather/scatter, SGD, the key encoder's EMA, softmax cross-entropy and the NaN guard's test.
 * Elementwise loops are grid-stride over 64-bit indices; per-row ops are a block per row with
 * double sums where the CPU sums in double.
 */
#include <math.h>

#include "core/backend/cuda/cuda_util.cuh"
#include "core/optim/optim.h"

#define GRID_STRIDE(i, n)                                                                          \
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n);                        \
         i += (size_t)gridDim.x * blockDim.x)

#define LAUNCH(kernel, n, ...)                                                                     \
    do {                                                                                           \
        kernel<<<cuda_grid(n), CUDA_BLOCK, 0, cuda_ctx.stream>>>(__VA_ARGS__);                     \
        KERNEL_CHECK();                                                                            \
    } while (0)

/* ---- pointwise ---- */

static __global__ void relu_forward_kernel(float *out, const float *in, size_t n)
{
    GRID_STRIDE(i, n) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

static __global__ void relu_backward_kernel(float *din, const float *dout, const float *out,
                                            size_t n)
{
    GRID_STRIDE(i, n) din[i] += out[i] > 0.0f ? dout[i] : 0.0f;
}

static __global__ void add_relu_forward_kernel(float *y, const float *a, const float *b, size_t n)
{
    GRID_STRIDE(i, n)
    {
        const float v = a[i] + b[i];
        y[i] = v > 0.0f ? v : 0.0f;
    }
}

static __global__ void add_relu_backward_kernel(float *da, float *db, const float *dout,
                                                const float *out, size_t n, int set_a, int set_b)
{
    GRID_STRIDE(i, n)
    {
        const float g = out[i] > 0.0f ? dout[i] : 0.0f;
        da[i] = set_a ? g : da[i] + g;
        db[i] = set_b ? g : db[i] + g;
    }
}

static __global__ void add_inplace_kernel(float *y, const float *x, size_t n)
{
    GRID_STRIDE(i, n) y[i] += x[i];
}

extern "C" void relu_forward_cuda(float *out, const float *in, size_t n)
{
    if (n) LAUNCH(relu_forward_kernel, n, out, in, n);
}

extern "C" void relu_backward_cuda(float *din, const float *dout, const float *out, size_t n)
{
    if (n) LAUNCH(relu_backward_kernel, n, din, dout, out, n);
}

extern "C" void add_relu_forward_cuda(float *y, const float *a, const float *b, size_t n)
{
    if (n) LAUNCH(add_relu_forward_kernel, n, y, a, b, n);
}

extern "C" void add_relu_backward_cuda(float *da, float *db, const float *dout, const float *out,
                                       size_t n, int set_a, int set_b)
{
    if (n) LAUNCH(add_relu_backward_kernel, n, da, db, dout, out, n, set_a, set_b);
}

extern "C" void add_inplace_cuda(float *y, const float *x, size_t n)
{
    if (n) LAUNCH(add_inplace_kernel, n, y, x, n);
}

extern "C" void zero_cuda(float *y, size_t n)
{
    CUDA_CHECK(cudaMemsetAsync(y, 0, n * sizeof(float), cuda_ctx.stream)); /* +0.0f bits */
}

/* ---- L2 normalisation: a block per row, sums in double ---- */

#define L2NORM_EPS 1e-12

static __global__ void l2norm_forward_kernel(float *out, float *norm, const float *in, int D)
{
    __shared__ double sh[33];
    const float *x = in + (size_t)blockIdx.x * D; /* (D) */
    double sq = 0.0;
    for (int d = threadIdx.x; d < D; d += blockDim.x)
        sq += (double)x[d] * x[d];
    sq = block_sum(sq, sh);
    double r = sqrt(sq);
    if (r < L2NORM_EPS) r = L2NORM_EPS;
    if (threadIdx.x == 0) norm[blockIdx.x] = (float)r;
    for (int d = threadIdx.x; d < D; d += blockDim.x)
        out[(size_t)blockIdx.x * D + d] = (float)(x[d] / r);
}

/* Above eps: din += (dy − y (y·dy)) / r; clamped at eps, r is a constant: din += dy / eps. */
static __global__ void l2norm_backward_kernel(float *din, const float *dout, const float *out,
                                              const float *norm, int D)
{
    __shared__ double sh[33];
    const size_t o = (size_t)blockIdx.x * D;
    const double r = norm[blockIdx.x];
    const int above = norm[blockIdx.x] > (float)L2NORM_EPS; /* in float, as the CPU */
    double dot = 0.0;
    if (above)
        for (int d = threadIdx.x; d < D; d += blockDim.x)
            dot += (double)out[o + d] * dout[o + d];
    dot = block_sum(dot, sh);
    for (int d = threadIdx.x; d < D; d += blockDim.x)
        din[o + d] += (float)((dout[o + d] - out[o + d] * dot) / r);
}

static int row_threads(int D)
{
    return D >= 256 ? 256 : D > 64 ? 128 : 64;
}

extern "C" void l2norm_forward_cuda(float *out, float *norm, const float *in, int N, int D)
{
    if (N <= 0) return;
    l2norm_forward_kernel<<<N, row_threads(D), 0, cuda_ctx.stream>>>(out, norm, in, D);
    KERNEL_CHECK();
}

extern "C" void l2norm_backward_cuda(float *din, const float *dout, const float *out,
                                     const float *norm, int N, int D)
{
    if (N <= 0) return;
    l2norm_backward_kernel<<<N, row_threads(D), 0, cuda_ctx.stream>>>(din, dout, out, norm, D);
    KERNEL_CHECK();
}

/* ---- pools ---- */

/* A thread per output: the window in row-major order, the first maximum wins, a NaN is taken
 * (and a later NaN after it), exactly the CPU's rule; argmax is the index in the (H, W) plane. */
static __global__ void maxpool_forward_kernel(float *out, int *argmax, const float *in, PoolShape s,
                                              size_t total)
{
    GRID_STRIDE(t, total)
    {
        const int ow = (int)(t % s.W_out), oh = (int)((t / s.W_out) % s.H_out);
        const size_t p = t / ((size_t)s.W_out * s.H_out);
        const float *x = in + p * s.H * s.W; /* (H, W) */
        const int h0 = oh * s.stride - s.pad, w0 = ow * s.stride - s.pad;
        float best = -INFINITY;
        int arg = -1;
        for (int ih = h0 < 0 ? 0 : h0; ih < h0 + s.k && ih < s.H; ih++)
            for (int iw = w0 < 0 ? 0 : w0; iw < w0 + s.k && iw < s.W; iw++) {
                const float v = x[ih * s.W + iw];
                if (arg < 0 || v > best || isnan(v)) {
                    best = v;
                    arg = ih * s.W + iw;
                }
            }
        out[t] = best;
        argmax[t] = arg; /* maxpool_shape() guarantees a real pixel in every window */
    }
}

/* A thread per INPUT pixel gathers the outputs whose argmax it is, in output order: the CPU's
 * sums (din += dout[o] for o ascending) without atomics. */
static __global__ void maxpool_backward_kernel(float *din, const float *dout, const int *argmax,
                                               PoolShape s, size_t total)
{
    GRID_STRIDE(t, total)
    {
        const int iw = (int)(t % s.W), ih = (int)((t / s.W) % s.H);
        const size_t p = t / ((size_t)s.W * s.H);
        const int me = ih * s.W + iw;
        /* outputs o with o·stride − pad ≤ i < o·stride − pad + k */
        int oh_lo = ih + s.pad - s.k + 1, ow_lo = iw + s.pad - s.k + 1;
        oh_lo = oh_lo <= 0 ? 0 : (oh_lo + s.stride - 1) / s.stride;
        ow_lo = ow_lo <= 0 ? 0 : (ow_lo + s.stride - 1) / s.stride;
        int oh_hi = (ih + s.pad) / s.stride, ow_hi = (iw + s.pad) / s.stride;
        if (oh_hi > s.H_out - 1) oh_hi = s.H_out - 1;
        if (ow_hi > s.W_out - 1) ow_hi = s.W_out - 1;
        const size_t ob = p * s.H_out * s.W_out;
        float acc = din[t];
        for (int oh = oh_lo; oh <= oh_hi; oh++)
            for (int ow = ow_lo; ow <= ow_hi; ow++) {
                const size_t o = ob + (size_t)oh * s.W_out + ow;
                if (argmax[o] == me) acc += dout[o];
            }
        din[t] = acc;
    }
}

static __global__ void avgpool_forward_kernel(float *out, const float *in, size_t planes, int HW)
{
    GRID_STRIDE(p, planes)
    {
        const float *x = in + p * HW;
        double sum = 0.0;
        for (int i = 0; i < HW; i++)
            sum += x[i];
        out[p] = (float)(sum / HW);
    }
}

static __global__ void avgpool_backward_kernel(float *din, const float *dout, size_t total, int HW)
{
    GRID_STRIDE(i, total) din[i] += dout[i / HW] / (float)HW;
}

extern "C" void maxpool_forward_cuda(float *out, int *argmax, const float *in, const PoolShape *s)
{
    const size_t total = (size_t)s->N * s->C * s->H_out * s->W_out;
    if (total) LAUNCH(maxpool_forward_kernel, total, out, argmax, in, *s, total);
}

extern "C" void maxpool_backward_cuda(float *din, const float *dout, const int *argmax,
                                      const PoolShape *s)
{
    const size_t total = (size_t)s->N * s->C * s->H * s->W;
    if (total) LAUNCH(maxpool_backward_kernel, total, din, dout, argmax, *s, total);
}

extern "C" void avgpool_forward_cuda(float *out, const float *in, int N, int C, int HW)
{
    const size_t planes = (size_t)N * C;
    if (planes) LAUNCH(avgpool_forward_kernel, planes, out, in, planes, HW);
}

extern "C" void avgpool_backward_cuda(float *din, const float *dout, int N, int C, int HW)
{
    const size_t total = (size_t)N * C * HW;
    if (total) LAUNCH(avgpool_backward_kernel, total, din, dout, total, HW);
}

/* ---- rows: out[i] = in[idx[i]] and out[idx[i]] = in[i]; a grid row (y) per row i ---- */

static __global__ void gather_rows_kernel(float *out, const float *in, const int *idx, size_t row)
{
    const size_t i = blockIdx.y;
    const float *src = in + (size_t)idx[i] * row;
    float *dst = out + i * row;
    for (size_t j = blockIdx.x * (size_t)blockDim.x + threadIdx.x; j < row;
         j += (size_t)gridDim.x * blockDim.x)
        dst[j] = src[j];
}

static __global__ void scatter_rows_kernel(float *out, const float *in, const int *idx, size_t row)
{
    const size_t i = blockIdx.y;
    const float *src = in + i * row;
    float *dst = out + (size_t)idx[i] * row;
    for (size_t j = blockIdx.x * (size_t)blockDim.x + threadIdx.x; j < row;
         j += (size_t)gridDim.x * blockDim.x)
        dst[j] = src[j];
}

/* Blocks along a row: enough for the device with N rows side by side. */
static dim3 rows_grid(int N, size_t row)
{
    size_t bx = (row + CUDA_BLOCK - 1) / CUDA_BLOCK;
    const size_t cap =
        (size_t)cuda_grid((size_t)CUDA_BLOCK << 30) / (size_t)N + 1; /* the grid cap */
    if (bx > cap) bx = cap;
    return dim3((unsigned)bx, (unsigned)N);
}

extern "C" void gather_rows_cuda(float *out, const float *in, const int *idx, int N, size_t row)
{
    if (N <= 0 || row == 0) return;
    ASSERT(N <= 65535); /* grid rows */
    gather_rows_kernel<<<rows_grid(N, row), CUDA_BLOCK, 0, cuda_ctx.stream>>>(out, in, idx, row);
    KERNEL_CHECK();
}

extern "C" void scatter_rows_cuda(float *out, const float *in, const int *idx, int N, size_t row)
{
    if (N <= 0 || row == 0) return;
    ASSERT(N <= 65535);
    scatter_rows_kernel<<<rows_grid(N, row), CUDA_BLOCK, 0, cuda_ctx.stream>>>(out, in, idx, row);
    KERNEL_CHECK();
}

/* ---- optimiser ---- */

static __global__ void sgd_step_kernel(float *theta, const float *grad, float *buf, size_t n,
                                       float lr, float mom, float wd)
{
    GRID_STRIDE(i, n)
    {
        const float g = grad[i] + wd * theta[i];
        const float b = mom * buf[i] + g;
        buf[i] = b;
        theta[i] -= lr * b;
    }
}

static __global__ void ema_update_kernel(float *theta_k, const float *theta_q, size_t n, float m,
                                         float one_minus_m)
{
    GRID_STRIDE(i, n) theta_k[i] = m * theta_k[i] + one_minus_m * theta_q[i];
}

extern "C" void sgd_step_cuda(float *theta, const float *grad, float *buf, size_t n,
                              const SgdOptions *opt)
{
    if (n)
        LAUNCH(sgd_step_kernel, n, theta, grad, buf, n, opt->lr, opt->momentum, opt->weight_decay);
}

extern "C" void ema_update_cuda(float *theta_k, const float *theta_q, size_t n, float m)
{
    if (n) LAUNCH(ema_update_kernel, n, theta_k, theta_q, n, m, 1.0f - m);
}

/* ---- evaluation ---- */

/* A block per row: max-shifted log-softmax in double; the row's loss into loss_rows[n]; the
 * logits become (softmax − onehot) / N. */
static __global__ void softmax_xent_kernel(double *loss_rows, float *logits, const int *labels,
                                           int N, int C)
{
    __shared__ float shf[33];
    __shared__ double shd[33];
    float *l = logits + (size_t)blockIdx.x * C; /* (C) */
    float mx = l[0];
    for (int c = threadIdx.x; c < C; c += blockDim.x)
        mx = l[c] > mx ? l[c] : mx;
    mx = block_max(mx, shf);
    double sum = 0.0;
    for (int c = threadIdx.x; c < C; c += blockDim.x)
        sum += exp((double)l[c] - mx);
    sum = block_sum(sum, shd);
    const double lse = mx + log(sum); /* log Σ exp(l) without overflow */
    const int y = labels[blockIdx.x];
    if (threadIdx.x == 0) loss_rows[blockIdx.x] = lse - l[y];
    __syncthreads(); /* l[y] is read before it is overwritten */
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float g = (float)(exp((double)l[c] - lse) / N);
        if (c == y) g -= 1.0f / (float)N;
        l[c] = g;
    }
}

extern "C" void softmax_xent_cuda(double *loss, float *logits, const int *labels, int N, int C)
{
    ASSERT(N > 0 && C > 0);
    double *rows = (double *)cuda_scratch((size_t)N * sizeof(double));
    softmax_xent_kernel<<<N, row_threads(C), 0, cuda_ctx.stream>>>(rows, logits, labels, N, C);
    KERNEL_CHECK();
    cuda_sum_parts(loss, rows, 1, N, (double)N);
}

static __global__ void nonfinite_kernel(int *flag, const float *x, size_t n)
{
    GRID_STRIDE(i, n)
    if (!isfinite(x[i])) *flag = 1; /* every writer writes the same value */
}

extern "C" void nonfinite_cuda(int *flag, const float *x, size_t n)
{
    CUDA_CHECK(cudaMemsetAsync(flag, 0, sizeof(int), cuda_ctx.stream));
    if (n) LAUNCH(nonfinite_kernel, n, flag, x, n);
}

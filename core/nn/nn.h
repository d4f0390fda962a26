/* nn.h — the layers of clft: forward and backward of each, as free functions (llm.c style).
 *
 * Conventions, for every function here:
 *   - outputs first, then inputs, then the shape struct, then scratch;
 *   - all buffers are contiguous float32, NCHW, row-major; each carries its shape in a comment;
 *   - backward ACCUMULATES (+=) into every gradient it writes (din, dweight, ...): the caller zeroes
 *     gradient buffers once per step. A NULL din skips the input gradient (first layer);
 *   - GEMM convention: row-major C(M,N) = A(M,K) · B(K,N), pinned by tests/test_nn.c;
 *   - linear weights are (out, in) and conv weights (C_out, C_in, KH, KW), as PyTorch.
 *
 * These are the CPU reference implementations; the backend table (core/backend/backend.h) routes the
 * model's calls to CPU or CUDA. Naive twins (`_naive`) are the references the tests use.
 */
#ifndef CLFT_NN_H
#define CLFT_NN_H

#include <stddef.h>

/* Worker threads of the layers' own parallel loops (OpenMP's omp_get_max_threads(); 1 without
 * OpenMP). Every split over them is static and every float reduction keeps a fixed order, so a run
 * is bit-reproducible for a fixed thread count. blas_set_threads() sets it with OpenBLAS's. */
int nn_threads(void);

/* ---- conv2d: im2col + sgemm ---- */
typedef struct {
    int N, C_in, H, W;    /* input (N, C_in, H, W) */
    int C_out, KH, KW;    /* weight (C_out, C_in, KH, KW), no bias (ResNets use BN) */
    int stride, pad;      /* same in both spatial dimensions */
    int H_out, W_out;     /* filled by conv2d_shape() */
    int threads;          /* filled by conv2d_shape(): nn_threads() then; the workspace is sized
                             for it and the work split statically over it */
} ConvShape;

/* Fills H_out/W_out; returns 0 on success, -1 (with clft_set_error) for an impossible shape. */
int conv2d_shape(ConvShape *s);
/* Scratch floats that conv2d_forward/backward need (im2col columns etc.). */
size_t conv2d_workspace_floats(const ConvShape *s);
void conv2d_forward(float *out /* (N,C_out,H_out,W_out) */, const float *in /* (N,C_in,H,W) */,
                    const float *weight /* (C_out,C_in,KH,KW) */, const ConvShape *s, float *ws);
void conv2d_backward(float *din /* (N,C_in,H,W) or NULL */, float *dweight /* (C_out,C_in,KH,KW) */,
                     const float *dout /* (N,C_out,H_out,W_out) */, const float *in,
                     const float *weight, const ConvShape *s, float *ws);
void conv2d_forward_naive(float *out, const float *in, const float *weight, const ConvShape *s);
void conv2d_backward_naive(float *din, float *dweight, const float *dout, const float *in,
                           const float *weight, const ConvShape *s);

/* ---- batchnorm (2d and 1d: 1d is HW = 1), with split mode over G sub-batches ---- */
typedef enum { BN_TRAIN, BN_EVAL } BnMode;
typedef struct {
    int N, C, HW;   /* input (N, C, HW) */
    int groups;     /* G >= 1, divides N: statistics per contiguous sub-batch of N/G (split-BN) */
    float eps;      /* 1e-5 as PyTorch */
    float momentum; /* 0.1 as PyTorch: running = (1-m) running + m batch, unbiased variance */
    int relu;       /* 1 = a ReLU fused after the BN: out = max(0, bn(x)), one pass instead of two */
    int din_set;    /* backward: 1 = din = the gradient (its first contribution), 0 = din += it */
} BnShape;

/* Train: normalise with per-group batch statistics (biased variance), update running stats with the
 * mean over groups of each group's unbiased update (MoCo's SplitBatchNorm). Eval: running stats.
 * save_mean/save_rstd (G, C) keep what backward needs. With s->relu the output is max(0, bn(x)) and
 * backward gates dout by out > 0 (exactly relu_backward's rule) before the BN backward: bit-identical
 * to a separate BN and ReLU, without the intermediate activation and its gradient. */
void batchnorm_forward(float *out /* (N,C,HW) */, float *save_mean /* (G,C) */,
                       float *save_rstd /* (G,C) */, const float *in /* (N,C,HW) */,
                       const float *gamma /* (C) */, const float *beta /* (C) */,
                       float *running_mean /* (C) */, float *running_var /* (C) */,
                       const BnShape *s, BnMode mode);
void batchnorm_backward(float *din /* (N,C,HW) or NULL */, float *dgamma /* (C) */,
                        float *dbeta /* (C) */, const float *dout /* (N,C,HW) */,
                        const float *in /* (N,C,HW) */, const float *save_mean,
                        const float *save_rstd, const float *gamma,
                        const float *out /* (N,C,HW) the forward's output; read only with s->relu */,
                        const BnShape *s, BnMode mode);

/* ---- relu (in place allowed for forward: out == in) ---- */
void relu_forward(float *out, const float *in, size_t n);
/* din += dout * (out > 0) */
void relu_backward(float *din, const float *dout, const float *out, size_t n);

/* ---- max-pool k×k, stride, padding (ResNet stem: 3, 2, 1) ---- */
typedef struct {
    int N, C, H, W, k, stride, pad;
    int H_out, W_out; /* filled by maxpool_shape() */
} PoolShape;
int maxpool_shape(PoolShape *s);
void maxpool_forward(float *out /* (N,C,H_out,W_out) */, int *argmax /* (N,C,H_out,W_out) */,
                     const float *in /* (N,C,H,W) */, const PoolShape *s);
void maxpool_backward(float *din, const float *dout, const int *argmax, const PoolShape *s);

/* ---- global average pool ---- */
void avgpool_forward(float *out /* (N,C) */, const float *in /* (N,C,HW) */, int N, int C, int HW);
void avgpool_backward(float *din /* (N,C,HW) */, const float *dout /* (N,C) */, int N, int C, int HW);

/* ---- linear: out = in · weightᵀ + bias ----
 * (The sizes are D_in/D_out, not I/O: <complex.h>, which OpenBLAS's cblas.h includes, defines I.) */
void linear_forward(float *out /* (N,D_out) */, const float *in /* (N,D_in) */,
                    const float *weight /* (D_out,D_in) */, const float *bias /* (D_out) or NULL */,
                    int N, int D_in, int D_out);
void linear_backward(float *din /* (N,D_in) or NULL */, float *dweight /* (D_out,D_in) */,
                     float *dbias /* (D_out) or NULL */, const float *dout /* (N,D_out) */,
                     const float *in, const float *weight, int N, int D_in, int D_out);

/* ---- L2 normalisation of rows, as torch.nn.functional.normalize(x, dim=1, eps=1e-12) ---- */
void l2norm_forward(float *out /* (N,D) */, float *norm /* (N): max(||x||, eps) */,
                    const float *in /* (N,D) */, int N, int D);
void l2norm_backward(float *din /* (N,D) */, const float *dout /* (N,D) */,
                     const float *out /* (N,D) */, const float *norm /* (N) */, int N, int D);

/* ---- elementwise helpers used by residual blocks ---- */
void add_inplace(float *y, const float *x, size_t n);   /* y += x */
void add_forward(float *y, const float *a, const float *b, size_t n); /* y = a + b */
void nn_zero(float *y, size_t n);                       /* y = 0, on nn_threads() threads */
/* The residual add with its ReLU fused: y = max(0, a + b); backward g = dout where out > 0 (relu's
 * rule) is added to da and db, or written over them with set_a / set_b (their first gradient
 * contribution: no zeroing pass needed). Bit-identical to add_forward + relu_forward and to
 * relu_backward into zeros + two add_inplace. */
void add_relu_forward(float *y, const float *a, const float *b, size_t n);
void add_relu_backward(float *da, float *db, const float *dout, const float *out, size_t n,
                       int set_a, int set_b);

#endif

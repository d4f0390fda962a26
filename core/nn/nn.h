/* nn.h — the layers of clft: their shapes, formulas and conventions. The layer kernels are ops of a
 * backend (core/backend/backend.h: be->conv2d_forward(...)); core/backend/cpu/ holds the fast CPU
 * ones, core/backend/ref/ their plain reference twins. Outside core/backend/ nothing calls a kernel
 * by name.
 *
 * Conventions, for every layer op:
 *   - outputs first, then inputs, then the shape struct, then scratch;
 *   - all buffers are contiguous float32, NCHW, row-major; each carries its shape in a comment;
 *   - backward ACCUMULATES (+=) into every gradient it writes (din, dweight, ...): the caller
 *     zeroes gradient buffers once per step. A NULL din skips the input gradient (first layer);
 *   - GEMM convention: row-major C(M,N) = A(M,K) · B(K,N), pinned by tests/test_nn_layers.c;
 *   - linear weights are (out, in) and conv weights (C_out, C_in, KH, KW), as PyTorch.
 *
 * Layout: a 4-D activation (N, C, H, W) is stored in its backend's layout, NCHW or, where
 * be->nhwc, NHWC (channels last: (N, H, W, C) in memory); shapes and comments always name the
 * logical (N, C, H, W). Weights are always (C_out, C_in, KH, KW) and 2-D tensors (N, D) row-major,
 * whatever the backend, so checkpoints, the EMA and the optimiser never see a layout.
 *
 * The layers (the backend ops of the same names):
 *   conv2d_forward (out (N,C_out,H_out,W_out), in (N,C_in,H,W), weight (C_out,C_in,KH,KW)) — the
 *     cross-correlation of torch.nn.functional.conv2d, no bias; conv2d_backward (din or NULL,
 *     dweight, dout, in, weight): dweight accumulates, din accumulates or, with s->din_set, is
 *     written; both use a scratch of conv2d_workspace_floats(s) floats.
 *   batchnorm_forward / _backward — see BnShape below.
 *   relu_forward (out = max(0, in); in place allowed), relu_backward (din += dout · [out > 0]).
 *   maxpool_forward (out, argmax (N,C,H_out,W_out), in) — torch.nn.MaxPool2d: padding acts as −inf,
 *     floor output size, the first maximum in row-major window order wins ties; maxpool_backward.
 *   avgpool_forward (out (N,C), in (N,C,HW)) — global average pool; avgpool_backward.
 *   linear_forward (out (N,D_out) = in (N,D_in) · weightᵀ + bias (D_out) or NULL);
 *     linear_backward (din (N,D_in) or NULL, dweight (D_out,D_in), dbias (D_out) or NULL).
 *     (The sizes are D_in/D_out, not I/O: <complex.h>, which OpenBLAS's cblas.h includes,
 *     defines I.)
 *   l2norm_forward (out (N,D), norm (N) = max(‖x‖, 1e-12), in (N,D)) — F.normalize(x, dim=1);
 *     l2norm_backward (din += (dy − y (y·dy)) / r; below eps, din += dy / eps).
 *   add_relu_forward (y = max(0, a + b)) — the residual join; add_relu_backward: g = dout where
 *     out > 0 is added to da and db, or written over them with set_a / set_b (their first gradient
 *     contribution: no zeroing pass needed).
 *   zero (y = 0).
 *
 * bf16 storage: where a backend offers it (be->bf16_storage) and the run is at bf16, the model
 * keeps the trunk's 4-D activations — the outputs of convolutions, BN, max-pools and residual joins
 * — as bf16 (2 bytes, round to nearest even); the network input, every gradient, the pooled
 * features and the head stay fp32. The layers read and write such a tensor in bf16 and compute in
 * fp32: convolutions by ConvShape.src_bf16 / dst_bf16, BN by BnShape.bf16 (input and output both
 * bf16), the join by add_relu_forward_bf16 / _backward_bf16, the pools by maxpool_forward_bf16 /
 * avgpool_forward_bf16 (max-pool's backward reads only argmax). Each equals its fp32 twin run on
 * the widened bf16 values, with the outputs rounded to bf16 (tests/test_bf16.c).
 */
#ifndef CLFT_NN_H
#define CLFT_NN_H

#include <stddef.h>

/* Worker threads of the CPU layers' own parallel loops (OpenMP's omp_get_max_threads(); 1 without
 * OpenMP). Every split over them is static and every float reduction keeps a fixed order, so a run
 * is bit-reproducible for a fixed thread count. blas_set_threads() sets it with OpenBLAS's. */
int nn_threads(void);

/* ---- conv2d ---- */
/* The gradients a convolution's backward computes (its plan is made for them): none (inference,
 * the key encoder), the weights' only (the first layer: its input needs no gradient), or both. */
typedef enum { CONV_GRADS_NONE, CONV_GRADS_WEIGHT, CONV_GRADS_ALL } ConvGrads;
typedef struct {
    int N, C_in, H, W;    /* input (N, C_in, H, W) */
    int C_out, KH, KW;    /* weight (C_out, C_in, KH, KW), no bias (ResNets use BN) */
    int stride, pad;      /* same in both spatial dimensions */
    int H_out, W_out;     /* filled by conv2d_shape() */
    int threads;          /* filled by conv2d_shape(): nn_threads() then; the CPU workspace is
                             sized for it and the work split statically over it */
    ConvGrads grads;      /* what backward computes (din is NULL unless CONV_GRADS_ALL) */
    int din_set;          /* backward: 1 = din = the gradient (its first writer), 0 = din += it */
    int src_bf16, dst_bf16; /* bf16 storage of in / out (see above; set by the model) */
    void *plan;           /* the backend's plan of this shape (be->conv2d_plan), or NULL */
} ConvShape;

/* Fills H_out/W_out; returns 0 on success, -1 (with clft_set_error) for an impossible shape. */
int conv2d_shape(ConvShape *s);

/* ---- batchnorm (2d and 1d: 1d is HW = 1), with split mode over G sub-batches ---- */
typedef enum { BN_TRAIN, BN_EVAL } BnMode;
typedef struct {
    int N, C, HW;   /* input (N, C, HW) */
    int groups;     /* G >= 1, divides N: statistics per contiguous sub-batch of N/G (split-BN) */
    float eps;      /* 1e-5 as PyTorch */
    float momentum; /* 0.1 as PyTorch: running = (1-m) running + m batch, unbiased variance */
    int relu;       /* 1 = a ReLU fused after the BN: out = max(0, bn(x)), one pass instead of two */
    int din_set;    /* backward: 1 = din = the gradient (its first contribution), 0 = din += it */
    int bf16;       /* in and out in bf16 storage (see above; set by the model); gradients fp32 */
} BnShape;

/* batchnorm_forward (out (N,C,HW), save_mean (G,C), save_rstd (G,C), in (N,C,HW), gamma (C),
 * beta (C), running_mean (C), running_var (C), s, mode). Train: normalise with per-group batch
 * statistics (biased variance), update running stats with the mean over groups of each group's
 * unbiased update (MoCo's SplitBatchNorm). Eval: running stats. save_mean/save_rstd keep what
 * backward needs. With s->relu the output is max(0, bn(x)) and backward gates dout by out > 0
 * (exactly relu_backward's rule) before the BN backward: bit-identical to a separate BN and ReLU,
 * without the intermediate activation and its gradient.
 * batchnorm_backward (din (N,C,HW) or NULL, dgamma (C), dbeta (C), dout, in, save_mean, save_rstd,
 * gamma, out — the forward's output, read only with s->relu —, s, mode). */

/* ---- max-pool k×k, stride, padding (ResNet stem: 3, 2, 1) ---- */
typedef struct {
    int N, C, H, W, k, stride, pad;
    int H_out, W_out; /* filled by maxpool_shape() */
} PoolShape;
int maxpool_shape(PoolShape *s);

#endif

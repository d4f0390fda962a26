/* cuda.h — the CUDA backend's entries (private to core/backend/cuda/): cuDNN convolutions, cuBLAS
 * GEMMs and .cu kernels for the rest. Each has the signature of its Backend entry (backend.h) and
 * the semantics of the CPU twin in core/backend/cpu/ (the spec: core/backend/ref/). C linkage, so
 * table.c (C11) builds the table from them; cuda_util.cuh holds what only the .cu files share.
 *
 * Precision (BackendOptions.precision, fixed at open; backend.h "Precision"):
 *   PRECISION_FP32  strict IEEE fp32 everywhere: cuBLAS compute type CUBLAS_COMPUTE_32F with the
 *                   handle in CUBLAS_DEFAULT_MATH (no TF32: its mantissa is narrower than asked),
 *                   cuDNN convolutions with CUDNN_FMA_MATH and only algorithms whose math type is
 *                   FMA (as PyTorch with allow_tf32 = False), and of those only the GEMM-like
 *                   ones (no FFT or Winograd transforms, conv2d.cu).
 *   PRECISION_TF32  the layer GEMMs (linear, the gemm entry) with CUBLAS_COMPUTE_32F_FAST_TF32 and
 *                   the convolutions with CUDNN_DEFAULT_MATH (tensor cores with TF32 allowed):
 *                   fp32 tensors in memory, 10-bit-mantissa products, fp32 accumulation.
 *   PRECISION_BF16  the layer GEMMs with CUBLAS_COMPUTE_32F_FAST_16BF (cuBLAS rounds the fp32
 *                   operands to bf16, accumulates in fp32, writes fp32); the convolutions convert
 *                   input, weight (and output gradient) to bf16 in the plan's part of the
 *                   workspace, run cuDNN on bf16 NCHW tensors with fp32 compute
 *                   (PSEUDO_BFLOAT16_CONFIG, CUDNN_TENSOR_OP_MATH), and convert the bf16 output /
 *                   gradients back to fp32 (written, or added where the op accumulates).
 * Whatever the precision, everything else is strict fp32 (reductions in double where the CPU uses
 * double): BN, pools, the InfoNCE logits and gradient GEMMs, the score statistics and histograms
 * (SYRK and blocks in fp32), FT's and MoCHi's mixes and MoCHi's top-k scores, SGD, EMA, the queue.
 * Every .cu file is compiled with --fmad=false, so elementwise formulas round as the CPU's
 * (x86-64 without FMA contraction): mixes, SGD, EMA, BN's affine map agree bit for bit where
 * their inputs do.
 */
#ifndef CLFT_BACKEND_CUDA_H
#define CLFT_BACKEND_CUDA_H

#ifdef __cplusplus
/* scores.h's C11 _Static_assert, spelled the C++ way when a .cu file includes it. */
#ifndef _Static_assert
#define _Static_assert static_assert
#endif
extern "C" {
#endif

#include "core/backend/backend.h"

ClftStatus open_cuda(const BackendOptions *opt);

/* memory (memory.cu) */
void *alloc_cuda(size_t bytes);
void free_cuda(void *p);
void *host_alloc_cuda(size_t bytes);
void host_free_cuda(void *p);
void memset_zero_cuda(void *p, size_t bytes);
void upload_cuda(void *dst, const void *host_src, size_t bytes);
void download_cuda(void *host_dst, const void *src, size_t bytes);
void copy_cuda(void *dst, const void *src, size_t bytes);
void synchronize_cuda(void);
/* The compute stream (a cudaStream_t) of the opened device, for what enqueues work beside the
 * backend's ops on the same stream: the NCCL collectives of core/dist/dist_nccl.c. */
void *cuda_compute_stream(void);

/* conv2d.cu */
ClftStatus conv2d_plan_cuda(ConvShape *s);
void conv2d_unplan_cuda(ConvShape *s);
size_t conv2d_workspace_floats_cuda(const ConvShape *s);
void conv2d_forward_cuda(float *out, const float *in, const float *weight, const ConvShape *s,
                         float *ws);
void conv2d_backward_cuda(float *din, float *dweight, const float *dout, const float *in,
                          const float *weight, const ConvShape *s, float *ws);

/* batchnorm.cu */
void batchnorm_forward_cuda(float *out, float *save_mean, float *save_rstd, const float *in,
                            const float *gamma, const float *beta, float *running_mean,
                            float *running_var, const BnShape *s, BnMode mode);
void batchnorm_backward_cuda(float *din, float *dgamma, float *dbeta, const float *dout,
                             const float *in, const float *save_mean, const float *save_rstd,
                             const float *gamma, const float *out, const BnShape *s, BnMode mode);

/* elementwise.cu */
void relu_forward_cuda(float *out, const float *in, size_t n);
void relu_backward_cuda(float *din, const float *dout, const float *out, size_t n);
void maxpool_forward_cuda(float *out, int *argmax, const float *in, const PoolShape *s);
void maxpool_backward_cuda(float *din, const float *dout, const int *argmax, const PoolShape *s);
void avgpool_forward_cuda(float *out, const float *in, int N, int C, int HW);
void avgpool_backward_cuda(float *din, const float *dout, int N, int C, int HW);
void l2norm_forward_cuda(float *out, float *norm, const float *in, int N, int D);
void l2norm_backward_cuda(float *din, const float *dout, const float *out, const float *norm, int N,
                          int D);
void add_relu_forward_cuda(float *y, const float *a, const float *b, size_t n);
void add_relu_backward_cuda(float *da, float *db, const float *dout, const float *out, size_t n,
                            int set_a, int set_b);
void add_inplace_cuda(float *y, const float *x, size_t n);
void zero_cuda(float *y, size_t n);
void gather_rows_cuda(float *out, const float *in, const int *idx, int N, size_t row);
void scatter_rows_cuda(float *out, const float *in, const int *idx, int N, size_t row);
void sgd_step_cuda(float *theta, const float *grad, float *buf, size_t n,
                   const struct SgdOptions *opt);
void ema_update_cuda(float *theta_k, const float *theta_q, size_t n, float m);
void softmax_xent_cuda(double *loss, float *logits, const int *labels, int N, int C);
void nonfinite_cuda(int *flag, const float *x, size_t n);

/* gemm.cu */
void linear_forward_cuda(float *out, const float *in, const float *weight, const float *bias, int N,
                         int D_in, int D_out);
void linear_backward_cuda(float *din, float *dweight, float *dbias, const float *dout,
                          const float *in, const float *weight, int N, int D_in, int D_out);
void gemm_cuda(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
               const float *B, int ldb, float beta, float *C, int ldc);

/* contrast.cu */
void infonce_forward_cuda(struct InfoNCE *w, const struct InfoNCEInput *in, double *stats,
                          void *hist);
void infonce_backward_cuda(struct InfoNCE *w, const struct InfoNCEInput *in, float *dq_hat,
                           float *dk_hat);
void scores_pre_cuda(struct PreScores *p, double *pre, void *hist, const float *q, const float *k,
                     const float *queue, int N, int K);

/* mix.cu */
void pair_mix_forward_cuda(float *a_hat, float *b_hat, float *a_norm, float *b_norm, const float *a,
                           const float *b, const float *lam, float lam0, int N, int D, int renorm);
void pair_mix_backward_cuda(float *da, const float *da_hat, const float *db_hat, const float *a_hat,
                            const float *b_hat, const float *a_norm, const float *b_norm,
                            const float *lam, float lam0, int N, int D, int renorm);
void row_mix_cuda(float *out, const float *x, const int *perm, const float *lam, float lam0, int K,
                  int D, int renorm);
void topk_rows_cuda(int *idx, const float *q, const float *x, int N, int D, int K, int k,
                    float *scores);
void mix_picked_cuda(float *out, const float *q, const float *x, const int *idx, int k,
                     const int *pos_a, const int *pos_b, const float *coef, int N, int E, int D);

#ifdef __cplusplus
}
#endif

#endif

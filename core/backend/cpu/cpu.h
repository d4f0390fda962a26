/* cpu.h — the CPU backend's kernels (private to core/backend/): OpenBLAS GEMMs, im2col
 * convolutions, OpenMP loops. Each has the signature of its Backend entry (backend.h) and the
 * semantics of the module header that documents the op (core/nn/nn.h, core/contrast/ headers,
 * variants/ft.h, variants/mochi.h, core/optim/optim.h). */
#ifndef CLFT_BACKEND_CPU_H
#define CLFT_BACKEND_CPU_H

#include <stdint.h>
#include <string.h>

#include "core/backend/backend.h"

/* A row loop that is memory- or arithmetic-bound in plain C: compiled for AVX-512 and AVX2 as
 * well as the baseline, the variant picked at load time (GCC target_clones). ISO C mode
 * (-std=c11) keeps -ffp-contract=off, so every variant rounds the same: the same bits on any CPU. */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define CPU_KERNEL __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CPU_KERNEL
#endif
/* Inlined into a CPU_KERNEL caller, so compiled once per variant. */
#define CPU_INLINE static inline __attribute__((always_inline))

/* bf16 storage (core/nn/nn.h "bf16 storage"): a bf16 is the upper half of a float's bits. Widening
 * is exact; narrowing rounds to nearest, ties to even (as oneDNN's reorders and torch's .to()),
 * and keeps a NaN a NaN (truncated and quieted: rounding could carry it into an inf). */
CPU_INLINE float bf16_to_f32(uint16_t h)
{
    const uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

CPU_INLINE uint16_t f32_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u); /* NaN: quiet */
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

/* Element i of an activation in fp32 or (half) bf16 storage, read widened / written rounded: the
 * kernels that serve both storages take `half` as a constant of each compiled copy. */
CPU_INLINE float act_ld(const void *p, size_t i, int half)
{
    return half ? bf16_to_f32(((const uint16_t *)p)[i]) : ((const float *)p)[i];
}

CPU_INLINE void act_st(void *p, size_t i, float v, int half)
{
    if (half)
        ((uint16_t *)p)[i] = f32_to_bf16(v);
    else
        ((float *)p)[i] = v;
}

/* memory: host memory, 64-byte aligned */
void *alloc_cpu(size_t bytes);
void free_cpu(void *p);
void memset_zero_cpu(void *p, size_t bytes);
void copy_cpu(void *dst, const void *src, size_t bytes);
void synchronize_cpu(void);
/* The memory entries of a host-memory table (cpu, cpu-ref). */
#define BACKEND_HOST_MEMORY                                                                        \
    .host_memory = 1, .alloc = alloc_cpu, .free = free_cpu, .host_alloc = NULL, .host_free = NULL, \
    .memset_zero = memset_zero_cpu, .upload = copy_cpu, .download = copy_cpu, .copy = copy_cpu,    \
    .synchronize = synchronize_cpu

size_t conv2d_workspace_floats_cpu(const ConvShape *s);
void conv2d_forward_cpu(float *out, const float *in, const float *weight, const ConvShape *s,
                        float *ws);
void conv2d_backward_cpu(float *din, float *dweight, const float *dout, const float *in,
                         const float *weight, const ConvShape *s, float *ws);
void batchnorm_forward_cpu(float *out, float *save_mean, float *save_rstd, const float *in,
                           const float *gamma, const float *beta, float *running_mean,
                           float *running_var, const BnShape *s, BnMode mode);
void batchnorm_backward_cpu(float *din, float *dgamma, float *dbeta, const float *dout,
                            const float *in, const float *save_mean, const float *save_rstd,
                            const float *gamma, const float *out, const BnShape *s, BnMode mode);
void relu_forward_cpu(float *out, const float *in, size_t n);
void relu_backward_cpu(float *din, const float *dout, const float *out, size_t n);
void maxpool_forward_cpu(float *out, int *argmax, const float *in, const PoolShape *s);
void maxpool_backward_cpu(float *din, const float *dout, const int *argmax, const PoolShape *s);
void avgpool_forward_cpu(float *out, const float *in, int N, int C, int HW);
void avgpool_backward_cpu(float *din, const float *dout, int N, int C, int HW);
void linear_forward_cpu(float *out, const float *in, const float *weight, const float *bias, int N,
                        int D_in, int D_out);
void linear_backward_cpu(float *din, float *dweight, float *dbias, const float *dout,
                         const float *in, const float *weight, int N, int D_in, int D_out);
void l2norm_forward_cpu(float *out, float *norm, const float *in, int N, int D);
void l2norm_backward_cpu(float *din, const float *dout, const float *out, const float *norm, int N,
                         int D);
void add_relu_forward_cpu(float *y, const float *a, const float *b, size_t n);
void add_relu_backward_cpu(float *da, float *db, const float *dout, const float *out, size_t n,
                           int set_a, int set_b);
void add_relu_forward_bf16_cpu(uint16_t *y, const uint16_t *a, const uint16_t *b, size_t n);
void add_relu_backward_bf16_cpu(float *da, float *db, const float *dout, const uint16_t *out,
                                size_t n, int set_a, int set_b);
void add_inplace_cpu(float *y, const float *x, size_t n);
/* bf16 conversions: dst = widen(src), dst = narrow(src) (round to nearest even), and dst = src
 * rounded to bf16 and widened back. */
void bf16_widen_cpu(float *dst, const uint16_t *src, size_t n);
void bf16_narrow_cpu(uint16_t *dst, const float *src, size_t n);
void bf16_round_cpu(float *dst, const float *src, size_t n);
void zero_cpu(float *y, size_t n);

/* channels-last layers (nhwc.c) and oneDNN convolutions (dnnl_conv.c) of the "cpu" table; the
 * NCHW ones above are the "cpu-im2col" table's */
ClftStatus dnnl_open(const BackendOptions *opt);
int dnnl_bf16_storage(void);
/* bf16 runs: convolutions planned from now on use oneDNN's bf16 primitives (1) or its fp32 ones on
 * bf16-rounded operands (0); dnnl_open picks 1 where the CPU has AMX. For tests and bench_conv. */
void dnnl_set_bf16_native(int native);
int dnnl_bf16_native(void);
ClftStatus conv2d_plan_dnnl(ConvShape *s);
void conv2d_unplan_dnnl(ConvShape *s);
size_t conv2d_workspace_floats_dnnl(const ConvShape *s);
void conv2d_forward_dnnl(float *out, const float *in, const float *weight, const ConvShape *s,
                         float *ws);
void conv2d_backward_dnnl(float *din, float *dweight, const float *dout, const float *in,
                          const float *weight, const ConvShape *s, float *ws);
void batchnorm_forward_nhwc(float *out, float *save_mean, float *save_rstd, const float *in,
                            const float *gamma, const float *beta, float *running_mean,
                            float *running_var, const BnShape *s, BnMode mode);
void batchnorm_backward_nhwc(float *din, float *dgamma, float *dbeta, const float *dout,
                             const float *in, const float *save_mean, const float *save_rstd,
                             const float *gamma, const float *out, const BnShape *s, BnMode mode);
void maxpool_forward_nhwc(float *out, int *argmax, const float *in, const PoolShape *s);
void maxpool_backward_nhwc(float *din, const float *dout, const int *argmax, const PoolShape *s);
void avgpool_forward_nhwc(float *out, const float *in, int N, int C, int HW);
void avgpool_backward_nhwc(float *din, const float *dout, int N, int C, int HW);
void maxpool_forward_bf16_nhwc(uint16_t *out, int *argmax, const uint16_t *in, const PoolShape *s);
void avgpool_forward_bf16_nhwc(float *out, const uint16_t *in, int N, int C, int HW);
void from_nchw_cpu(float *out, const float *in, int N, int C, int HW);

void gather_rows_cpu(float *out, const float *in, const int *idx, int N, size_t row);
void scatter_rows_cpu(float *out, const float *in, const int *idx, int N, size_t row);

void infonce_forward_cpu(struct InfoNCE *w, const struct InfoNCEInput *in, double *stats,
                         void *hist);
void infonce_backward_cpu(struct InfoNCE *w, const struct InfoNCEInput *in, float *dq_hat,
                          float *dk_hat);
void scores_pre_cpu(struct PreScores *p, double *pre, void *hist, const float *q, const float *k,
                    const float *queue, int N, int K);

void pair_mix_forward_cpu(float *a_hat, float *b_hat, float *a_norm, float *b_norm,
                          const float *a, const float *b, const float *lam, float lam0, int N,
                          int D, int renorm);
void pair_mix_backward_cpu(float *da, const float *da_hat, const float *db_hat, const float *a_hat,
                           const float *b_hat, const float *a_norm, const float *b_norm,
                           const float *lam, float lam0, int N, int D, int renorm);
void row_mix_cpu(float *out, const float *x, const int *perm, const float *lam, float lam0, int K,
                 int D, int renorm);
void topk_rows_cpu(int *idx, const float *q, const float *x, int N, int D, int K, int k,
                   float *scores);
void mix_picked_cpu(float *out, const float *q, const float *x, const int *idx, int k,
                    const int *pos_a, const int *pos_b, const float *coef, int N, int E, int D);

void sgd_step_cpu(float *theta, const float *grad, float *buf, size_t n,
                  const struct SgdOptions *opt);
void ema_update_cpu(float *theta_k, const float *theta_q, size_t n, float m);
void gemm_cpu(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc);
void softmax_xent_cpu(double *loss, float *logits, const int *labels, int N, int C);
void nonfinite_cpu(int *flag, const float *x, size_t n);

#endif

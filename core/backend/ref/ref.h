/* ref.h — the reference backend's kernels (private to core/backend/): plain loops in double, the
 * spec every other backend is tested against. Each has the signature of its Backend entry
 * (backend.h) and the semantics of the module header that documents the op (core/nn/nn.h,
 * core/contrast/ headers, variants/ft.h, variants/mochi.h, core/optim/optim.h). */
#ifndef CLFT_BACKEND_REF_H
#define CLFT_BACKEND_REF_H

#include "core/backend/backend.h"

size_t conv2d_workspace_floats_ref(const ConvShape *s);
void conv2d_forward_ref(float *out, const float *in, const float *weight, const ConvShape *s,
                        float *ws);
void conv2d_backward_ref(float *din, float *dweight, const float *dout, const float *in,
                         const float *weight, const ConvShape *s, float *ws);
void batchnorm_forward_ref(float *out, float *save_mean, float *save_rstd, const float *in,
                           const float *gamma, const float *beta, float *running_mean,
                           float *running_var, const BnShape *s, BnMode mode);
void batchnorm_backward_ref(float *din, float *dgamma, float *dbeta, const float *dout,
                            const float *in, const float *save_mean, const float *save_rstd,
                            const float *gamma, const float *out, const BnShape *s, BnMode mode);
void relu_forward_ref(float *out, const float *in, size_t n);
void relu_backward_ref(float *din, const float *dout, const float *out, size_t n);
void maxpool_forward_ref(float *out, int *argmax, const float *in, const PoolShape *s);
void maxpool_backward_ref(float *din, const float *dout, const int *argmax, const PoolShape *s);
void avgpool_forward_ref(float *out, const float *in, int N, int C, int HW);
void avgpool_backward_ref(float *din, const float *dout, int N, int C, int HW);
void linear_forward_ref(float *out, const float *in, const float *weight, const float *bias, int N,
                        int D_in, int D_out);
void linear_backward_ref(float *din, float *dweight, float *dbias, const float *dout,
                         const float *in, const float *weight, int N, int D_in, int D_out);
void l2norm_forward_ref(float *out, float *norm, const float *in, int N, int D);
void l2norm_backward_ref(float *din, const float *dout, const float *out, const float *norm, int N,
                         int D);
void add_relu_forward_ref(float *y, const float *a, const float *b, size_t n);
void add_relu_backward_ref(float *da, float *db, const float *dout, const float *out, size_t n,
                           int set_a, int set_b);
void add_inplace_ref(float *y, const float *x, size_t n);
void zero_ref(float *y, size_t n);

void gather_rows_ref(float *out, const float *in, const int *idx, int N, size_t row);
void scatter_rows_ref(float *out, const float *in, const int *idx, int N, size_t row);

void infonce_forward_ref(struct InfoNCE *w, const struct InfoNCEInput *in, double *stats,
                         void *hist);
void infonce_backward_ref(struct InfoNCE *w, const struct InfoNCEInput *in, float *dq_hat,
                          float *dk_hat);
void scores_pre_ref(struct PreScores *p, double *pre, void *hist, const float *q, const float *k,
                    const float *queue, int N, int K);

void pair_mix_forward_ref(float *a_hat, float *b_hat, float *a_norm, float *b_norm,
                          const float *a, const float *b, const float *lam, float lam0, int N,
                          int D, int renorm);
void pair_mix_backward_ref(float *da, const float *da_hat, const float *db_hat, const float *a_hat,
                           const float *b_hat, const float *a_norm, const float *b_norm,
                           const float *lam, float lam0, int N, int D, int renorm);
void row_mix_ref(float *out, const float *x, const int *perm, const float *lam, float lam0, int K,
                 int D, int renorm);
void topk_rows_ref(int *idx, const float *q, const float *x, int N, int D, int K, int k,
                   float *scores);
void mix_picked_ref(float *out, const float *q, const float *x, const int *idx, int k,
                    const int *pos_a, const int *pos_b, const float *coef, int N, int E, int D);

void sgd_step_ref(float *theta, const float *grad, float *buf, size_t n,
                  const struct SgdOptions *opt);
void ema_update_ref(float *theta_k, const float *theta_q, size_t n, float m);
void gemm_ref(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc);
void softmax_xent_ref(double *loss, float *logits, const int *labels, int N, int C);
void nonfinite_ref(int *flag, const float *x, size_t n);

#endif

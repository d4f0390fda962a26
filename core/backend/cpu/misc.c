/* misc.c — the CPU's small ops: the key shuffle's row gather/scatter, SGD, the key encoder's EMA,
 * the evaluators' GEMM and softmax cross-entropy, and the finiteness test of the NaN guard. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "core/backend/cpu/cpu.h"
#include "core/optim/optim.h"

void gather_rows_cpu(float *out, const float *in, const int *idx, int N, size_t row)
{
    for (int i = 0; i < N; i++) memcpy(out + i * row, in + (size_t)idx[i] * row, row * sizeof(float));
}

void scatter_rows_cpu(float *out, const float *in, const int *idx, int N, size_t row)
{
    for (int i = 0; i < N; i++) /* row i of `in` is sample idx[i] */
        memcpy(out + (size_t)idx[i] * row, in + i * row, row * sizeof(float));
}

void sgd_step_cpu(float *theta, const float *grad, float *buf, size_t n, const SgdOptions *opt)
{
    const float lr = opt->lr, mom = opt->momentum, wd = opt->weight_decay;
    for (size_t i = 0; i < n; i++) {
        float g = grad[i] + wd * theta[i];
        buf[i] = mom * buf[i] + g;
        theta[i] -= lr * buf[i];
    }
}

void ema_update_cpu(float *theta_k, const float *theta_q, size_t n, float m)
{
    const float one_minus_m = 1.0f - m;
    for (size_t i = 0; i < n; i++) theta_k[i] = m * theta_k[i] + one_minus_m * theta_q[i];
}

void gemm_cpu(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc)
{
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* Max-shifted log-softmax in double: stable for the large logits a probe at lr 30 produces. */
void softmax_xent_cpu(double *loss_out, float *logits, const int *labels, int N, int C)
{
    double loss = 0.0;
    for (int n = 0; n < N; n++) {
        float *l = logits + (size_t)n * C; /* (C) */
        float mx = l[0];
        for (int c = 1; c < C; c++) mx = l[c] > mx ? l[c] : mx;
        double sum = 0.0;
        for (int c = 0; c < C; c++) sum += exp((double)l[c] - mx);
        const double lse = mx + log(sum); /* log Σ exp(l) without overflow */
        loss += lse - l[labels[n]];
        for (int c = 0; c < C; c++) l[c] = (float)(exp((double)l[c] - lse) / N);
        l[labels[n]] -= 1.0f / (float)N;
    }
    *loss_out = loss / N;
}

void nonfinite_cpu(int *flag, const float *x, size_t n)
{
    int bad = 0;
#pragma omp parallel for reduction(| : bad) schedule(static) if (n >= 65536)
    for (size_t i = 0; i < n; i++) bad |= !isfinite(x[i]);
    *flag = bad;
}

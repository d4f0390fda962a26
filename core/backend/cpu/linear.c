/* linear.c — fully connected layer out = in · weightᵀ + bias, as torch.nn.Linear (weight (O, I)).
 *
 * GEMM convention of clft (nn.h): row-major C(M,N) = A(M,K) · B(K,N), here with cblas_sgemm.
 *   forward:  out (N,D_out)  = in (N,D_in) · Wᵀ (D_in,D_out)  (+ bias broadcast over rows)
 *   backward: din (N,D_in) += dout (N,D_out) · W (D_out,D_in);
 *             dW (D_out,D_in) += doutᵀ (D_out,N) · in (N,D_in);  dbias (D_out) += Σ_rows dout.
 */
#include <cblas.h>
#include <string.h>

#include "core/backend/cpu/cpu.h"
#include "core/nn/nn.h"

void linear_forward_cpu(float *out, const float *in, const float *weight, const float *bias, int N,
                    int D_in, int D_out)
{
    float beta = 0.0f;
    if (bias) {
        for (int n = 0; n < N; n++)
            memcpy(out + (size_t)n * D_out, bias, sizeof(float) * (size_t)D_out);
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, D_out, D_in, 1.0f, in, D_in, weight,
                D_in, beta, out, D_out);
}

void linear_backward_cpu(float *din, float *dweight, float *dbias, const float *dout, const float *in,
                     const float *weight, int N, int D_in, int D_out)
{
    if (din)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, D_in, D_out, 1.0f, dout, D_out,
                    weight, D_in, 1.0f, din, D_in);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, D_out, D_in, N, 1.0f, dout, D_out, in,
                D_in, 1.0f, dweight, D_in);
    if (dbias)
        for (int n = 0; n < N; n++)
            for (int o = 0; o < D_out; o++)
                dbias[o] += dout[(size_t)n * D_out + o];
}

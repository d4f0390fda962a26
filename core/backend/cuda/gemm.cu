/* gemm.cu — cuBLAS GEMMs in clft's row-major convention, the linear layer and the gemm entry.
 *
 * Convention (nn.h): row-major C (M, N) = op(A) (M, K) · op(B) (K, N). A row-major (r, c) matrix
 * with leading dimension ld is, read column-major, its transpose (c, r) with the same ld; so the
 * row-major product is the column-major Cᵀ (N, M) = op(B)ᵀ · op(A)ᵀ: cublasGemmEx with the
 * operands swapped, M and N swapped, and each trans flag kept as it is.
 *   linear forward:   out (N, D_out)  = in (N, D_in) · Wᵀ  (+ bias broadcast over rows)
 *   linear backward:  din (N, D_in)  += dout (N, D_out) · W (D_out, D_in)
 *                     dW (D_out, D_in) += doutᵀ · in;   dbias (D_out) += Σ_rows dout
 * Compute type: GEMM_STRICT is CUBLAS_COMPUTE_32F whatever the precision; GEMM_LAYER follows the
 * run's precision (cuda.h: 32F, 32F_FAST_TF32 or 32F_FAST_16BF; fp32 in memory in every case).
 */
#include "core/backend/cuda/cuda_util.cuh"

static cublasComputeType_t compute_type(GemmKind kind)
{
    if (kind == GEMM_STRICT) return CUBLAS_COMPUTE_32F;
    switch (cuda_ctx.precision) {
    case PRECISION_TF32:
        return CUBLAS_COMPUTE_32F_FAST_TF32;
    case PRECISION_BF16:
        return CUBLAS_COMPUTE_32F_FAST_16BF;
    default:
        return CUBLAS_COMPUTE_32F;
    }
}

void cuda_gemm_rm(GemmKind kind, int trans_a, int trans_b, int M, int N, int K, float alpha,
                  const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    if (M == 0 || N == 0) return;
    CUBLAS_CHECK(cublasGemmEx(cuda_ctx.blas, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                              trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K, &alpha, B, CUDA_R_32F,
                              ldb, A, CUDA_R_32F, lda, &beta, C, CUDA_R_32F, ldc,
                              compute_type(kind), CUBLAS_GEMM_DEFAULT));
}

/* out[n, o] = bias[o] for every row n. */
static __global__ void broadcast_rows_kernel(float *out, const float *bias, int N, int D)
{
    const size_t n = (size_t)N * D;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        out[i] = bias[i % D];
}

/* dbias[o] += dout[n, o] for n = 0, 1, ... in order (the CPU's order: the same float sums). */
static __global__ void bias_grad_kernel(float *dbias, const float *dout, int N, int D)
{
    const int o = blockIdx.x * blockDim.x + threadIdx.x;
    if (o >= D) return;
    float acc = dbias[o];
    for (int n = 0; n < N; n++)
        acc += dout[(size_t)n * D + o];
    dbias[o] = acc;
}

extern "C" void linear_forward_cuda(float *out, const float *in, const float *weight,
                                    const float *bias, int N, int D_in, int D_out)
{
    float beta = 0.0f;
    if (bias) {
        broadcast_rows_kernel<<<cuda_grid((size_t)N * D_out), CUDA_BLOCK, 0, cuda_ctx.stream>>>(
            out, bias, N, D_out);
        KERNEL_CHECK();
        beta = 1.0f;
    }
    cuda_gemm_rm(GEMM_LAYER, 0, 1, N, D_out, D_in, 1.0f, in, D_in, weight, D_in, beta, out, D_out);
}

extern "C" void linear_backward_cuda(float *din, float *dweight, float *dbias, const float *dout,
                                     const float *in, const float *weight, int N, int D_in,
                                     int D_out)
{
    if (din)
        cuda_gemm_rm(GEMM_LAYER, 0, 0, N, D_in, D_out, 1.0f, dout, D_out, weight, D_in, 1.0f, din,
                     D_in);
    cuda_gemm_rm(GEMM_LAYER, 1, 0, D_out, D_in, N, 1.0f, dout, D_out, in, D_in, 1.0f, dweight,
                 D_in);
    if (dbias) {
        bias_grad_kernel<<<(D_out + 127) / 128, 128, 0, cuda_ctx.stream>>>(dbias, dout, N, D_out);
        KERNEL_CHECK();
    }
}

extern "C" void gemm_cuda(int trans_a, int trans_b, int M, int N, int K, float alpha,
                          const float *A, int lda, const float *B, int ldb, float beta, float *C,
                          int ldc)
{
    cuda_gemm_rm(GEMM_LAYER, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* cuda_util.cuh — what the CUDA backend's .cu files share (C++ only): the process's device
 * context, the checked-call macros (STYLE.md rule 15: file:line, the call, the library's error
 * name and text), the launch-check macro, the growing device scratch, the row-major GEMM helper and
 * deterministic block reductions.
 *
 * Every kernel runs on the context's compute stream, in issue order; the host waits only in
 * download() and synchronize(). Every reduction below has a fixed order for a fixed launch shape
 * (shuffle trees, then partials summed in index order), and no kernel adds floats with atomics, so
 * a run is bit-reproducible on one GPU model; only cuDNN's algorithms can break that, which
 * BackendOptions.deterministic rules out (conv2d.cu).
 */
#ifndef CLFT_BACKEND_CUDA_UTIL_CUH
#define CLFT_BACKEND_CUDA_UTIL_CUH

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include "core/backend/cuda/cuda.h"

extern "C" {
#include "core/common.h"
}

/* The process's device, fixed by the first open_cuda (one device per process, one per MPI rank). */
struct CudaContext {
    int opened;
    int device;
    Precision precision;
    int deterministic;
    cudaStream_t stream;      /* every kernel, library call, memset and device copy */
    cudaStream_t copy_stream; /* uploads from pinned host memory (memory.cu) */
    cudaEvent_t compute_mark; /* recorded on `stream` before a pinned upload (write after read) */
    cudaEvent_t copy_done;    /* recorded on `copy_stream` after it; `stream` waits on it */
    cublasHandle_t blas;
    cudnnHandle_t dnn;
    void *scratch; /* device scratch of cuda_scratch(), `scratch_bytes` long */
    size_t scratch_bytes;
    int sm_count;
};
extern CudaContext cuda_ctx;

#define CUDA_CHECK(call)                                                                           \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        if (e_ != cudaSuccess)                                                                     \
            clft_die("%s:%d: %s failed: %s (%s)", __FILE__, __LINE__, #call, cudaGetErrorName(e_), \
                     cudaGetErrorString(e_));                                                      \
    } while (0)

#define CUBLAS_CHECK(call)                                                                         \
    do {                                                                                           \
        cublasStatus_t s_ = (call);                                                                \
        if (s_ != CUBLAS_STATUS_SUCCESS)                                                           \
            clft_die("%s:%d: %s failed: %s (%s)", __FILE__, __LINE__, #call,                       \
                     cublasGetStatusName(s_), cublasGetStatusString(s_));                          \
    } while (0)

#define CUDNN_CHECK(call)                                                                          \
    do {                                                                                           \
        cudnnStatus_t s_ = (call);                                                                 \
        if (s_ != CUDNN_STATUS_SUCCESS)                                                            \
            clft_die("%s:%d: %s failed: %s", __FILE__, __LINE__, #call, cudnnGetErrorString(s_));  \
    } while (0)

/* After every kernel launch: a bad launch configuration or a missing kernel image is reported
 * here, at its line; an error inside the kernel surfaces at the next synchronising call. */
#define KERNEL_CHECK() CUDA_CHECK(cudaGetLastError())

/* A device buffer of at least `bytes` for an op's partial results, valid until the next call:
 * an op asks once, for all it needs, and carves it (the ops run one after another on one stream,
 * so one buffer serves them all). It only grows: the first steps allocate, the steady state does
 * not. */
void *cuda_scratch(size_t bytes);

/* Threads per block of the elementwise and per-row kernels. */
#define CUDA_BLOCK 256

/* Blocks for a grid-stride loop over n elements: enough to fill the device, no more. */
static inline unsigned cuda_grid(size_t n)
{
    size_t b = (n + CUDA_BLOCK - 1) / CUDA_BLOCK;
    size_t cap = (size_t)(cuda_ctx.sm_count > 0 ? cuda_ctx.sm_count : 80) * 16;
    if (b > cap) b = cap;
    return (unsigned)(b > 0 ? b : 1);
}

/* What a GEMM may round its operands to. */
typedef enum {
    GEMM_STRICT, /* fp32 whatever the run's precision (InfoNCE, scores, MoCHi's scores) */
    GEMM_LAYER   /* the run's precision (linear layers, the gemm entry) */
} GemmKind;

/* Row-major C (M, N) = alpha op(A) op(B) + beta C, as cblas_sgemm(CblasRowMajor, ...): cuBLAS is
 * column-major, and a row-major (r, c) matrix is a column-major (c, r) one, so this computes
 * Cᵀ = op(B)ᵀ op(A)ᵀ with the operands swapped (gemm.cu). */
void cuda_gemm_rm(GemmKind kind, int trans_a, int trans_b, int M, int N, int K, float alpha,
                  const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* ---- deterministic reductions (blockDim.x a multiple of 32, at most 1024) ---- */

template <typename T> __device__ __forceinline__ T warp_sum(T v)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_down_sync(0xffffffffu, v, o);
    return v;
}

template <typename T> __device__ __forceinline__ T warp_max(T v)
{
    for (int o = 16; o > 0; o >>= 1) {
        T u = __shfl_down_sync(0xffffffffu, v, o);
        v = u > v ? u : v;
    }
    return v;
}

/* The sum over the block of every thread's v, returned to all threads. `sh` is 33 values of
 * shared memory; calls may follow each other (the trailing barrier protects `sh`). */
template <typename T> __device__ T block_sum(T v, T *sh)
{
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    v = warp_sum(v);
    if (lane == 0) sh[w] = v;
    __syncthreads();
    if (w == 0) {
        T u = lane < nw ? sh[lane] : T(0);
        u = warp_sum(u);
        if (lane == 0) sh[32] = u;
    }
    __syncthreads();
    T r = sh[32];
    __syncthreads();
    return r;
}

/* The maximum over the block (a > b comparisons, as the CPU's loops: a NaN is never chosen). */
template <typename T> __device__ T block_max(T v, T *sh)
{
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    v = warp_max(v);
    if (lane == 0) sh[w] = v;
    __syncthreads();
    if (w == 0) {
        T u = lane < nw ? sh[lane] : sh[0];
        u = warp_max(u);
        if (lane == 0) sh[32] = u;
    }
    __syncthreads();
    T r = sh[32];
    __syncthreads();
    return r;
}

/* out (rows) = Σ_i parts (rows, n)[r, i] / div, i in index order — the second stage of a
 * two-stage reduction. One thread per row. */
void cuda_sum_parts(double *out, const double *parts, int rows, int n, double div);

#endif

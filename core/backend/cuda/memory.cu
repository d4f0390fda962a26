/* memory.cu — the CUDA backend's device context (open_cuda) and memory: cudaMalloc'ed buffers,
 * pinned host batches, copies on the compute stream, the scratch of the reductions.
 *
 * Uploads. From pageable host memory (initial values, checkpoints, the step's small draws) an
 * upload is cudaMemcpyAsync on the compute stream: CUDA copies the source into its own staging
 * buffer before returning, so the caller may reuse or free it at once (backend_stage_end does).
 * From pinned memory (host_alloc: the loader's batches) the copy runs on a dedicated copy stream
 * and returns at once: the copy stream first waits for the compute work issued so far (the
 * destination, e.g. the step's x1, may still be read by the previous step's backward), and the
 * compute stream waits for the copy before anything issued later. The source is read after
 * upload returns, so it must not change until the next download() or synchronize() returns
 * (both wait for the compute stream, hence for the copy). What guarantees that today:
 *   - moco_step downloads the step statistics (read_stats) after the forward, before it returns,
 *     and the loader hands a batch's pinned memory back to its workers only at the next
 *     loader_next, i.e. after moco_step has returned;
 *   - features_extract downloads each batch's features before its next loader_next;
 *   - host_free_cuda synchronises the copy stream before cudaFreeHost.
 * As the step is written (one x1/x2 device buffer each), this buys host asynchrony, not overlap
 * of the copy with compute: overlap needs two device buffers per view, alternating by step (a
 * moco.c change, see the issue's report).
 */
#include "core/backend/cuda/cuda_util.cuh"

CudaContext cuda_ctx;

static const char *const precision_names[] = {"fp32", "tf32", "bf16"};

/* A kernel compiled into this binary, asked for its attributes in open_cuda: it fails when the
 * binary has no code for the device's architecture. */
static __global__ void probe_kernel(int *x)
{
    if (x) *x = 0;
}

/* The device's reasons not to serve this run, as a status; CLFT_OK when it can. */
static ClftStatus check_device(const BackendOptions *opt, int *sm_count)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
        (void)cudaGetLastError(); /* the error is not sticky: leave the runtime clean */
        if (e != cudaSuccess)
            clft_set_error("no CUDA device (%s: %s)", cudaGetErrorName(e), cudaGetErrorString(e));
        else
            clft_set_error("no CUDA device (cudaGetDeviceCount found none)");
        return CLFT_ERR_VALUE;
    }
    if (opt->device < 0 || opt->device >= n) {
        clft_set_error("CUDA device %d does not exist (this machine has %d)", opt->device, n);
        return CLFT_ERR_VALUE;
    }
    cudaDeviceProp p;
    CUDA_CHECK(cudaGetDeviceProperties(&p, opt->device));
    if (opt->precision != PRECISION_FP32 && p.major < 8) {
        clft_set_error("precision %s needs compute capability 8.0 or newer (device %d, %s, is "
                       "%d.%d)",
                       precision_names[opt->precision], opt->device, p.name, p.major, p.minor);
        return CLFT_ERR_VALUE;
    }
    *sm_count = p.multiProcessorCount;
    return CLFT_OK;
}

/* Streams, events and library handles of the device; a failure is a status (a broken cuDNN or
 * cuBLAS install is "not usable here", not a crash). */
static ClftStatus create_context(int device)
{
    cudaError_t e = cudaSetDevice(device);
    cudaFuncAttributes fa;
    if (e == cudaSuccess) e = cudaFuncGetAttributes(&fa, probe_kernel);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        clft_set_error("CUDA device %d: %s (%s) — is this clft built for its architecture "
                       "(CMAKE_CUDA_ARCHITECTURES)?",
                       device, cudaGetErrorName(e), cudaGetErrorString(e));
        return CLFT_ERR_VALUE;
    }
    CUDA_CHECK(cudaStreamCreateWithFlags(&cuda_ctx.stream, cudaStreamNonBlocking));
    CUDA_CHECK(cudaStreamCreateWithFlags(&cuda_ctx.copy_stream, cudaStreamNonBlocking));
    CUDA_CHECK(cudaEventCreateWithFlags(&cuda_ctx.compute_mark, cudaEventDisableTiming));
    CUDA_CHECK(cudaEventCreateWithFlags(&cuda_ctx.copy_done, cudaEventDisableTiming));
    cublasStatus_t bs = cublasCreate(&cuda_ctx.blas);
    if (bs != CUBLAS_STATUS_SUCCESS) {
        clft_set_error("cuBLAS: cublasCreate failed: %s", cublasGetStatusName(bs));
        return CLFT_ERR_VALUE;
    }
    CUBLAS_CHECK(cublasSetStream(cuda_ctx.blas, cuda_ctx.stream));
    /* No TF32 behind our back: each GEMM names its compute type (gemm.cu). */
    CUBLAS_CHECK(cublasSetMathMode(cuda_ctx.blas, CUBLAS_DEFAULT_MATH));
    cudnnStatus_t ds = cudnnCreate(&cuda_ctx.dnn);
    if (ds != CUDNN_STATUS_SUCCESS) {
        clft_set_error("cuDNN: cudnnCreate failed: %s", cudnnGetErrorString(ds));
        return CLFT_ERR_VALUE;
    }
    CUDNN_CHECK(cudnnSetStream(cuda_ctx.dnn, cuda_ctx.stream));
    return CLFT_OK;
}

extern "C" ClftStatus open_cuda(const BackendOptions *opt)
{
    int sm = 0;
    ClftStatus st = check_device(opt, &sm);
    if (st != CLFT_OK) return st;
    if (cuda_ctx.opened && cuda_ctx.device != opt->device) {
        clft_set_error("this process already uses CUDA device %d (asked for %d)", cuda_ctx.device,
                       opt->device);
        return CLFT_ERR_VALUE;
    }
    if (!cuda_ctx.opened) {
        st = create_context(opt->device);
        if (st != CLFT_OK) return st;
        cuda_ctx.device = opt->device;
        cuda_ctx.sm_count = sm;
        cuda_ctx.opened = 1;
    }
    /* A later open may change these; plans made before keep their own (conv2d.cu keys on them). */
    cuda_ctx.precision = opt->precision;
    cuda_ctx.deterministic = opt->deterministic;
    return CLFT_OK;
}

/* ---- memory ---- */

extern "C" void *alloc_cuda(size_t bytes)
{
    if (!cuda_ctx.opened) clft_die("cuda: memory asked for before the device was opened");
    size_t rounded = (bytes + 255) & ~(size_t)255; /* cudaMalloc aligns to 256 bytes */
    if (rounded == 0) rounded = 256;
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, rounded);
    if (e == cudaErrorMemoryAllocation) {
        (void)cudaGetLastError();
        return NULL;
    }
    CUDA_CHECK(e);
    CUDA_CHECK(
        cudaMemsetAsync(p, 0, rounded, cuda_ctx.stream)); /* zero-filled, as the table says */
    return p;
}

extern "C" void free_cuda(void *p)
{
    if (p) CUDA_CHECK(cudaFree(p)); /* waits for the device: no kernel still uses p */
}

extern "C" void *host_alloc_cuda(size_t bytes)
{
    void *p = NULL;
    cudaError_t e = cudaMallocHost(&p, bytes ? bytes : 64);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        return NULL;
    }
    return p;
}

extern "C" void host_free_cuda(void *p)
{
    if (!p) return;
    CUDA_CHECK(cudaStreamSynchronize(cuda_ctx.copy_stream)); /* no copy still reads p */
    CUDA_CHECK(cudaFreeHost(p));
}

extern "C" void memset_zero_cuda(void *p, size_t bytes)
{
    CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, cuda_ctx.stream));
}

static int is_pinned(const void *p)
{
    cudaPointerAttributes a;
    cudaError_t e = cudaPointerGetAttributes(&a, p);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        return 0;
    }
    return a.type == cudaMemoryTypeHost;
}

extern "C" void upload_cuda(void *dst, const void *host_src, size_t bytes)
{
    if (bytes == 0) return;
    if (!is_pinned(host_src)) {
        CUDA_CHECK(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, cuda_ctx.stream));
        return;
    }
    CUDA_CHECK(cudaEventRecord(cuda_ctx.compute_mark, cuda_ctx.stream));
    CUDA_CHECK(cudaStreamWaitEvent(cuda_ctx.copy_stream, cuda_ctx.compute_mark, 0));
    CUDA_CHECK(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, cuda_ctx.copy_stream));
    CUDA_CHECK(cudaEventRecord(cuda_ctx.copy_done, cuda_ctx.copy_stream));
    CUDA_CHECK(cudaStreamWaitEvent(cuda_ctx.stream, cuda_ctx.copy_done, 0));
}

extern "C" void download_cuda(void *host_dst, const void *src, size_t bytes)
{
    if (bytes == 0) return;
    CUDA_CHECK(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, cuda_ctx.stream));
    CUDA_CHECK(cudaStreamSynchronize(cuda_ctx.stream)); /* the host reads it next */
}

extern "C" void copy_cuda(void *dst, const void *src, size_t bytes)
{
    if (bytes == 0 || dst == src) return;
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, cuda_ctx.stream));
}

extern "C" void synchronize_cuda(void)
{
    CUDA_CHECK(cudaStreamSynchronize(cuda_ctx.copy_stream));
    CUDA_CHECK(cudaStreamSynchronize(cuda_ctx.stream));
}

extern "C" void *cuda_compute_stream(void) { return (void *)cuda_ctx.stream; }

void *cuda_scratch(size_t bytes)
{
    if (bytes <= cuda_ctx.scratch_bytes) return cuda_ctx.scratch;
    size_t grown = bytes > 2 * cuda_ctx.scratch_bytes ? bytes : 2 * cuda_ctx.scratch_bytes;
    grown = (grown + 255) & ~(size_t)255;
    if (cuda_ctx.scratch) CUDA_CHECK(cudaFree(cuda_ctx.scratch)); /* waits for its last user */
    CUDA_CHECK(cudaMalloc(&cuda_ctx.scratch, grown));
    cuda_ctx.scratch_bytes = grown;
    return cuda_ctx.scratch;
}

/* out[r] = Σ_i parts[r, i] / div, i in index order. */
static __global__ void sum_parts_kernel(double *out, const double *parts, int rows, int n,
                                        double div)
{
    const int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows) return;
    double s = 0.0;
    for (int i = 0; i < n; i++)
        s += parts[(size_t)r * n + i];
    out[r] = s / div;
}

void cuda_sum_parts(double *out, const double *parts, int rows, int n, double div)
{
    sum_parts_kernel<<<(rows + 127) / 128, 128, 0, cuda_ctx.stream>>>(out, parts, rows, n, div);
    KERNEL_CHECK();
}

/* batchnorm.cu — batch normalisation over (N, C, HW), train and eval, MoCo's split mode over G
 * contiguous sub-batches, an optional fused ReLU; the semantics of core/backend/cpu/batchnorm.c
 * (torch.nn.BatchNorm2d/1d; facebookresearch/moco's SplitBatchNorm).
 *
 * The statistics of group g, channel c are over its M = (N/G)·HW values
 * x[n, c, :] for n in [g N/G, (g+1) N/G). Each (g, c) is cut into S slices (enough blocks to fill
 * the device); a block sums its slice in double, partials are added in slice order by the next
 * kernel: deterministic, and as accurate as the CPU's double sums.
 *   forward, train:  sums → mean (float, as the CPU) → Σ (x − mean)² → rstd = 1/√(var + eps), the
 *                    running statistics (mean over groups of each group's update, unbiased
 *                    variance) → y = x·a + b with a = γ·rstd, b = β − mean·a (ReLU: max(0, y))
 *   forward, eval:   mean, rstd from the running statistics, then the same map
 *   backward:        per (g, c): Σ g and Σ g (x − mean) with g = dout (gated by out > 0 under the
 *                    fused ReLU) → dβ += Σ g, dγ += rstd Σ g (x − mean) (float adds in group
 *                    order, as the CPU) → din = γ rstd (g − Σg/M − (x − mean) rstd² Σg(x−mean)/M)
 *                    (eval: din = γ rstd g), written (din_set) or added.
 */
#include "core/backend/cuda/cuda_util.cuh"

/* The shape of one BN call as the kernels see it. */
struct BnDims {
    unsigned C, HW, ng, GC; /* channels, plane size, samples per group, groups × channels */
    unsigned M;             /* values per (group, channel) = ng · HW */
    unsigned S;             /* slices per (group, channel) */
};

static BnDims bn_dims(const BnShape *s)
{
    ASSERT(s->groups >= 1 && s->N % s->groups == 0);
    ASSERT((size_t)s->N * s->C * s->HW < ((size_t)1 << 32)); /* 32-bit element indices */
    BnDims d;
    d.C = (unsigned)s->C;
    d.HW = (unsigned)s->HW;
    d.ng = (unsigned)(s->N / s->groups);
    d.GC = (unsigned)(s->groups * s->C);
    d.M = d.ng * d.HW;
    const unsigned target = 4u * (unsigned)(cuda_ctx.sm_count > 0 ? cuda_ctx.sm_count : 80);
    unsigned S = (target + d.GC - 1) / d.GC;
    const unsigned by_size = (d.M + CUDA_BLOCK * 16 - 1) / (CUDA_BLOCK * 16);
    if (S > by_size) S = by_size;
    d.S = S < 1 ? 1 : S > 1024 ? 1024 : S;
    return d;
}

/* The offset of value j (0 ≤ j < M) of (group, channel) gc in the (N, C, HW) tensor. */
static __device__ __forceinline__ size_t bn_at(const BnDims &d, unsigned gc, unsigned j)
{
    const unsigned g = gc / d.C, c = gc - g * d.C, n = g * d.ng + j / d.HW;
    return ((size_t)n * d.C + c) * d.HW + (j % d.HW);
}

/* Values [lo, hi) of slice blockIdx.y of (group, channel) blockIdx.x. */
static __device__ __forceinline__ void bn_slice(const BnDims &d, unsigned *lo, unsigned *hi)
{
    *lo = (unsigned)((unsigned long long)d.M * blockIdx.y / d.S);
    *hi = (unsigned)((unsigned long long)d.M * (blockIdx.y + 1) / d.S);
}

/* parts[gc, s] = Σ x over slice s of (group, channel) gc. */
static __global__ void bn_sum_kernel(double *parts, const float *in, BnDims d)
{
    __shared__ double sh[33];
    unsigned lo, hi;
    bn_slice(d, &lo, &hi);
    double acc = 0.0;
    for (unsigned j = lo + threadIdx.x; j < hi; j += blockDim.x)
        acc += in[bn_at(d, blockIdx.x, j)];
    acc = block_sum(acc, sh);
    if (threadIdx.x == 0) parts[(size_t)blockIdx.x * d.S + blockIdx.y] = acc;
}

/* mean = (float)(Σ parts / M) (slice 0 stores it in save_mean); sq[gc, s] = Σ (x − mean)². */
static __global__ void bn_sqdev_kernel(double *sq, float *save_mean, const double *sums,
                                       const float *in, BnDims d)
{
    __shared__ double sh[33];
    __shared__ float mean_sh;
    const unsigned gc = blockIdx.x;
    if (threadIdx.x == 0) {
        double sum = 0.0;
        for (unsigned s = 0; s < d.S; s++)
            sum += sums[(size_t)gc * d.S + s];
        mean_sh = (float)(sum / d.M);
        if (blockIdx.y == 0) save_mean[gc] = mean_sh;
    }
    __syncthreads();
    const float mean = mean_sh;
    unsigned lo, hi;
    bn_slice(d, &lo, &hi);
    double acc = 0.0;
    for (unsigned j = lo + threadIdx.x; j < hi; j += blockDim.x) {
        const float dv = in[bn_at(d, gc, j)] - mean;
        acc += (double)dv * dv;
    }
    acc = block_sum(acc, sh);
    if (threadIdx.x == 0) sq[(size_t)gc * d.S + blockIdx.y] = acc;
}

/* Per channel c: rstd of each group, then the running statistics (one thread per channel, groups
 * in order, as the CPU). */
static __global__ void bn_finish_kernel(float *save_rstd, float *running_mean, float *running_var,
                                        const float *save_mean, const double *sq, BnDims d,
                                        unsigned G, float eps, float momentum)
{
    const unsigned c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= d.C) return;
    const double M = (double)d.M;
    double mean_sum = 0.0, uvar_sum = 0.0;
    for (unsigned g = 0; g < G; g++) {
        const unsigned gc = g * d.C + c;
        double s2 = 0.0;
        for (unsigned s = 0; s < d.S; s++)
            s2 += sq[(size_t)gc * d.S + s];
        save_rstd[gc] = (float)(1.0 / sqrt(s2 / M + eps));
        mean_sum += save_mean[gc];
        uvar_sum += s2 / (M - 1.0);
    }
    running_mean[c] = (float)((1.0 - momentum) * running_mean[c] + momentum * mean_sum / G);
    running_var[c] = (float)((1.0 - momentum) * running_var[c] + momentum * uvar_sum / G);
}

/* Eval: the running statistics as every group's. */
static __global__ void bn_eval_stats_kernel(float *save_mean, float *save_rstd,
                                            const float *running_mean, const float *running_var,
                                            BnDims d, float eps)
{
    const unsigned gc = blockIdx.x * blockDim.x + threadIdx.x;
    if (gc >= d.GC) return;
    const unsigned c = gc % d.C;
    save_mean[gc] = running_mean[c];
    save_rstd[gc] = (float)(1.0 / sqrt((double)running_var[c] + eps));
}

/* The (group, channel) of element i of the (N, C, HW) tensor. */
static __device__ __forceinline__ unsigned bn_gc(const BnDims &d, unsigned i)
{
    const unsigned p = i / d.HW, n = p / d.C, c = p - n * d.C;
    return (n / d.ng) * d.C + c;
}

static __global__ void bn_apply_kernel(float *out, const float *in, const float *gamma,
                                       const float *beta, const float *save_mean,
                                       const float *save_rstd, BnDims d, unsigned total, int relu)
{
    for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += gridDim.x * blockDim.x) {
        const unsigned gc = bn_gc(d, i), c = gc % d.C;
        const float a = gamma[c] * save_rstd[gc];
        const float b = beta[c] - save_mean[gc] * a;
        const float v = in[i] * a + b;
        out[i] = relu ? (v > 0.0f ? v : 0.0f) : v;
    }
}

extern "C" void batchnorm_forward_cuda(float *out, float *save_mean, float *save_rstd,
                                       const float *in, const float *gamma, const float *beta,
                                       float *running_mean, float *running_var, const BnShape *s,
                                       BnMode mode)
{
    const BnDims d = bn_dims(s);
    cudaStream_t st = cuda_ctx.stream;
    if (mode == BN_TRAIN) {
        ASSERT(d.M > 1); /* the unbiased variance needs two values per channel */
        double *sums = (double *)cuda_scratch(2 * (size_t)d.GC * d.S * sizeof(double));
        double *sq = sums + (size_t)d.GC * d.S;
        const dim3 grid(d.GC, d.S);
        bn_sum_kernel<<<grid, CUDA_BLOCK, 0, st>>>(sums, in, d);
        KERNEL_CHECK();
        bn_sqdev_kernel<<<grid, CUDA_BLOCK, 0, st>>>(sq, save_mean, sums, in, d);
        KERNEL_CHECK();
        bn_finish_kernel<<<(d.C + 127) / 128, 128, 0, st>>>(save_rstd, running_mean, running_var,
                                                            save_mean, sq, d, (unsigned)s->groups,
                                                            s->eps, s->momentum);
        KERNEL_CHECK();
    } else {
        bn_eval_stats_kernel<<<(d.GC + 127) / 128, 128, 0, st>>>(save_mean, save_rstd, running_mean,
                                                                 running_var, d, s->eps);
        KERNEL_CHECK();
    }
    const unsigned total = (unsigned)((size_t)s->N * s->C * s->HW);
    bn_apply_kernel<<<cuda_grid(total), CUDA_BLOCK, 0, st>>>(out, in, gamma, beta, save_mean,
                                                             save_rstd, d, total, s->relu);
    KERNEL_CHECK();
}

/* parts[gc, s] = (Σ g, Σ g (x − mean)) over slice s, g = dout gated by out > 0 when out. */
static __global__ void bn_dsums_kernel(double *parts, const float *dout, const float *out,
                                       const float *in, const float *save_mean, BnDims d)
{
    __shared__ double sh[33];
    const unsigned gc = blockIdx.x;
    const float mean = save_mean[gc];
    unsigned lo, hi;
    bn_slice(d, &lo, &hi);
    double a = 0.0, b = 0.0;
    for (unsigned j = lo + threadIdx.x; j < hi; j += blockDim.x) {
        const size_t o = bn_at(d, gc, j);
        const float g = out && !(out[o] > 0.0f) ? 0.0f : dout[o];
        a += g;
        b += (double)g * (in[o] - mean);
    }
    a = block_sum(a, sh);
    b = block_sum(b, sh);
    if (threadIdx.x == 0) {
        parts[2 * ((size_t)gc * d.S + blockIdx.y)] = a;
        parts[2 * ((size_t)gc * d.S + blockIdx.y) + 1] = b;
    }
}

/* Per channel: dβ, dγ (groups in order) and each group's din coefficients coef[gc] = (k, mdy, cx):
 * din = k (g − mdy − (x − mean) cx). */
static __global__ void bn_dfinish_kernel(float *dgamma, float *dbeta, float *coef,
                                         const double *parts, const float *save_rstd,
                                         const float *gamma, BnDims d, unsigned G, int train)
{
    const unsigned c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= d.C) return;
    const double M = (double)d.M;
    float db = dbeta[c], dg = dgamma[c];
    for (unsigned g = 0; g < G; g++) {
        const unsigned gc = g * d.C + c;
        double sdy = 0.0, sdyx = 0.0;
        for (unsigned s = 0; s < d.S; s++) {
            sdy += parts[2 * ((size_t)gc * d.S + s)];
            sdyx += parts[2 * ((size_t)gc * d.S + s) + 1];
        }
        const float rstd = save_rstd[gc];
        db += (float)sdy;
        dg += (float)(sdyx * rstd);
        coef[3 * gc] = gamma[c] * rstd;
        coef[3 * gc + 1] = train ? (float)(sdy / M) : 0.0f;
        coef[3 * gc + 2] = train ? (float)(sdyx * rstd * rstd / M) : 0.0f;
    }
    dbeta[c] = db;
    dgamma[c] = dg;
}

static __global__ void bn_din_kernel(float *din, const float *dout, const float *out,
                                     const float *in, const float *save_mean, const float *coef,
                                     BnDims d, unsigned total, int set)
{
    for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += gridDim.x * blockDim.x) {
        const unsigned gc = bn_gc(d, i);
        const float k = coef[3 * gc], mdy = coef[3 * gc + 1], cx = coef[3 * gc + 2];
        const float g = out && !(out[i] > 0.0f) ? 0.0f : dout[i];
        const float v = k * (g - mdy - (in[i] - save_mean[gc]) * cx);
        din[i] = set ? v : din[i] + v; /* din_set: din is not read, it may hold anything */
    }
}

extern "C" void batchnorm_backward_cuda(float *din, float *dgamma, float *dbeta, const float *dout,
                                        const float *in, const float *save_mean,
                                        const float *save_rstd, const float *gamma,
                                        const float *out, const BnShape *s, BnMode mode)
{
    ASSERT(!s->relu || out);
    if (!s->relu) out = NULL;
    const BnDims d = bn_dims(s);
    cudaStream_t st = cuda_ctx.stream;
    const size_t parts_bytes = 2 * (size_t)d.GC * d.S * sizeof(double);
    char *scratch = (char *)cuda_scratch(parts_bytes + 3 * (size_t)d.GC * sizeof(float));
    double *parts = (double *)scratch;
    float *coef = (float *)(scratch + parts_bytes);
    bn_dsums_kernel<<<dim3(d.GC, d.S), CUDA_BLOCK, 0, st>>>(parts, dout, out, in, save_mean, d);
    KERNEL_CHECK();
    bn_dfinish_kernel<<<(d.C + 127) / 128, 128, 0, st>>>(
        dgamma, dbeta, coef, parts, save_rstd, gamma, d, (unsigned)s->groups, mode == BN_TRAIN);
    KERNEL_CHECK();
    if (!din) return;
    const unsigned total = (unsigned)((size_t)s->N * s->C * s->HW);
    bn_din_kernel<<<cuda_grid(total), CUDA_BLOCK, 0, st>>>(din, dout, out, in, save_mean, coef, d,
                                                           total, s->din_set);
    KERNEL_CHECK();
}

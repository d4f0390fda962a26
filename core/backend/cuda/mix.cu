/* mix.cu — the feature mixes of the variants on the GPU, as core/backend/cpu/mix.c: FT's positive
 * pair mix (forward and backward) and its negative row mix (variants/ft.h), MoCHi's hardest
 * negatives and the normalised mixes of picked rows (variants/mochi.h). A block per row; norms in
 * double, as the CPU; all in fp32 whatever the run's precision.
 *
 * topk_rows: the scores of TOPK_BLOCK query rows at a time (one strict-fp32 GEMM into the scratch
 * block), then a block per row selects its k largest: a radix select over the scores' order-
 * preserving 32-bit keys (four 8-bit digits, most significant first) finds the k-th largest key
 * T; a compaction in index order (block scans) takes every key above T and, of the keys equal to
 * T, the lowest indices (the table's tie rule). For k ≤ TOPK_SORT_MAX the k picks are then sorted
 * by score, highest first, ties by lower row (bitonic sort in shared memory): the reference
 * backend's order, so MoCHi's picks by position agree with cpu-ref's; above it they stay in index
 * order within the two groups. Either way the order is a function of the scores only
 * (deterministic); the table specifies only the set.
 */
#include <limits.h>
#include <math.h>

#include "core/backend/cuda/cuda_util.cuh"

static int row_block(int D)
{
    return D >= 256 ? 256 : D > 64 ? 128 : 64;
}

/* x (D,) of this block scaled to unit norm (norm clamped at 1e-12, as F.normalize); returns the
 * norm it had, as a float (the CPU's normalise_row). Each thread rescales the entries it wrote. */
static __device__ float normalise_row(float *x, int D, double *sh)
{
    double ss = 0.0;
    for (int d = threadIdx.x; d < D; d += blockDim.x)
        ss += (double)x[d] * x[d];
    ss = block_sum(ss, sh);
    const float nrm = (float)sqrt(ss);
    const float inv = 1.0f / (nrm > 1e-12f ? nrm : 1e-12f);
    for (int d = threadIdx.x; d < D; d += blockDim.x)
        x[d] *= inv;
    return nrm;
}

/* ---- FT ---- */

static __global__ void pair_mix_forward_kernel(float *a_hat, float *b_hat, float *a_norm,
                                               float *b_norm, const float *a, const float *b,
                                               const float *lam, float lam0, int D, int renorm)
{
    __shared__ double sh[33];
    const size_t o = (size_t)blockIdx.x * D;
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        const float l = lam ? lam[d] : lam0;
        a_hat[o + d] = l * a[o + d] + (1.0f - l) * b[o + d];
        b_hat[o + d] = l * b[o + d] + (1.0f - l) * a[o + d];
    }
    if (!renorm) return;
    const float na = normalise_row(a_hat + o, D, sh);
    const float nb = normalise_row(b_hat + o, D, sh);
    if (threadIdx.x == 0) {
        a_norm[blockIdx.x] = na;
        b_norm[blockIdx.x] = nb;
    }
}

/* Re-normalised, x̂ = x/‖x‖: dx = (dx̂ − x̂ (x̂·dx̂)) / ‖x‖ for both mixes, then through the mix. */
static __global__ void pair_mix_backward_kernel(float *da, const float *da_hat, const float *db_hat,
                                                const float *a_hat, const float *b_hat,
                                                const float *a_norm, const float *b_norm,
                                                const float *lam, float lam0, int D, int renorm)
{
    __shared__ double sh[33];
    const size_t o = (size_t)blockIdx.x * D;
    const float *gq = da_hat + o, *gk = db_hat + o;
    float *out = da + o;
    if (!renorm) {
        for (int d = threadIdx.x; d < D; d += blockDim.x) {
            const float l = lam ? lam[d] : lam0;
            out[d] += l * gq[d] + (1.0f - l) * gk[d];
        }
        return;
    }
    const float *qh = a_hat + o, *kh = b_hat + o;
    double qg = 0.0, kg = 0.0;
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        qg += (double)qh[d] * gq[d];
        kg += (double)kh[d] * gk[d];
    }
    qg = block_sum(qg, sh);
    kg = block_sum(kg, sh);
    const float an = a_norm[blockIdx.x], bn = b_norm[blockIdx.x];
    const float iu = 1.0f / (an > 1e-12f ? an : 1e-12f), iw = 1.0f / (bn > 1e-12f ? bn : 1e-12f);
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        const float l = lam ? lam[d] : lam0;
        const float du = (gq[d] - qh[d] * (float)qg) * iu;
        const float dw = (gk[d] - kh[d] * (float)kg) * iw;
        out[d] += l * du + (1.0f - l) * dw;
    }
}

/* out[i] = λ∘x[i] + (1−λ)∘x[perm[i]], a block per row i; renorm: unit rows. */
static __global__ void row_mix_kernel(float *out, const float *x, const int *perm, const float *lam,
                                      float lam0, int D, int renorm)
{
    __shared__ double sh[33];
    const size_t i = blockIdx.x;
    const float *xi = x + i * D, *y = x + (size_t)perm[i] * D;
    float *z = out + i * D;
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        const float l = lam ? lam[d] : lam0;
        z[d] = l * xi[d] + (1.0f - l) * y[d];
    }
    if (renorm) normalise_row(z, D, sh);
}

extern "C" void pair_mix_forward_cuda(float *a_hat, float *b_hat, float *a_norm, float *b_norm,
                                      const float *a, const float *b, const float *lam, float lam0,
                                      int N, int D, int renorm)
{
    if (N <= 0) return;
    pair_mix_forward_kernel<<<N, row_block(D), 0, cuda_ctx.stream>>>(a_hat, b_hat, a_norm, b_norm,
                                                                     a, b, lam, lam0, D, renorm);
    KERNEL_CHECK();
}

extern "C" void pair_mix_backward_cuda(float *da, const float *da_hat, const float *db_hat,
                                       const float *a_hat, const float *b_hat, const float *a_norm,
                                       const float *b_norm, const float *lam, float lam0, int N,
                                       int D, int renorm)
{
    if (N <= 0) return;
    pair_mix_backward_kernel<<<N, row_block(D), 0, cuda_ctx.stream>>>(
        da, da_hat, db_hat, a_hat, b_hat, a_norm, b_norm, lam, lam0, D, renorm);
    KERNEL_CHECK();
}

extern "C" void row_mix_cuda(float *out, const float *x, const int *perm, const float *lam,
                             float lam0, int K, int D, int renorm)
{
    if (K <= 0) return;
    row_mix_kernel<<<K, row_block(D), 0, cuda_ctx.stream>>>(out, x, perm, lam, lam0, D, renorm);
    KERNEL_CHECK();
}

/* ---- MoCHi: the hardest negatives ---- */

#define TOPK_THREADS 256
#define TOPK_SORT_MAX 2048

/* An unsigned key with the order of the floats: larger float, larger key; −0 is +0 (they tie, as
 * the floats compare). */
static __device__ __forceinline__ unsigned float_key(float f)
{
    const unsigned u = __float_as_uint(f == 0.0f ? 0.0f : f);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

/* Exclusive prefix sum of v over the block (in thread order); *total gets the block's sum.
 * sh: 33 ints of shared memory. */
static __device__ int block_scan(int v, int *total, int *sh)
{
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    int x = v;
    for (int o = 1; o < 32; o <<= 1) {
        const int y = __shfl_up_sync(0xffffffffu, x, o);
        if (lane >= o) x += y;
    }
    if (lane == 31) sh[w] = x;
    __syncthreads();
    if (w == 0) {
        int t = lane < nw ? sh[lane] : 0;
        for (int o = 1; o < 32; o <<= 1) {
            const int y = __shfl_up_sync(0xffffffffu, t, o);
            if (lane >= o) t += y;
        }
        if (lane < nw) sh[lane] = t;
    }
    __syncthreads();
    const int before = (w > 0 ? sh[w - 1] : 0) + x - v;
    *total = sh[nw - 1];
    __syncthreads();
    return before;
}

/* The k-th largest key of row (K,): T, and how many keys equal to T the k largest take. */
static __device__ void radix_select(const float *row, int K, int k, unsigned *T, int *take_eq)
{
    __shared__ int hist[256];
    __shared__ unsigned prefix_sh;
    __shared__ int remaining_sh;
    unsigned prefix = 0, mask = 0;
    int remaining = k;
    for (int shift = 24; shift >= 0; shift -= 8) {
        for (int b = threadIdx.x; b < 256; b += blockDim.x)
            hist[b] = 0;
        __syncthreads();
        for (int j = threadIdx.x; j < K; j += blockDim.x) {
            const unsigned key = float_key(row[j]);
            if ((key & mask) == prefix) atomicAdd(&hist[(key >> shift) & 255u], 1);
        }
        __syncthreads();
        if (threadIdx.x == 0) { /* the digit where the count from the top reaches `remaining` */
            int cum = 0, dgt = 255;
            for (; dgt > 0 && cum + hist[dgt] < remaining; dgt--)
                cum += hist[dgt];
            prefix_sh = prefix | ((unsigned)dgt << shift);
            remaining_sh = remaining - cum;
        }
        __syncthreads();
        prefix = prefix_sh;
        remaining = remaining_sh;
        mask |= 255u << shift;
        __syncthreads();
    }
    *T = prefix;
    *take_eq = remaining;
}

/* Orders a before b: higher key, then lower index. */
static __device__ __forceinline__ int topk_before(unsigned ka, int ia, unsigned kb, int ib)
{
    return ka > kb || (ka == kb && ia < ib);
}

/* Sorts the k picks out (k,) of row by (score desc, index asc): a bitonic sort of P ≥ k slots. */
static __device__ void topk_sort(int *out, const float *row, int k)
{
    __shared__ unsigned skey[TOPK_SORT_MAX];
    __shared__ int sidx[TOPK_SORT_MAX];
    int P = 1;
    while (P < k)
        P <<= 1;
    for (int i = threadIdx.x; i < P; i += blockDim.x) {
        skey[i] = i < k ? float_key(row[out[i]]) : 0u;
        sidx[i] = i < k ? out[i] : INT_MAX; /* padding sorts last */
    }
    __syncthreads();
    for (int size = 2; size <= P; size <<= 1)
        for (int stride = size >> 1; stride > 0; stride >>= 1) {
            for (int i = threadIdx.x; i < P; i += blockDim.x) {
                const int j = i ^ stride;
                if (j <= i) continue;
                const int first = (i & size) == 0; /* this pair's run ends with the "before" */
                const int swap = first ? topk_before(skey[j], sidx[j], skey[i], sidx[i])
                                       : topk_before(skey[i], sidx[i], skey[j], sidx[j]);
                if (swap) {
                    const unsigned tk = skey[i];
                    const int ti = sidx[i];
                    skey[i] = skey[j], sidx[i] = sidx[j];
                    skey[j] = tk, sidx[j] = ti;
                }
            }
            __syncthreads();
        }
    for (int i = threadIdx.x; i < k; i += blockDim.x)
        out[i] = sidx[i];
}

/* A block per row of scores (rows, K): the k largest into idx (rows, k). */
static __global__ void topk_select_kernel(int *idx, const float *scores, int K, int k)
{
    __shared__ int sh[33];
    const float *row = scores + (size_t)blockIdx.x * K; /* (K,) */
    int *out = idx + (size_t)blockIdx.x * k;            /* (k,) */
    unsigned T;
    int take_eq;
    radix_select(row, K, k, &T, &take_eq);
    const int n_gt = k - take_eq; /* keys above T: all taken, at [0, n_gt) */
    int gt_done = 0, eq_done = 0;
    for (int c0 = 0; c0 < K; c0 += blockDim.x) {
        const int j = c0 + threadIdx.x;
        const unsigned key = j < K ? float_key(row[j]) : 0u;
        const int gt = j < K && key > T, eq = j < K && key == T;
        int n_gt_chunk, n_eq_chunk;
        const int pg = block_scan(gt, &n_gt_chunk, sh);
        const int pe = block_scan(eq, &n_eq_chunk, sh);
        if (gt) out[gt_done + pg] = j;
        if (eq && eq_done + pe < take_eq) out[n_gt + eq_done + pe] = j;
        gt_done += n_gt_chunk;
        eq_done += n_eq_chunk;
    }
    __syncthreads();
    if (k <= TOPK_SORT_MAX) topk_sort(out, row, k);
}

extern "C" void topk_rows_cuda(int *idx, const float *q, const float *x, int N, int D, int K, int k,
                               float *scores)
{
    ASSERT(k >= 1 && k <= K);
    for (int n0 = 0; n0 < N; n0 += TOPK_BLOCK) {
        const int nb = N - n0 < TOPK_BLOCK ? N - n0 : TOPK_BLOCK;
        /* scores (nb, K) = q[n0:n0+nb] (nb, D) × xᵀ (D, K) */
        cuda_gemm_rm(GEMM_STRICT, 0, 1, nb, K, D, 1.0f, q + (size_t)n0 * D, D, x, D, 0.0f, scores,
                     K);
        topk_select_kernel<<<nb, TOPK_THREADS, 0, cuda_ctx.stream>>>(idx + (size_t)n0 * k, scores,
                                                                     K, k);
        KERNEL_CHECK();
    }
}

/* out[n, e] = normalise(c a + (1 − c) b): a block per (n, e). */
static __global__ void mix_picked_kernel(float *out, const float *q, const float *x, const int *idx,
                                         int k, const int *pos_a, const int *pos_b,
                                         const float *coef, int E, int D)
{
    __shared__ double sh[33];
    const size_t t = blockIdx.x, n = t / E;
    const int *pick = idx + n * k;
    const float *va = pos_a[t] >= 0 ? x + (size_t)pick[pos_a[t]] * D : q + n * D;
    const float *vb = x + (size_t)pick[pos_b[t]] * D;
    const float c = coef[t];
    float *o = out + t * D;
    double ss = 0.0;
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        o[d] = c * va[d] + (1.0f - c) * vb[d];
        ss += (double)o[d] * o[d];
    }
    ss = block_sum(ss, sh);
    const float inv = (float)(1.0 / (ss > 1e-24 ? sqrt(ss) : 1e-12));
    for (int d = threadIdx.x; d < D; d += blockDim.x)
        o[d] *= inv;
}

extern "C" void mix_picked_cuda(float *out, const float *q, const float *x, const int *idx, int k,
                                const int *pos_a, const int *pos_b, const float *coef, int N, int E,
                                int D)
{
    if (N <= 0 || E <= 0) return;
    mix_picked_kernel<<<(unsigned)((size_t)N * E), row_block(D), 0, cuda_ctx.stream>>>(
        out, q, x, idx, k, pos_a, pos_b, coef, E, D);
    KERNEL_CHECK();
}

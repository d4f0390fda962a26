/* contrast.cu — InfoNCE forward/backward and the score statistics and histograms on the GPU; the
 * formulas are in core/contrast/infonce.h and scores.h, the CPU twin is
 * core/backend/cpu/contrast.c. The GEMMs are cuBLAS in strict fp32 whatever the run's precision
 * (InfoNCE and the statistics are fp32, backend.h "Precision").
 *
 *   forward   logits[n, 0] = q̂_n·k̂_n / T and the extras q̂_n·extra_{n,e} / T (a warp per dot),
 *             logits[n, 1..K] = q̂ (N, D) · queuêᵀ / T (one GEMM, ldc = L = 1+K+E), then a block per
 *             row: row max, exp(logit − max) into grad, the row's sums in double, its loss
 *             log Σ − (l_0 − max) and hit (l_0 STRICTLY above every negative); loss and instance
 *             accuracy are the row values summed in row order (deterministic) over N.
 *   backward  grad ← grad / (row_sum · N), grad[n, 0] −= 1/N; dk̂ += g_0/T q̂; dq̂ += g_0/T k̂ +
 *             (1/T) Σ_e g_e extra_e (a thread per (n, d)); dq̂ += (1/T) G_queue · queuê (GEMM,
 *             beta = 1).
 *   scores    per row (a block): the negatives' mean and unbiased variance of T·logit in double,
 *             exp terms from InfoNCE's row sums; histogram counts through a shared-memory
 *             histogram per block, added into the device ScoreHist with 64-bit integer atomics
 *             (counts are integers: the order of the adds does not matter).
 *   pre       M = (1/K) queueᵀ queue by SYRK (its row-major upper triangle is cuBLAS's
 *             column-major lower one), μ by a two-stage column sum in double, the quadratic
 *             forms a block per query row; the pre-transform histogram in blocks of
 *             SCORES_PRE_BLOCK queue rows (a GEMM into `block`, then a histogram kernel).
 */
#include <math.h>

#include "core/backend/cuda/cuda_util.cuh"
#include "core/contrast/infonce.h"
#include "core/contrast/scores.h"

/* scores_hist_bin (scores.h) on the device: s's bin, −1 (under, NaN) or SCORES_HIST_BINS (over) */
static __device__ __forceinline__ int hist_bin(double s)
{
    const double scale = SCORES_HIST_BINS / (SCORES_HIST_HI - SCORES_HIST_LO);
    if (!(s >= SCORES_HIST_LO)) return -1;
    if (s >= SCORES_HIST_HI) return SCORES_HIST_BINS;
    const int b = (int)((s - SCORES_HIST_LO) * scale); /* ≥ 0 here, so truncation is floor */
    return b < SCORES_HIST_BINS ? b : SCORES_HIST_BINS - 1;
}

typedef unsigned long long u64;
_Static_assert(sizeof(u64) == sizeof(uint64_t), "ScoreHist counts are 64-bit");

/* Shared-memory histogram of one half (pos or neg): SCORES_HIST_BINS bins, then under, over. */
#define SH_BINS (SCORES_HIST_BINS + 2)

static __device__ __forceinline__ void sh_count(unsigned *sh, double s)
{
    const int b = hist_bin(s);
    atomicAdd(&sh[b < 0 ? SCORES_HIST_BINS : b >= SCORES_HIST_BINS ? SCORES_HIST_BINS + 1 : b], 1u);
}

/* Adds a block's shared histogram into bins / under / over of the device ScoreHist. */
static __device__ void sh_flush(const unsigned *sh, uint64_t *bins, uint64_t *under, uint64_t *over)
{
    __syncthreads();
    for (int b = threadIdx.x; b < SH_BINS; b += blockDim.x) {
        if (!sh[b]) continue;
        uint64_t *dst = b < SCORES_HIST_BINS ? bins + b : b == SCORES_HIST_BINS ? under : over;
        atomicAdd((u64 *)dst, (u64)sh[b]);
    }
}

static __device__ void sh_clear(unsigned *sh)
{
    for (int b = threadIdx.x; b < SH_BINS; b += blockDim.x)
        sh[b] = 0;
    __syncthreads();
}

/* ---- InfoNCE forward ---- */

/* logits[n, 0] and logits[n, 1+K+e]: warp w of the block takes dots w, w + 4, ... of row n. */
static __global__ void pos_extra_kernel(float *logits, const float *q, const float *k,
                                        const float *extra, int D, int K, int E, int L, float invT)
{
    const int n = blockIdx.x, lane = threadIdx.x & 31, nw = blockDim.x >> 5;
    const float *qn = q + (size_t)n * D;
    for (int t = threadIdx.x >> 5; t <= E; t += nw) {
        const float *v = t == 0 ? k + (size_t)n * D : extra + ((size_t)n * E + (t - 1)) * D;
        float s = 0.0f;
        for (int d = lane; d < D; d += 32)
            s += qn[d] * v[d];
        s = warp_sum(s);
        if (lane == 0) logits[(size_t)n * L + (t == 0 ? 0 : K + t)] = s * invT;
    }
}

/* A block per row: the softmax terms into grad, row_max / neg_sum / row_sum, and the row's loss
 * and hit into rows (N, 2). */
static __global__ void softmax_rows_kernel(float *grad, double *row_max, double *neg_sum,
                                           double *row_sum, double *rows, const float *logits,
                                           int L)
{
    __shared__ float shf[33];
    __shared__ double shd[33];
    const int n = blockIdx.x;
    const float *l = logits + (size_t)n * L; /* (L,) */
    float *e = grad + (size_t)n * L;         /* (L,) */
    float mneg = l[1];
    for (int j = 1 + threadIdx.x; j < L; j += blockDim.x)
        mneg = l[j] > mneg ? l[j] : mneg;
    mneg = block_max(mneg, shf);
    const float l0 = l[0];
    const float mx = l0 > mneg ? l0 : mneg;
    double sneg = 0.0;
    for (int j = 1 + threadIdx.x; j < L; j += blockDim.x) {
        const float v = expf(l[j] - mx);
        e[j] = v;
        sneg += v;
    }
    sneg = block_sum(sneg, shd);
    if (threadIdx.x == 0) {
        const float e0 = expf(l0 - mx);
        e[0] = e0;
        row_max[n] = mx;
        neg_sum[n] = sneg;
        row_sum[n] = sneg + e0;
        /* −log p_0 = log Σ_j exp(l_j − mx) − (l_0 − mx) */
        rows[2 * n] = log(sneg + e0) - ((double)l0 - mx);
        rows[2 * n + 1] = l0 > mneg ? 1.0 : 0.0; /* strict: a tie with a negative is not a hit */
    }
}

/* stats[LOSS], stats[INST_ACC]: the rows' values summed in row order, over N. */
static __global__ void infonce_stats_kernel(double *stats, const double *rows, int N)
{
    double loss = 0.0, hits = 0.0;
    for (int n = 0; n < N; n++) {
        loss += rows[2 * n];
        hits += rows[2 * n + 1];
    }
    stats[STEP_STAT_LOSS] = loss / N;
    stats[STEP_STAT_INST_ACC] = hits / N;
}

static void scores_compute_cuda(double *post, void *hist, const InfoNCE *w);

extern "C" void infonce_forward_cuda(InfoNCE *w, const InfoNCEInput *in, double *stats, void *hist)
{
    const int N = w->N, D = w->D, K = w->K, L = w->L, E = in->E;
    const float invT = 1.0f / w->T;
    cudaStream_t st = cuda_ctx.stream;
    pos_extra_kernel<<<N, 128, 0, st>>>(w->logits, in->q, in->k, in->extra, D, K, E, L, invT);
    KERNEL_CHECK();
    cuda_gemm_rm(GEMM_STRICT, 0, 1, N, K, D, invT, in->q, D, in->queue, D, 0.0f, w->logits + 1, L);
    double *rows = (double *)cuda_scratch((size_t)2 * N * sizeof(double));
    softmax_rows_kernel<<<N, CUDA_BLOCK, 0, st>>>(w->grad, w->row_max, w->neg_sum, w->row_sum, rows,
                                                  w->logits, L);
    KERNEL_CHECK();
    infonce_stats_kernel<<<1, 1, 0, st>>>(stats, rows, N);
    KERNEL_CHECK();
    scores_compute_cuda(stats + STEP_STAT_POST, hist, w); /* the score statistics (backend.h) */
}

/* ---- InfoNCE backward ---- */

/* grad (N, L): exp terms → dL/dlogits = (p − e_0) / N; a block per row. */
static __global__ void grad_scale_kernel(float *grad, const double *row_sum, int N, int L)
{
    const int n = blockIdx.x;
    float *g = grad + (size_t)n * L;
    const float scale = (float)(1.0 / (row_sum[n] * N));
    for (int j = threadIdx.x; j < L; j += blockDim.x) {
        float v = g[j] * scale;
        if (j == 0) v -= 1.0f / N;
        g[j] = v;
    }
}

/* A thread per (n, d): dq̂ += g_0/T k̂ + (1/T) Σ_e g_{1+K+e} extra_e, dk̂ += g_0/T q̂. */
static __global__ void pos_extra_grad_kernel(float *dq, float *dk, const float *grad,
                                             const float *q, const float *k, const float *extra,
                                             int N, int D, int K, int E, int L, float invT)
{
    const size_t total = (size_t)N * D;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        const size_t n = i / D, d = i - n * D;
        const float *g = grad + n * L;
        const float g0 = g[0] * invT;
        float acc = dq[i] + g0 * k[i];
        if (E > 0) {
            float s = 0.0f;
            for (int e = 0; e < E; e++)
                s += g[1 + K + e] * extra[(n * E + e) * D + d];
            acc += invT * s;
        }
        dq[i] = acc;
        if (dk) dk[i] += g0 * q[i];
    }
}

extern "C" void infonce_backward_cuda(InfoNCE *w, const InfoNCEInput *in, float *dq_hat,
                                      float *dk_hat)
{
    const int N = w->N, D = w->D, K = w->K, L = w->L, E = w->E;
    const float invT = 1.0f / w->T;
    cudaStream_t st = cuda_ctx.stream;
    grad_scale_kernel<<<N, CUDA_BLOCK, 0, st>>>(w->grad, w->row_sum, N, L);
    KERNEL_CHECK();
    pos_extra_grad_kernel<<<cuda_grid((size_t)N * D), CUDA_BLOCK, 0, st>>>(
        dq_hat, dk_hat, w->grad, in->q, in->k, in->extra, N, D, K, E, L, invT);
    KERNEL_CHECK();
    /* dq̂ (N, D) += (1/T) G_queue (N, K; stride L) × queuê (K, D) */
    cuda_gemm_rm(GEMM_STRICT, 0, 0, N, D, K, invT, w->grad + 1, L, in->queue, D, 1.0f, dq_hat, D);
}

/* ---- score statistics of the last forward ---- */

/* A block per row: rows (N, 5) = pos, negatives' mean and variance, exp pos, exp neg; the scores
 * into hist when it is not NULL. */
static __global__ void scores_rows_kernel(double *rows, ScoreHist *hist, const float *logits,
                                          const double *row_max, const double *neg_sum, int L,
                                          double T)
{
    __shared__ double sh[33];
    __shared__ unsigned bins[SH_BINS];
    const int n = blockIdx.x, nneg = L - 1;
    const float *l = logits + (size_t)n * L; /* (L,) */
    if (hist) sh_clear(bins);
    double s1 = 0.0, s2 = 0.0;
    for (int j = 1 + threadIdx.x; j < L; j += blockDim.x) {
        const double s = T * l[j];
        s1 += s;
        s2 += s * s;
        if (hist) sh_count(bins, s);
    }
    s1 = block_sum(s1, sh);
    s2 = block_sum(s2, sh);
    if (hist) sh_flush(bins, hist->neg, &hist->neg_under, &hist->neg_over);
    if (threadIdx.x != 0) return;
    const double mean = s1 / nneg;
    /* Negative scores are bounded (|s| ≤ 3), so the one-pass form loses nothing in double. */
    const double var = nneg > 1 ? (s2 - s1 * mean) / (nneg - 1) : 0.0;
    const double pos = T * l[0];
    if (hist) {
        const int b = hist_bin(pos);
        uint64_t *dst = b < 0                   ? &hist->pos_under
                        : b >= SCORES_HIST_BINS ? &hist->pos_over
                                                : &hist->pos[b];
        atomicAdd((u64 *)dst, 1ull);
    }
    double *r = rows + 5 * (size_t)n;
    r[0] = pos;
    r[1] = mean;
    r[2] = var;
    r[3] = exp((double)l[0]);
    /* mean_j exp(l_j) = exp(row_max) Σ_j exp(l_j − row_max) / nneg */
    r[4] = exp(row_max[n]) * neg_sum[n] / nneg;
}

/* post (6): the batch aggregates of the rows, in row order (ScoreStats). */
static __global__ void scores_post_kernel(double *post, const double *rows, int N)
{
    double sp = 0, sp2 = 0, snm = 0, snv = 0, sep = 0, sen = 0;
    for (int n = 0; n < N; n++) {
        const double *r = rows + 5 * (size_t)n;
        sp += r[0];
        sp2 += r[0] * r[0];
        snm += r[1];
        snv += r[2];
        sep += r[3];
        sen += r[4];
    }
    const double pos_mean = sp / N;
    post[0] = pos_mean;
    post[1] = N > 1 ? (sp2 - sp * pos_mean) / (N - 1) : 0.0;
    post[2] = snm / N;
    post[3] = snv / N;
    post[4] = sep / N;
    post[5] = sen / N;
}

static void scores_compute_cuda(double *post, void *hist, const InfoNCE *w)
{
    const int N = w->N;
    double *rows = (double *)cuda_scratch((size_t)5 * N * sizeof(double));
    scores_rows_kernel<<<N, CUDA_BLOCK, 0, cuda_ctx.stream>>>(
        rows, (ScoreHist *)hist, w->logits, w->row_max, w->neg_sum, w->L, (double)w->T);
    KERNEL_CHECK();
    scores_post_kernel<<<1, 1, 0, cuda_ctx.stream>>>(post, rows, N);
    KERNEL_CHECK();
}

/* ---- pre-transform statistics ---- */

#define MU_ROWS 8 /* queue rows per thread row of mu_parts_kernel */

/* parts (D, KB): block (bx, kb) sums queue rows of chunk kb for columns bx·32 .. bx·32+31, a
 * (32, MU_ROWS) thread block, in double. */
static __global__ void mu_parts_kernel(double *parts, const float *queue, int D, int K, int KB)
{
    __shared__ double sh[MU_ROWS][32];
    const int d = blockIdx.x * 32 + threadIdx.x, kb = blockIdx.y;
    const int lo = (int)((long)K * kb / KB), hi = (int)((long)K * (kb + 1) / KB);
    double s = 0.0;
    if (d < D)
        for (int j = lo + threadIdx.y; j < hi; j += MU_ROWS)
            s += queue[(size_t)j * D + d];
    sh[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y != 0 || d >= D) return;
    double t = 0.0;
    for (int r = 0; r < MU_ROWS; r++)
        t += sh[r][threadIdx.x];
    parts[(size_t)d * KB + kb] = t;
}

/* A block per query row n, a thread per dimension a: rows (N, 3) = q·k, q·μ and
 * max(0, (K/(K−1)) (qᵀ M q − (q·μ)²)) with qᵀ M q from M's upper triangle, as the CPU. */
static __global__ void pre_rows_kernel(double *rows, const float *q, const float *k, const float *M,
                                       const double *mu, int D, int K)
{
    extern __shared__ float qs[]; /* (D) */
    __shared__ double sh[33];
    const int n = blockIdx.x;
    const float *qn = q + (size_t)n * D, *kn = k + (size_t)n * D;
    for (int a = threadIdx.x; a < D; a += blockDim.x)
        qs[a] = qn[a];
    __syncthreads();
    double pos = 0.0, m = 0.0, quad = 0.0;
    for (int a = threadIdx.x; a < D; a += blockDim.x) {
        pos += (double)qs[a] * kn[a];
        m += (double)qs[a] * mu[a];
        double row = 0.0; /* Σ_{b>a} M_ab q_b: the upper triangle only */
        for (int b = a + 1; b < D; b++)
            row += (double)M[(size_t)a * D + b] * qs[b];
        quad += qs[a] * (2.0 * row + (double)M[(size_t)a * D + a] * qs[a]);
    }
    pos = block_sum(pos, sh);
    m = block_sum(m, sh);
    quad = block_sum(quad, sh);
    if (threadIdx.x != 0) return;
    const double var = (quad - m * m) * K / (K - 1);
    rows[3 * (size_t)n] = pos;
    rows[3 * (size_t)n + 1] = m;
    rows[3 * (size_t)n + 2] = var > 0.0 ? var : 0.0;
}

static __global__ void pre_stats_kernel(double *pre, const double *rows, int N)
{
    double sp = 0, sp2 = 0, snm = 0, snv = 0;
    for (int n = 0; n < N; n++) {
        const double *r = rows + 3 * (size_t)n;
        sp += r[0];
        sp2 += r[0] * r[0];
        snm += r[1];
        snv += r[2];
    }
    const double pos_mean = sp / N;
    pre[0] = pos_mean;
    pre[1] = N > 1 ? (sp2 - sp * pos_mean) / (N - 1) : 0.0;
    pre[2] = snm / N;
    pre[3] = snv / N;
}

static void scores_pre_moments(double *pre, const float *q, const float *k, const float *queue,
                               int N, int D, int K, float *M, double *mu)
{
    cudaStream_t st = cuda_ctx.stream;
    const float alpha = 1.0f / K, beta = 0.0f;
    /* row-major M (D, D) upper = (1/K) queueᵀ queue: column-major lower of A Aᵀ, A = queue read
     * column-major (D, K) */
    CUBLAS_CHECK(cublasSsyrk(cuda_ctx.blas, CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_N, D, K, &alpha,
                             queue, D, &beta, M, D));
    int KB = (K + 1023) / 1024;
    if (KB > 64) KB = 64;
    char *scratch = (char *)cuda_scratch(((size_t)D * KB + 3 * (size_t)N) * sizeof(double));
    double *parts = (double *)scratch, *rows = parts + (size_t)D * KB;
    mu_parts_kernel<<<dim3((D + 31) / 32, KB), dim3(32, MU_ROWS), 0, st>>>(parts, queue, D, K, KB);
    KERNEL_CHECK();
    cuda_sum_parts(mu, parts, D, KB, (double)K);
    pre_rows_kernel<<<N, 128, (size_t)D * sizeof(float), st>>>(rows, q, k, M, mu, D, K);
    KERNEL_CHECK();
    pre_stats_kernel<<<1, 1, 0, st>>>(pre, rows, N);
    KERNEL_CHECK();
}

/* ---- pre-transform histogram ---- */

/* A block per row: q·k in double into the pos half. */
static __global__ void pre_pos_hist_kernel(ScoreHist *hist, const float *q, const float *k, int D)
{
    __shared__ double sh[33];
    const float *qn = q + (size_t)blockIdx.x * D, *kn = k + (size_t)blockIdx.x * D;
    double s = 0.0;
    for (int d = threadIdx.x; d < D; d += blockDim.x)
        s += (double)qn[d] * kn[d];
    s = block_sum(s, sh);
    if (threadIdx.x != 0) return;
    const int b = hist_bin(s);
    uint64_t *dst = b < 0                   ? &hist->pos_under
                    : b >= SCORES_HIST_BINS ? &hist->pos_over
                                            : &hist->pos[b];
    atomicAdd((u64 *)dst, 1ull);
}

/* The n scores of x into the neg half. */
static __global__ void neg_hist_kernel(ScoreHist *hist, const float *x, size_t n)
{
    __shared__ unsigned bins[SH_BINS];
    sh_clear(bins);
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        sh_count(bins, (double)x[i]);
    sh_flush(bins, hist->neg, &hist->neg_under, &hist->neg_over);
}

static void scores_pre_hist(void *hist_v, const float *q, const float *k, const float *queue,
                            int N, int D, int K, float *block)
{
    ScoreHist *hist = (ScoreHist *)hist_v;
    cudaStream_t st = cuda_ctx.stream;
    pre_pos_hist_kernel<<<N, 128, 0, st>>>(hist, q, k, D);
    KERNEL_CHECK();
    for (int j0 = 0; j0 < K; j0 += SCORES_PRE_BLOCK) {
        const int kb = K - j0 < SCORES_PRE_BLOCK ? K - j0 : SCORES_PRE_BLOCK;
        /* block (N, kb) = q (N, D) · queue[j0 : j0 + kb]ᵀ */
        cuda_gemm_rm(GEMM_STRICT, 0, 1, N, kb, D, 1.0f, q, D, queue + (size_t)j0 * D, D, 0.0f,
                     block, kb);
        const size_t n = (size_t)N * kb;
        neg_hist_kernel<<<cuda_grid(n), CUDA_BLOCK, 0, st>>>(hist, block, n);
        KERNEL_CHECK();
    }
}

/* The moments from the queue's first two moments (scores.h), the histogram from blocks of the
 * N × K scores. */
extern "C" void scores_pre_cuda(struct PreScores *p, double *pre, void *hist, const float *q,
                                const float *k, const float *queue, int N, int K)
{
    scores_pre_moments(pre, q, k, queue, N, p->D, K, p->M, p->mu);
    if (hist) scores_pre_hist(hist, q, k, queue, N, p->D, K, p->block);
}

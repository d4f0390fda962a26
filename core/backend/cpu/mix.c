/* mix.c — the feature mixes of the variants on the CPU: FT's positive pair mix (forward and
 * backward) and its negative row mix (variants/ft.h), MoCHi's hardest-negative selection and its
 * normalised mixes of picked rows (variants/mochi.h). */
#include <cblas.h>
#include <math.h>

#include "core/backend/cpu/cpu.h"

/* Scales row x (D,) to unit norm; returns the norm it had. */
static float normalise_row(float *x, int D)
{
    double ss = 0.0;
    for (int d = 0; d < D; d++) ss += (double)x[d] * x[d];
    float nrm = (float)sqrt(ss);
    /* F.normalize clamps the norm at eps = 1e-12; a zero mix needs λ = 1/2 and q = −k exactly. */
    float inv = 1.0f / (nrm > 1e-12f ? nrm : 1e-12f);
    for (int d = 0; d < D; d++) x[d] *= inv;
    return nrm;
}

void pair_mix_forward_cpu(float *a_hat, float *b_hat, float *a_norm, float *b_norm,
                          const float *a, const float *b, const float *lam, float lam0, int N,
                          int D, int renorm)
{
    for (int n = 0; n < N; n++) {
        const float *q = a + (size_t)n * D, *k = b + (size_t)n * D;
        float *qh = a_hat + (size_t)n * D, *kh = b_hat + (size_t)n * D;
        for (int d = 0; d < D; d++) {
            float l = lam ? lam[d] : lam0;
            qh[d] = l * q[d] + (1.0f - l) * k[d];
            kh[d] = l * k[d] + (1.0f - l) * q[d];
        }
        if (renorm) {
            a_norm[n] = normalise_row(qh, D);
            b_norm[n] = normalise_row(kh, D);
        }
    }
}

void pair_mix_backward_cpu(float *da, const float *da_hat, const float *db_hat, const float *a_hat,
                           const float *b_hat, const float *a_norm, const float *b_norm,
                           const float *lam, float lam0, int N, int D, int renorm)
{
    for (int n = 0; n < N; n++) {
        const float *gq = da_hat + (size_t)n * D, *gk = db_hat + (size_t)n * D;
        float *out = da + (size_t)n * D;
        if (!renorm) {
            for (int d = 0; d < D; d++) {
                float l = lam ? lam[d] : lam0;
                out[d] += l * gq[d] + (1.0f - l) * gk[d];
            }
            continue;
        }
        /* Re-normalised, x̂ = x/‖x‖: dx = (dx̂ − x̂ (x̂·dx̂)) / ‖x‖ for both mixes, then as above. */
        const float *qh = a_hat + (size_t)n * D, *kh = b_hat + (size_t)n * D;
        double qg = 0.0, kg = 0.0;
        for (int d = 0; d < D; d++) {
            qg += (double)qh[d] * gq[d];
            kg += (double)kh[d] * gk[d];
        }
        float iu = 1.0f / (a_norm[n] > 1e-12f ? a_norm[n] : 1e-12f);
        float iw = 1.0f / (b_norm[n] > 1e-12f ? b_norm[n] : 1e-12f);
        for (int d = 0; d < D; d++) {
            float l = lam ? lam[d] : lam0;
            float du = (gq[d] - qh[d] * (float)qg) * iu;
            float dw = (gk[d] - kh[d] * (float)kg) * iw;
            out[d] += l * du + (1.0f - l) * dw;
        }
    }
}

/* o (K, D) ← lam ∘ a + (1 − lam) ∘ all[perm] row by row (a = all, or a block of its rows); lam has
 * D entries (stride 1) or one (stride 0). The hot loop of FT (K·D at K = 65536): memory-bound, so
 * it is compiled for AVX-512 and AVX2 as well, picked at load time (GCC target_clones), ~2× the
 * SSE2 baseline here. */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
static void mix_rows(float *restrict o, const float *restrict a, const float *restrict all,
                     const int *restrict perm, const float *restrict lam, int lam_stride, int K,
                     int D)
{
    for (int i = 0; i < K; i++) {
        const float *x = a + (size_t)i * D, *y = all + (size_t)perm[i] * D;
        float *z = o + (size_t)i * D;
        if (lam_stride == 0) {
            const float l = lam[0], m = 1.0f - l;
            for (int d = 0; d < D; d++) z[d] = l * x[d] + m * y[d];
        } else {
            for (int d = 0; d < D; d++) z[d] = lam[d] * x[d] + (1.0f - lam[d]) * y[d];
        }
    }
}

/* Rows split statically over the threads (each row is independent: results do not depend on the
 * thread count); memory-bound, so two cores roughly halve it. */
void row_mix_cpu(float *out, const float *x, const int *perm, const float *lam, float lam0, int K,
                 int D, int renorm)
{
    enum { ROWS = 1024 };
    const int stride = lam ? 1 : 0;
    const float *l = lam ? lam : &lam0;
#pragma omp parallel for schedule(static)
    for (int i0 = 0; i0 < K; i0 += ROWS) {
        const int rows = K - i0 < ROWS ? K - i0 : ROWS;
        mix_rows(out + (size_t)i0 * D, x + (size_t)i0 * D, x, perm + i0, l, stride, rows, D);
    }
    if (renorm)
        for (int i = 0; i < K; i++) normalise_row(out + (size_t)i * D, D);
}

/* ---- MoCHi: the hardest negatives and their mixes ---- */

/* Restores the min-heap property below node i of (v, idx)[0..n). */
static void sift_down(float *v, int *idx, int n, int i)
{
    for (;;) {
        int c = 2 * i + 1;
        if (c >= n) return;
        if (c + 1 < n && v[c + 1] < v[c]) c++;
        if (!(v[c] < v[i])) return;
        float tv = v[i];
        v[i] = v[c];
        v[c] = tv;
        int ti = idx[i];
        idx[i] = idx[c];
        idx[c] = ti;
        i = c;
    }
}

/* out (k,) ← the rows of the k largest entries of row (K,) (ties: lower row first). */
static void select_hardest(const float *row, int K, int k, float *heap_v, int *heap_i, int *out)
{
    for (int j = 0; j < k; j++) {
        heap_v[j] = row[j];
        heap_i[j] = j;
    }
    for (int i = k / 2 - 1; i >= 0; i--) sift_down(heap_v, heap_i, k, i);
    for (int j = k; j < K; j++)
        if (row[j] > heap_v[0]) {
            heap_v[0] = row[j];
            heap_i[0] = j;
            sift_down(heap_v, heap_i, k, 0);
        }
    for (int j = 0; j < k; j++) out[j] = heap_i[j];
}

/* scores: (TOPK_BLOCK, K) block of q·xᵀ, then the heap (k floats, k ints). */
void topk_rows_cpu(int *idx, const float *q, const float *x, int N, int D, int K, int k,
                   float *scores)
{
    float *heap_v = scores + (size_t)TOPK_BLOCK * K;
    int *heap_i = (int *)(heap_v + k);
    for (int n0 = 0; n0 < N; n0 += TOPK_BLOCK) {
        int nb = N - n0 < TOPK_BLOCK ? N - n0 : TOPK_BLOCK;
        /* scores (nb, K) = q[n0:n0+nb] (nb, D) × xᵀ (D, K) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, K, D, 1.0f, q + (size_t)n0 * D,
                    D, x, D, 0.0f, scores, K);
        for (int r = 0; r < nb; r++)
            select_hardest(scores + (size_t)r * K, K, k, heap_v, heap_i, idx + (size_t)(n0 + r) * k);
    }
}

/* o (D,) ← normalise(c a + (1 − c) b) */
static void mix_unit(float *o, const float *a, const float *b, float c, int D)
{
    double ss = 0.0;
    for (int d = 0; d < D; d++) {
        o[d] = c * a[d] + (1.0f - c) * b[d];
        ss += (double)o[d] * o[d];
    }
    float inv = (float)(1.0 / (ss > 1e-24 ? sqrt(ss) : 1e-12));
    for (int d = 0; d < D; d++) o[d] *= inv;
}

void mix_picked_cpu(float *out, const float *q, const float *x, const int *idx, int k,
                    const int *pos_a, const int *pos_b, const float *coef, int N, int E, int D)
{
    for (int n = 0; n < N; n++) {
        const int *pick = idx + (size_t)n * k;
        for (int e = 0; e < E; e++) {
            const size_t t = (size_t)n * E + e;
            const float *va = pos_a[t] >= 0 ? x + (size_t)pick[pos_a[t]] * D : q + (size_t)n * D;
            mix_unit(out + t * D, va, x + (size_t)pick[pos_b[t]] * D, coef[t], D);
        }
    }
}

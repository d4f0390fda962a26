/* contrast.c — InfoNCE forward/backward and the score statistics and histograms on the CPU
 * (OpenBLAS GEMMs); the formulas are in core/contrast/infonce.h and scores.h. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/backend/cpu/cpu.h"
#include "core/contrast/infonce.h"
#include "core/contrast/scores.h"

static float dot(const float *a, const float *b, int D)
{
    float s = 0.0f;
    for (int d = 0; d < D; d++) s += a[d] * b[d];
    return s;
}

/* Fills w->logits for `in`: positives, the queue block by one sgemm, the extras by sgemv. */
static void logits_fill(InfoNCE *w, const InfoNCEInput *in)
{
    const int N = w->N, D = w->D, K = w->K, L = w->L;
    const float invT = 1.0f / w->T;
    for (int n = 0; n < N; n++)
        w->logits[(size_t)n * L] = dot(in->q + (size_t)n * D, in->k + (size_t)n * D, D) * invT;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, K, D, invT, in->q, D, in->queue, D,
                0.0f, w->logits + 1, L);
    for (int n = 0; n < N && in->E > 0; n++)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, in->E, D, invT, in->extra + (size_t)n * in->E * D,
                    D, in->q + (size_t)n * D, 1, 0.0f, w->logits + (size_t)n * L + 1 + K, 1);
}

/* exp(x) for x ≤ 0, as a loop GCC vectorises (no libm call): x = n ln2 + r with |r| ≤ ln2/2
 * (n rounded to nearest by the 1.5·2²³ trick, ln2 split Cody–Waite style), exp(r) by its degree-7
 * Taylor polynomial (truncation < 2e-9 relative), 2ⁿ from the exponent bits; below −87.3 the
 * result is 0 (expf underflows there too). Within 2 ulp of expf: tests/test_backend_parity.c
 * holds the InfoNCE at 1e-5. */
static inline float exp_nonpos(float x)
{
    const float LOG2E = 1.44269504089f, LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;
    const float ROUND = 12582912.0f; /* 1.5·2²³: (y + ROUND) − ROUND rounds y to an integer */
    x = x < -87.3f ? -87.3f : x;
    const float n = (x * LOG2E + ROUND) - ROUND;
    const float r = (x - n * LN2_HI) - n * LN2_LO;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    union {
        int32_t i;
        float f;
    } two_n = {.i = ((int32_t)n + 127) << 23};
    return p * two_n.f;
}

/* The row loops below are memory- or exp-bound over 1+K+E floats: CPU_KERNEL (cpu.h). */

/* max over l[1..L) (the negatives), 16 lanes */
CPU_KERNEL static float row_max_neg(const float *l, int L)
{
    float m[16];
    for (int u = 0; u < 16; u++) m[u] = l[1];
    int j = 1;
    for (; j + 16 <= L; j += 16)
        for (int u = 0; u < 16; u++) m[u] = l[j + u] > m[u] ? l[j + u] : m[u];
    float mx = m[0];
    for (int u = 1; u < 16; u++) mx = m[u] > mx ? m[u] : mx;
    for (; j < L; j++) mx = l[j] > mx ? l[j] : mx;
    return mx;
}

/* One row of the loss, in one pass over its logits l (L) once the max is known: e = exp(l − mx)
 * into g (L), the negatives' sum, and the score moments of the row (T·l) — the score statistics
 * are fused here so the N × (1+K+E) logits are read once. Returns Σ_{j≥1} e_j. */
typedef struct {
    double s1, s2; /* Σ T·l_j and Σ (T·l_j)² over the negatives */
} RowMoments;

CPU_KERNEL static double row_exp(float *restrict g, const float *restrict l, int L, float mx,
                                 float T, RowMoments *m)
{
    float se[16] = {0}, s1[16] = {0}, s2[16] = {0};
    int j = 1;
    for (; j + 16 <= L; j += 16) { /* 16 float lanes: the sums in float over a 16-block */
        for (int u = 0; u < 16; u++) {
            const float v = l[j + u], e = exp_nonpos(v - mx), sc = T * v;
            g[j + u] = e;
            se[u] += e;
            s1[u] += sc;
            s2[u] += sc * sc;
        }
    }
    double sum = 0.0, m1 = 0.0, m2 = 0.0;
    for (; j < L; j++) {
        const float v = l[j], e = exp_nonpos(v - mx);
        g[j] = e;
        sum += e;
        m1 += (double)T * v;
        m2 += (double)T * v * ((double)T * v);
    }
    for (int u = 0; u < 16; u++) sum += se[u], m1 += s1[u], m2 += s2[u];
    m->s1 = m1;
    m->s2 = m2;
    return sum;
}

CPU_KERNEL static void row_scale(float *g, int L, float scale)
{
    for (int j = 0; j < L; j++) g[j] *= scale;
}

/* The histogram slot of each score T·l[j] for j in [j0, j0 + n): its bin, or SCORES_HIST_BINS
 * (under, NaN included) or SCORES_HIST_BINS + 1 (over) — scores_hist_bin's rule, in double, as a
 * loop that vectorises. */
#define HIST_SLOTS (SCORES_HIST_BINS + 2)
CPU_KERNEL static void row_slots(int *restrict slot, const float *restrict l, int n, float T)
{
    const double scale = SCORES_HIST_BINS / (SCORES_HIST_HI - SCORES_HIST_LO);
    for (int j = 0; j < n; j++) {
        const double sc = (double)T * l[j];
        const double x = (sc - SCORES_HIST_LO) * scale;
        int b = (int)(x < 0.0 ? 0.0 : x > SCORES_HIST_BINS - 1 ? SCORES_HIST_BINS - 1 : x);
        b = sc >= SCORES_HIST_HI ? SCORES_HIST_BINS + 1 : b;
        slot[j] = sc >= SCORES_HIST_LO ? b : SCORES_HIST_BINS; /* false for NaN: under */
    }
}

/* Counts the scores T·x[0..m) into the negatives' half of the per-thread histogram h: slots
 * computed 256 at a time, counted into 4 interleaved sub-histograms (no store-to-load chain on a
 * busy bin), then added. */
static void count_negatives(ScoreHist *h, const float *x, int m, float T)
{
    uint32_t c[4][HIST_SLOTS] = {{0}};
    int slot[256];
    for (int j0 = 0; j0 < m; j0 += 256) {
        const int n = m - j0 < 256 ? m - j0 : 256;
        row_slots(slot, x + j0, n, T);
        int j = 0;
        for (; j + 4 <= n; j += 4) {
            c[0][slot[j]]++;
            c[1][slot[j + 1]]++;
            c[2][slot[j + 2]]++;
            c[3][slot[j + 3]]++;
        }
        for (; j < n; j++) c[0][slot[j]]++;
    }
    for (int b = 0; b < HIST_SLOTS; b++) {
        const uint64_t k = (uint64_t)c[0][b] + c[1][b] + c[2][b] + c[3][b];
        if (b < SCORES_HIST_BINS) h->neg[b] += k;
        else if (b == SCORES_HIST_BINS) h->neg_under += k;
        else h->neg_over += k;
    }
}

static void row_hist(ScoreHist *h, const float *l, int L, float T)
{
    scores_hist_count(h->pos, &h->pos_under, &h->pos_over, (double)T * l[0]);
    count_negatives(h, l + 1, L - 1, T);
}

#define INFONCE_MAX_THREADS 64

/* hist += the threads' histograms, in thread order (counts: exact in any order anyway) */
/* This thread's index in a parallel region, each thread keeping its own partial histogram; the
 * master records how many threads there are (*T_used, for add_hists). */
static inline int thread_slot(int *T_used)
{
#ifdef _OPENMP
    const int t = omp_get_thread_num();
    if (t == 0) *T_used = omp_get_num_threads();
#else
    const int t = 0;
    *T_used = 1;
#endif
    ASSERT(t < INFONCE_MAX_THREADS);
    return t;
}

static void add_hists(ScoreHist *h, const ScoreHist *part, int T)
{
    for (int t = 0; t < T; t++) {
        for (int b = 0; b < SCORES_HIST_BINS; b++) h->pos[b] += part[t].pos[b], h->neg[b] += part[t].neg[b];
        h->pos_under += part[t].pos_under, h->pos_over += part[t].pos_over;
        h->neg_under += part[t].neg_under, h->neg_over += part[t].neg_over;
    }
}

void infonce_forward_cpu(InfoNCE *w, const InfoNCEInput *in, double *stats, void *hist_v)
{
    logits_fill(w, in);
    const int N = w->N, L = w->L, nneg = L - 1;
    const float T = w->T;
    /* per-row results (w->rows: INFONCE_ROW_SCRATCH = 5 doubles a row), summed in row order below */
    double *row_loss = w->rows, *row_m1 = row_loss + N, *row_m2 = row_m1 + N;
    int *hit = (int *)(row_m2 + N); /* (N) ints in the last two rows' worth */
    ScoreHist part[INFONCE_MAX_THREADS];
    int T_used = 1;
#pragma omp parallel
    {
        const int t = thread_slot(&T_used);
        scores_hist_reset(&part[t]);
#pragma omp for schedule(static)
        for (int n = 0; n < N; n++) {
            const float *l = w->logits + (size_t)n * L; /* (L,) */
            float *g = w->grad + (size_t)n * L;         /* (L,) → dL/dlogits */
            const float mneg = row_max_neg(l, L);
            hit[n] = l[0] > mneg; /* strict: a tie with a negative is not a hit */
            const float mx = l[0] > mneg ? l[0] : mneg;
            RowMoments mo;
            const double sneg = row_exp(g, l, L, mx, T, &mo);
            g[0] = exp_nonpos(l[0] - mx);
            const double S = sneg + g[0];
            w->row_max[n] = mx;
            w->neg_sum[n] = sneg;
            w->row_sum[n] = S;
            /* −log p_0 = log Σ_j exp(l_j − mx) − (l_0 − mx) */
            row_loss[n] = log(S) - ((double)l[0] - mx);
            row_m1[n] = mo.s1;
            row_m2[n] = mo.s2;
            /* the gradient of the mean loss: g = (p − e_0) / N, p = e / S */
            row_scale(g, L, (float)(1.0 / (S * N)));
            g[0] -= 1.0f / N;
            if (hist_v) row_hist(&part[t], l, L, T);
        }
    }
    /* the per-row values, summed in row order: the same bits for any thread count */
    double loss = 0;
    ScoreSums sum = {0};
    int correct = 0;
    for (int n = 0; n < N; n++) {
        const float *l = w->logits + (size_t)n * L;
        const double mean = row_m1[n] / nneg;
        /* negative scores are bounded (|s| ≤ 3): the one-pass variance loses nothing in double */
        const double var = nneg > 1 ? (row_m2[n] - row_m1[n] * mean) / (nneg - 1) : 0.0;
        const double pos = (double)T * l[0];
        loss += row_loss[n];
        correct += hit[n];
        /* mean_j exp(l_j) = exp(row_max) Σ_j exp(l_j − row_max) / nneg */
        score_sums_add(&sum, pos, mean, var, exp((double)l[0]),
                       exp(w->row_max[n]) * w->neg_sum[n] / nneg);
    }
    stats[STEP_STAT_LOSS] = loss / N;
    stats[STEP_STAT_INST_ACC] = (double)correct / N;
    *(ScoreStats *)(stats + STEP_STAT_POST) = score_stats_of(&sum, N);
    if (hist_v) add_hists(hist_v, part, T_used);
}

/* The forward left dL/dlogits in w->grad: here only the GEMMs and the positives' terms remain. */
void infonce_backward_cpu(InfoNCE *w, const InfoNCEInput *in, float *dq_hat, float *dk_hat)
{
    const int N = w->N, D = w->D, K = w->K, L = w->L, E = w->E;
    const float invT = 1.0f / w->T;
    for (int n = 0; n < N; n++) {
        const float *g = w->grad + (size_t)n * L; /* (L,) dL/dlogits */
        const float g0 = g[0] * invT;
        const float *qn = in->q + (size_t)n * D, *kn = in->k + (size_t)n * D;
        float *dqn = dq_hat + (size_t)n * D;
        for (int d = 0; d < D; d++) dqn[d] += g0 * kn[d];
        if (dk_hat)
            for (int d = 0; d < D; d++) dk_hat[(size_t)n * D + d] += g0 * qn[d];
        if (E > 0)
            cblas_sgemv(CblasRowMajor, CblasTrans, E, D, invT, in->extra + (size_t)n * E * D, D,
                        g + 1 + K, 1, 1.0f, dqn, 1);
    }
    /* dq̂ (N, D) += (1/T) G_queue (N, K; stride L) × queuê (K, D) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, D, K, invT, w->grad + 1, L,
                in->queue, D, 1.0f, dq_hat, D);
}

/* ---- score statistics ---- */

/* Σ x and Σ x² over x[0..m), 16 float lanes per block of 16, then double */
CPU_KERNEL static void row_sums(double *restrict s1, double *restrict s2, const float *restrict x,
                                int m)
{
    float a[16] = {0}, b[16] = {0};
    int j = 0;
    for (; j + 16 <= m; j += 16)
        for (int u = 0; u < 16; u++) a[u] += x[j + u], b[u] += x[j + u] * x[j + u];
    double t1 = 0.0, t2 = 0.0;
    for (; j < m; j++) t1 += x[j], t2 += (double)x[j] * x[j];
    for (int u = 0; u < 16; u++) t1 += a[u], t2 += b[u];
    *s1 += t1;
    *s2 += t2;
}

/* The N × K scores q·queueᵀ a block of SCORES_PRE_BLOCK queue rows at a time (one GEMM), each
 * block's rows summed and binned on the threads while the block is in cache. */
void scores_pre_cpu(PreScores *p, double *pre, void *hist_v, const float *q, const float *k,
                    const float *queue, int N, int K)
{
    const int D = p->D;
    double *s1 = p->rows, *s2 = p->rows + N; /* (N) each */
    ScoreHist part[INFONCE_MAX_THREADS];
    int T_used = 1;
    for (int n = 0; n < N; n++) s1[n] = s2[n] = 0.0;
    for (int j0 = 0; j0 < K; j0 += SCORES_PRE_BLOCK) {
        const int kb = K - j0 < SCORES_PRE_BLOCK ? K - j0 : SCORES_PRE_BLOCK;
        /* block (N, kb) = q (N, D) · queue[j0 : j0 + kb]ᵀ */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, kb, D, 1.0f, q, D,
                    queue + (size_t)j0 * D, D, 0.0f, p->block, kb);
#pragma omp parallel
        {
            const int t = thread_slot(&T_used);
            if (j0 == 0) scores_hist_reset(&part[t]);
#pragma omp for schedule(static)
            for (int n = 0; n < N; n++) {
                const float *row = p->block + (size_t)n * kb;
                row_sums(&s1[n], &s2[n], row, kb);
                if (hist_v) count_negatives(&part[t], row, kb, 1.0f);
            }
        }
    }
    /* per row: pos = q·k, the negatives' mean and unbiased variance; batch moments in row order */
    ScoreSums sum = {0};
    ScoreHist *hist = hist_v;
    for (int n = 0; n < N; n++) {
        double pos = 0.0;
        for (int d = 0; d < D; d++) pos += (double)q[(size_t)n * D + d] * k[(size_t)n * D + d];
        if (hist) scores_hist_count(hist->pos, &hist->pos_under, &hist->pos_over, pos);
        const double mean = s1[n] / K, var = (s2[n] - s1[n] * mean) / (K - 1);
        score_sums_add(&sum, pos, mean, var > 0.0 ? var : 0.0, 0.0, 0.0);
    }
    if (hist) add_hists(hist, part, T_used);
    *(PreScoreStats *)pre = pre_score_stats_of(&sum, N);
}

/* infonce.c — logits, stable log-softmax cross-entropy and its backward; see infonce.h. */
#include "core/contrast/infonce.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>

#include "core/common.h"

void infonce_init(InfoNCE *w, int N, int D, int K, int E_max, float T)
{
    ASSERT(N > 0 && D > 0 && K > 0 && E_max >= 0 && T > 0.0f);
    w->N = N;
    w->D = D;
    w->K = K;
    w->E_max = E_max;
    w->T = T;
    w->E = 0;
    w->L = 1 + K;
    size_t cap = (size_t)N * (1 + (size_t)K + E_max);
    w->logits = xaligned_alloc(cap * sizeof(float));
    w->grad = xaligned_alloc(cap * sizeof(float));
    w->row_max = xcalloc((size_t)N, sizeof(double));
    w->neg_sum = xcalloc((size_t)N, sizeof(double));
    w->row_sum = xcalloc((size_t)N, sizeof(double));
    w->loss = 0.0;
    w->inst_acc = 0.0;
}

void infonce_free(InfoNCE *w)
{
    free(w->logits);
    free(w->grad);
    free(w->row_max);
    free(w->neg_sum);
    free(w->row_sum);
    w->logits = w->grad = NULL;
    w->row_max = w->neg_sum = w->row_sum = NULL;
}

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

void infonce_forward(InfoNCE *w, const InfoNCEInput *in)
{
    ASSERT(in->E >= 0 && in->E <= w->E_max && (in->E == 0 || in->extra));
    w->E = in->E;
    w->L = 1 + w->K + in->E;
    logits_fill(w, in);
    const int L = w->L;
    double loss = 0.0;
    int correct = 0;
    for (int n = 0; n < w->N; n++) {
        const float *l = w->logits + (size_t)n * L; /* (L,) */
        float *e = w->grad + (size_t)n * L;         /* (L,) */
        float mneg = l[1];
        for (int j = 2; j < L; j++) mneg = l[j] > mneg ? l[j] : mneg;
        correct += l[0] > mneg; /* strict: a tie with a negative is not a hit */
        float mx = l[0] > mneg ? l[0] : mneg;
        double sneg = 0.0;
        for (int j = 1; j < L; j++) {
            e[j] = expf(l[j] - mx);
            sneg += e[j];
        }
        e[0] = expf(l[0] - mx);
        w->row_max[n] = mx;
        w->neg_sum[n] = sneg;
        w->row_sum[n] = sneg + e[0];
        /* −log p_0 = log Σ_j exp(l_j − mx) − (l_0 − mx) */
        loss += log(w->row_sum[n]) - ((double)l[0] - mx);
    }
    w->loss = loss / w->N;
    w->inst_acc = (double)correct / w->N;
}

void infonce_backward(InfoNCE *w, const InfoNCEInput *in, float *dq_hat, float *dk_hat)
{
    ASSERT(in->E == w->E);
    const int N = w->N, D = w->D, K = w->K, L = w->L, E = w->E;
    const float invT = 1.0f / w->T;
    for (int n = 0; n < N; n++) {
        float *g = w->grad + (size_t)n * L; /* (L,) exp → dL/dlogits */
        const float scale = (float)(1.0 / (w->row_sum[n] * N));
        for (int j = 0; j < L; j++) g[j] *= scale;
        g[0] -= 1.0f / N;
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

/* misc.c — the reference row, mixing, optimiser and evaluation kernels: plain loops in double from
 * the formulas of backend.h, variants/ft.h, variants/mochi.h and core/optim/optim.h. topk_rows
 * returns its k rows sorted by score (ties: lower row first); the op only specifies the set. */
#include <math.h>
#include <string.h>

#include "core/backend/ref/ref.h"
#include "core/optim/optim.h"

void gather_rows_ref(float *out, const float *in, const int *idx, int N, size_t row)
{
    for (int i = 0; i < N; i++)
        for (size_t j = 0; j < row; j++) out[(size_t)i * row + j] = in[(size_t)idx[i] * row + j];
}

void scatter_rows_ref(float *out, const float *in, const int *idx, int N, size_t row)
{
    for (int i = 0; i < N; i++)
        for (size_t j = 0; j < row; j++) out[(size_t)idx[i] * row + j] = in[(size_t)i * row + j];
}

/* x (D) scaled to unit norm (norm clamped at 1e-12); returns the norm it had */
static double unit(float *x, int D)
{
    double ss = 0.0;
    for (int d = 0; d < D; d++) ss += (double)x[d] * x[d];
    double r = sqrt(ss);
    for (int d = 0; d < D; d++) x[d] = (float)(x[d] / (r > 1e-12 ? r : 1e-12));
    return r;
}

void pair_mix_forward_ref(float *a_hat, float *b_hat, float *a_norm, float *b_norm,
                          const float *a, const float *b, const float *lam, float lam0, int N,
                          int D, int renorm)
{
    for (int n = 0; n < N; n++) {
        for (int d = 0; d < D; d++) {
            size_t i = (size_t)n * D + d;
            double l = lam ? lam[d] : lam0;
            a_hat[i] = (float)(l * a[i] + (1.0 - l) * b[i]);
            b_hat[i] = (float)(l * b[i] + (1.0 - l) * a[i]);
        }
        if (renorm) {
            a_norm[n] = (float)unit(a_hat + (size_t)n * D, D);
            b_norm[n] = (float)unit(b_hat + (size_t)n * D, D);
        }
    }
}

void pair_mix_backward_ref(float *da, const float *da_hat, const float *db_hat, const float *a_hat,
                           const float *b_hat, const float *a_norm, const float *b_norm,
                           const float *lam, float lam0, int N, int D, int renorm)
{
    for (int n = 0; n < N; n++) {
        const size_t o = (size_t)n * D;
        double qg = 0.0, kg = 0.0; /* x̂·dx̂ of each normalised mix */
        for (int d = 0; renorm && d < D; d++) {
            qg += (double)a_hat[o + d] * da_hat[o + d];
            kg += (double)b_hat[o + d] * db_hat[o + d];
        }
        for (int d = 0; d < D; d++) {
            double l = lam ? lam[d] : lam0, du = da_hat[o + d], dw = db_hat[o + d];
            if (renorm) {
                du = (du - a_hat[o + d] * qg) / (a_norm[n] > 1e-12f ? a_norm[n] : 1e-12f);
                dw = (dw - b_hat[o + d] * kg) / (b_norm[n] > 1e-12f ? b_norm[n] : 1e-12f);
            }
            da[o + d] += (float)(l * du + (1.0 - l) * dw);
        }
    }
}

void row_mix_ref(float *out, const float *x, const int *perm, const float *lam, float lam0, int K,
                 int D, int renorm)
{
    for (int i = 0; i < K; i++) {
        for (int d = 0; d < D; d++) {
            double l = lam ? lam[d] : lam0;
            out[(size_t)i * D + d] = (float)(l * x[(size_t)i * D + d] + (1.0 - l) * x[(size_t)perm[i] * D + d]);
        }
        if (renorm) unit(out + (size_t)i * D, D);
    }
}

/* k times: the best row not taken yet (higher score, then lower row). scores (K) scratch. */
void topk_rows_ref(int *idx, const float *q, const float *x, int N, int D, int K, int k,
                   float *scores)
{
    for (int n = 0; n < N; n++) {
        for (int j = 0; j < K; j++) {
            double s = 0.0;
            for (int d = 0; d < D; d++) s += (double)q[(size_t)n * D + d] * x[(size_t)j * D + d];
            scores[j] = (float)s;
        }
        for (int t = 0; t < k; t++) {
            int best = -1;
            for (int j = 0; j < K; j++)
                if (scores[j] != -INFINITY && (best < 0 || scores[j] > scores[best])) best = j;
            idx[(size_t)n * k + t] = best;
            scores[best] = -INFINITY; /* taken */
        }
    }
}

void mix_picked_ref(float *out, const float *q, const float *x, const int *idx, int k,
                    const int *pos_a, const int *pos_b, const float *coef, int N, int E, int D)
{
    for (int n = 0; n < N; n++)
        for (int e = 0; e < E; e++) {
            const size_t t = (size_t)n * E + e;
            const float *a = pos_a[t] >= 0 ? x + (size_t)idx[(size_t)n * k + pos_a[t]] * D : q + (size_t)n * D;
            const float *b = x + (size_t)idx[(size_t)n * k + pos_b[t]] * D;
            for (int d = 0; d < D; d++)
                out[t * D + d] = (float)((double)coef[t] * a[d] + (1.0 - coef[t]) * b[d]);
            unit(out + t * D, D);
        }
}

void sgd_step_ref(float *theta, const float *grad, float *buf, size_t n, const SgdOptions *opt)
{
    for (size_t i = 0; i < n; i++) {
        buf[i] = (float)((double)opt->momentum * buf[i] + grad[i] + (double)opt->weight_decay * theta[i]);
        theta[i] = (float)(theta[i] - (double)opt->lr * buf[i]);
    }
}

void ema_update_ref(float *theta_k, const float *theta_q, size_t n, float m)
{
    for (size_t i = 0; i < n; i++) theta_k[i] = (float)((double)m * theta_k[i] + (1.0 - m) * theta_q[i]);
}

void gemm_ref(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double acc = 0.0;
            for (int p = 0; p < K; p++)
                acc += (double)(trans_a ? A[(size_t)p * lda + i] : A[(size_t)i * lda + p]) *
                       (trans_b ? B[(size_t)j * ldb + p] : B[(size_t)p * ldb + j]);
            float *c = &C[(size_t)i * ldc + j];
            *c = (float)(alpha * acc + (beta == 0.0f ? 0.0 : (double)beta * *c));
        }
}

void softmax_xent_ref(double *loss_out, float *logits, const int *labels, int N, int C)
{
    double loss = 0.0;
    for (int n = 0; n < N; n++) {
        float *l = logits + (size_t)n * C;
        double mx = l[0], sum = 0.0;
        for (int c = 1; c < C; c++) mx = l[c] > mx ? l[c] : mx;
        for (int c = 0; c < C; c++) sum += exp(l[c] - mx);
        loss += mx + log(sum) - l[labels[n]];
        for (int c = 0; c < C; c++) l[c] = (float)((exp(l[c] - mx) / sum - (c == labels[n])) / N);
    }
    *loss_out = loss / N;
}

void nonfinite_ref(int *flag, const float *x, size_t n)
{
    *flag = 0;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) *flag = 1;
}

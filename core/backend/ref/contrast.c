/* contrast.c — the reference InfoNCE and score-statistics kernels: every dot product and sum in
 * double, the negatives' moments by two passes over the (N, 1+K+E) scores, straight from the
 * formulas in core/contrast/infonce.h and scores.h. */
#include <math.h>
#include <string.h>

#include "core/backend/ref/ref.h"
#include "core/contrast/infonce.h"
#include "core/contrast/scores.h"

static double dot_d(const float *a, const float *b, int D)
{
    double s = 0.0;
    for (int d = 0; d < D; d++) s += (double)a[d] * b[d];
    return s;
}

/* The negative j of query n: a queue row, then the query's extras. */
static const float *negative(const InfoNCEInput *in, int K, int D, int n, int j)
{
    return j < K ? in->queue + (size_t)j * D : in->extra + ((size_t)n * in->E + (j - K)) * D;
}

static void scores_of(double *post, void *hist_v, const InfoNCE *w);

void infonce_forward_ref(InfoNCE *w, const InfoNCEInput *in, double *stats, void *hist)
{
    const int N = w->N, D = w->D, K = w->K, L = w->L;
    double loss = 0.0;
    int correct = 0;
    for (int n = 0; n < N; n++) {
        float *l = w->logits + (size_t)n * L, *e = w->grad + (size_t)n * L;
        const float *qn = in->q + (size_t)n * D;
        l[0] = (float)(dot_d(qn, in->k + (size_t)n * D, D) / w->T);
        for (int j = 0; j < L - 1; j++) l[1 + j] = (float)(dot_d(qn, negative(in, K, D, n, j), D) / w->T);
        double mx = l[0], mneg = -INFINITY;
        for (int j = 1; j < L; j++) mneg = l[j] > mneg ? l[j] : mneg;
        correct += l[0] > mneg;
        mx = mx > mneg ? mx : mneg;
        double sneg = 0.0;
        for (int j = 1; j < L; j++) sneg += (e[j] = (float)exp(l[j] - mx));
        e[0] = (float)exp(l[0] - mx);
        w->row_max[n] = mx;
        w->neg_sum[n] = sneg;
        w->row_sum[n] = sneg + exp(l[0] - mx);
        loss += log(w->row_sum[n]) - (l[0] - mx);
    }
    stats[STEP_STAT_LOSS] = loss / N;
    stats[STEP_STAT_INST_ACC] = (double)correct / N;
    scores_of(stats + STEP_STAT_POST, hist, w);
}

void infonce_backward_ref(InfoNCE *w, const InfoNCEInput *in, float *dq_hat, float *dk_hat)
{
    const int N = w->N, D = w->D, K = w->K, L = w->L;
    for (int n = 0; n < N; n++) {
        float *g = w->grad + (size_t)n * L; /* exp(l − max) → dL/dlogits = (p − e_0) / N */
        const double mx = w->row_max[n];
        const float *l = w->logits + (size_t)n * L;
        for (int j = 0; j < L; j++) g[j] = (float)((exp(l[j] - mx) / w->row_sum[n] - (j == 0)) / N);
        for (int d = 0; d < D; d++) {
            double acc = (double)g[0] * in->k[(size_t)n * D + d];
            for (int j = 0; j < L - 1; j++) acc += (double)g[1 + j] * negative(in, K, D, n, j)[d];
            dq_hat[(size_t)n * D + d] += (float)(acc / w->T);
            if (dk_hat) dk_hat[(size_t)n * D + d] += (float)((double)g[0] * in->q[(size_t)n * D + d] / w->T);
        }
    }
}

/* The score statistics of the logits of the last forward (scores.h), two passes per row. */
static void scores_of(double *post, void *hist_v, const InfoNCE *w)
{
    ScoreHist *hist = hist_v;
    const int N = w->N, L = w->L, nneg = L - 1;
    ScoreSums sum = {0};
    for (int n = 0; n < N; n++) {
        const float *l = w->logits + (size_t)n * L;
        double mean = 0.0, var = 0.0, en = 0.0;
        for (int j = 1; j < L; j++) mean += (double)w->T * l[j] / nneg;
        for (int j = 1; j < L; j++) {
            double s = (double)w->T * l[j];
            var += (s - mean) * (s - mean) / (nneg > 1 ? nneg - 1 : 1);
            en += exp((double)l[j]) / nneg;
            if (hist) scores_hist_count(hist->neg, &hist->neg_under, &hist->neg_over, s);
        }
        double pos = (double)w->T * l[0];
        if (hist) scores_hist_count(hist->pos, &hist->pos_under, &hist->pos_over, pos);
        score_sums_add(&sum, pos, mean, nneg > 1 ? var : 0.0, exp((double)l[0]), en);
    }
    *(ScoreStats *)post = score_stats_of(&sum, N);
}

/* Every score a direct double dot product: the mean first, then the variance about it. */
void scores_pre_ref(struct PreScores *p, double *pre, void *hist_v, const float *q, const float *k,
                    const float *queue, int N, int K)
{
    const int D = p->D;
    ScoreHist *hist = hist_v;
    ScoreSums sum = {0};
    for (int n = 0; n < N; n++) {
        const float *qn = q + (size_t)n * D;
        double pos = dot_d(qn, k + (size_t)n * D, D), mean = 0.0, var = 0.0;
        for (int j = 0; j < K; j++) mean += dot_d(qn, queue + (size_t)j * D, D) / K;
        for (int j = 0; j < K; j++) {
            double s = dot_d(qn, queue + (size_t)j * D, D);
            var += (s - mean) * (s - mean) / (K - 1);
            if (hist) scores_hist_count(hist->neg, &hist->neg_under, &hist->neg_over, (float)s);
        }
        if (hist) scores_hist_count(hist->pos, &hist->pos_under, &hist->pos_over, pos);
        score_sums_add(&sum, pos, mean, var, 0.0, 0.0);
    }
    *(PreScoreStats *)pre = pre_score_stats_of(&sum, N);
}

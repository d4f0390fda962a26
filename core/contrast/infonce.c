/* infonce.c — the InfoNCE workspace on a backend and the calls of its kernels; the formulas are in
 * infonce.h, the kernels are the backend's infonce_forward / infonce_backward. */
#include "core/contrast/infonce.h"

#include <stdlib.h>

#include "core/common.h"

void infonce_init(InfoNCE *w, const Backend *be, int N, int D, int K, int E_max, float T)
{
    ASSERT(N > 0 && D > 0 && K > 0 && E_max >= 0 && T > 0.0f);
    w->be = be;
    w->N = N;
    w->D = D;
    w->K = K;
    w->E_max = E_max;
    w->T = T;
    w->E = 0;
    w->L = 1 + K;
    size_t cap = (size_t)N * (1 + (size_t)K + E_max);
    w->logits = backend_alloc(be, cap * sizeof(float));
    w->grad = backend_alloc(be, cap * sizeof(float));
    w->row_max = backend_alloc(be, (size_t)N * sizeof(double));
    w->neg_sum = backend_alloc(be, (size_t)N * sizeof(double));
    w->row_sum = backend_alloc(be, (size_t)N * sizeof(double));
    w->rows = backend_alloc(be, INFONCE_ROW_SCRATCH * (size_t)N * sizeof(double));
}

void infonce_free(InfoNCE *w)
{
    if (w->be) {
        backend_free(w->be, w->logits);
        backend_free(w->be, w->grad);
        backend_free(w->be, w->row_max);
        backend_free(w->be, w->neg_sum);
        backend_free(w->be, w->row_sum);
        backend_free(w->be, w->rows);
    }
    w->logits = w->grad = NULL;
    w->row_max = w->neg_sum = w->row_sum = w->rows = NULL;
}

void infonce_forward(InfoNCE *w, const InfoNCEInput *in, double *stats, struct ScoreHist *hist)
{
    ASSERT(in->E >= 0 && in->E <= w->E_max && (in->E == 0 || in->extra));
    w->E = in->E;
    w->L = 1 + w->K + in->E;
    w->be->infonce_forward(w, in, stats, hist);
}

void infonce_backward(InfoNCE *w, const InfoNCEInput *in, float *dq_hat, float *dk_hat)
{
    ASSERT(in->E == w->E);
    w->be->infonce_backward(w, in, dq_hat, dk_hat);
}

/* classifier.c — see classifier.h. */
#include "downstream/classifier.h"

#include "core/rng.h"

#define CLASSIFIER_INIT_STD 0.01 /* main_lincls.py: fc.weight ~ N(0, 0.01²) */

void classifier_init(Classifier *c, const Backend *be, int D, int C, int N, uint64_t seed,
                     uint32_t tag)
{
    ASSERT(D > 0 && C > 0 && N > 0);
    const size_t cd = (size_t)C * D, floats = 3 * cd + 3 * (size_t)C + (size_t)N * C;
    *c = (Classifier){.be = be, .D = D, .C = C, .N = N};
    c->mem = backend_alloc(be, floats * sizeof(float)); /* zeroed */
    c->W = c->mem, c->dW = c->W + cd, c->vW = c->dW + cd;
    c->b = c->vW + cd, c->db = c->b + C, c->vb = c->db + C;
    c->logits = c->vb + C;
    c->loss = backend_alloc(be, sizeof(double));
    float *W = backend_stage_begin(be, c->W, cd * sizeof(float)); /* the zeroed b stays 0 */
    Rng rng;
    rng_init(&rng, seed, RNG_STREAM_EVAL, tag, 0);
    for (size_t i = 0; i < cd; i++)
        W[i] = (float)(CLASSIFIER_INIT_STD * rng_normal(&rng));
    backend_stage_end(be, c->W, W, cd * sizeof(float));
}

void classifier_free(Classifier *c)
{
    backend_free(c->be, c->mem);
    backend_free(c->be, c->loss);
    *c = (Classifier){0};
}

void classifier_forward_backward(Classifier *c, const float *x, const int *y, int B, float *dx)
{
    ASSERT(B >= 1 && B <= c->N);
    const Backend *be = c->be;
    be->linear_forward(c->logits, x, c->W, c->b, B, c->D, c->C);
    be->softmax_xent(c->loss, c->logits, y, B, c->C); /* logits → dLoss/dlogits */
    be->memset_zero(c->dW, (size_t)c->C * c->D * sizeof(float));
    be->memset_zero(c->db, (size_t)c->C * sizeof(float));
    be->linear_backward(dx, c->dW, c->db, c->logits, x, c->W, B, c->D, c->C);
}

void classifier_sgd(Classifier *c, const SgdOptions *sgd)
{
    c->be->sgd_step(c->W, c->dW, c->vW, (size_t)c->C * c->D, sgd);
    c->be->sgd_step(c->b, c->db, c->vb, (size_t)c->C, sgd);
}

double classifier_loss(const Classifier *c)
{
    double loss;
    c->be->download(&loss, c->loss, sizeof loss);
    return loss;
}

void classifier_count_host(TopkCounts *counts, const float *x, const int *labels, int B,
                           const float *W, const float *b, int D, int C, float *logits,
                           double *scores, int *pred)
{
    backend_host()->linear_forward(logits, x, W, b, B, D, C); /* (B, C) = x · Wᵀ + b */
    for (int n = 0; n < B; n++) {
        for (int c = 0; c < C; c++)
            scores[c] = logits[(size_t)n * C + c];
        ASSERT(labels[n] >= 0 && labels[n] < C);
        topk_count(counts, scores, C, labels[n]);
        if (pred) pred[n] = topk_argmax(scores, C);
    }
}

/* linear.c — linear probe on frozen features: SGD + cross-entropy, top-1/top-5 (PAPER.md §5,
 * MoCo main_lincls.py). Definitions, defaults and the two training protocols are in linear.h. */
#include "downstream/linear.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend/backend.h"
#include "core/rng.h"

/* Smallest std used for standardisation, so constant feature dimensions do not divide by 0. */
#define PROBE_STD_FLOOR 1e-6
/* rng_init(..., RNG_STREAM_EVAL, a, b) tags of the probe's two streams. */
#define PROBE_TAG_INIT 1
#define PROBE_TAG_ORDER 2

void linear_probe_init(LinearProbe *p, const LinearProbeOptions *opt)
{
    const Schedule *s = &opt->schedule;
    if (opt->D <= 0 || opt->n_classes <= 0 || opt->batch <= 0 || s->epochs <= 0)
        clft_die("linear probe: bad options D=%d C=%d batch=%d epochs=%d (all must be > 0)", opt->D,
                 opt->n_classes, opt->batch, s->epochs);
    if (!(s->base_lr > 0.0) || opt->momentum < 0.0f || opt->momentum >= 1.0f ||
        opt->weight_decay < 0.0f)
        clft_die("linear probe: bad options lr=%g momentum=%g weight_decay=%g", s->base_lr,
                 (double)opt->momentum, (double)opt->weight_decay);
    if (s->kind == SCHEDULE_COSINE || s->warmup_epochs != 0)
        clft_die("linear probe: the lr schedule must be step or constant, without warm-up");
    memset(p, 0, sizeof *p);
    p->opt = *opt;
    const size_t C = (size_t)opt->n_classes, D = (size_t)opt->D, B = (size_t)opt->batch;
    classifier_init(&p->cls, backend_host(), opt->D, opt->n_classes, opt->batch, opt->seed,
                    PROBE_TAG_INIT);
    p->mean = xaligned_alloc(D * sizeof(float));       /* (D), zero */
    p->inv_std = xaligned_alloc(D * sizeof(float));    /* (D) */
    p->xs = xaligned_alloc(B * D * sizeof(float));     /* (batch, D) */
    p->gather = xaligned_alloc(B * D * sizeof(float)); /* (batch, D) */
    p->scores = xmalloc(C * sizeof(double));           /* (C) */
    p->gather_labels = xmalloc(B * sizeof(int));       /* (batch) */
    for (size_t d = 0; d < D; d++)
        p->inv_std[d] = 1.0f;
}

void linear_probe_free(LinearProbe *p)
{
    classifier_free(&p->cls);
    free(p->mean), free(p->inv_std), free(p->xs), free(p->gather);
    free(p->scores), free(p->gather_labels);
    memset(p, 0, sizeof *p);
}

Schedule linear_probe_schedule(float lr, int epochs)
{
    /* Integer round-half-up of 0.6·E and 0.8·E, so the milestones do not depend on float error. */
    return (Schedule){.kind = SCHEDULE_STEP,
                      .base_lr = lr,
                      .epochs = epochs,
                      .milestones = {(6 * epochs + 5) / 10, (8 * epochs + 5) / 10},
                      .n_milestones = 2,
                      .gamma = 0.1};
}

float linear_probe_lr(const LinearProbeOptions *opt, int epoch)
{
    /* In float, one rounding per decay, as the probe's lr has always been computed. */
    float lr = (float)opt->schedule.base_lr;
    for (int k = schedule_decays(&opt->schedule, epoch); k > 0; k--)
        lr *= (float)opt->schedule.gamma;
    return lr;
}

void linear_probe_fit_standardization(LinearProbe *p, const float *X, int N)
{
    if (p->opt.standardize == PROBE_STANDARDIZE_OFF) return;
    ASSERT(N > 0);
    const int D = p->opt.D;
    double *acc = xcalloc(2 * (size_t)D, sizeof *acc); /* (2, D): Σx, Σ(x - mean)² */
    for (int n = 0; n < N; n++)
        for (int d = 0; d < D; d++)
            acc[d] += X[(size_t)n * D + d];
    for (int d = 0; d < D; d++)
        acc[d] /= N;
    for (int n = 0; n < N; n++)
        for (int d = 0; d < D; d++) {
            double c = X[(size_t)n * D + d] - acc[d];
            acc[D + d] += c * c;
        }
    for (int d = 0; d < D; d++) {
        double sd = sqrt(acc[D + d] / N);
        p->mean[d] = (float)acc[d];
        p->inv_std[d] = (float)(1.0 / (sd > PROBE_STD_FLOOR ? sd : PROBE_STD_FLOOR));
    }
    free(acc);
}

void linear_probe_set_standardization(LinearProbe *p, const float *mean, const float *std)
{
    if (p->opt.standardize == PROBE_STANDARDIZE_OFF) return;
    for (int d = 0; d < p->opt.D; d++) {
        double sd = std[d] > PROBE_STD_FLOOR ? std[d] : PROBE_STD_FLOOR;
        p->mean[d] = mean[d];
        p->inv_std[d] = (float)(1.0 / sd);
    }
}

/* The rows the probe sees: feats itself, or its standardised copy in p->xs. */
static const float *probe_input(LinearProbe *p, const float *feats, int B)
{
    if (p->opt.standardize == PROBE_STANDARDIZE_OFF) return feats;
    const int D = p->opt.D;
    for (int n = 0; n < B; n++)
        for (int d = 0; d < D; d++)
            p->xs[(size_t)n * D + d] = (feats[(size_t)n * D + d] - p->mean[d]) * p->inv_std[d];
    return p->xs;
}

double linear_probe_step(LinearProbe *p, const float *feats, const int *labels, int B, float lr)
{
    ASSERT(B >= 1 && B <= p->opt.batch);
    for (int n = 0; n < B; n++)
        ASSERT(labels[n] >= 0 && labels[n] < p->opt.n_classes);
    classifier_forward_backward(&p->cls, probe_input(p, feats, B), labels, B, NULL);
    classifier_sgd(
        &p->cls,
        &(SgdOptions){.lr = lr, .momentum = p->opt.momentum, .weight_decay = p->opt.weight_decay});
    p->steps++;
    return *p->cls.loss; /* host memory */
}

TopkCounts linear_probe_eval(LinearProbe *p, const float *X, const int *labels, int N, int *pred)
{
    const int C = p->opt.n_classes, D = p->opt.D, Bmax = p->opt.batch;
    TopkCounts counts = {0};
    for (int n0 = 0; n0 < N; n0 += Bmax) {
        const int B = N - n0 < Bmax ? N - n0 : Bmax;
        classifier_count_host(&counts, probe_input(p, X + (size_t)n0 * D, B), labels + n0, B,
                              p->cls.W, p->cls.b, D, C, p->cls.logits, p->scores,
                              pred ? pred + n0 : NULL);
    }
    return counts;
}

/* One epoch over X in its seeded order (perm (N)); returns the mean batch loss, or the first loss
 * that is not finite (then p->diverged is set and the epoch stops there). */
static double probe_epoch(LinearProbe *p, const float *X, const int *labels, int N, int *perm,
                          int epoch)
{
    const int D = p->opt.D, Bmax = p->opt.batch;
    Rng r;
    rng_init(&r, p->opt.seed, RNG_STREAM_EVAL, PROBE_TAG_ORDER, (uint64_t)epoch);
    rng_permutation(&r, perm, N);
    const float lr = linear_probe_lr(&p->opt, epoch);
    double loss = 0.0;
    int batches = 0;
    for (int n0 = 0; n0 < N; n0 += Bmax, batches++) {
        const int B = N - n0 < Bmax ? N - n0 : Bmax;
        for (int n = 0; n < B; n++) {
            const int src = perm[n0 + n];
            memcpy(p->gather + (size_t)n * D, X + (size_t)src * D, (size_t)D * sizeof(float));
            p->gather_labels[n] = labels[src];
        }
        const double l = linear_probe_step(p, p->gather, p->gather_labels, B, lr);
        if (!isfinite(l)) {
            p->diverged = 1;
            return l;
        }
        loss += l;
    }
    return batches ? loss / batches : 0.0;
}

ClftStatus linear_probe_train(LinearProbe *p, float *X, int *labels, int N,
                              const LinearProbeFeed *feed, double *loss_out)
{
    int *perm = xmalloc((size_t)(N > 0 ? N : 1) * sizeof *perm); /* (N): once per run */
    ClftStatus st = CLFT_OK;
    for (int e = 0; e < p->opt.schedule.epochs && st == CLFT_OK; e++) {
        if (feed && (st = feed->refill(feed->ctx, e, X, labels)) != CLFT_OK) break;
        const double loss = probe_epoch(p, X, labels, N, perm, e);
        if (loss_out) loss_out[e] = loss;
        if (p->diverged) {
            clft_set_error("linear probe: loss is %g at epoch %d (lr %g too high for these "
                           "features?)",
                           loss, e, (double)linear_probe_lr(&p->opt, e));
            st = CLFT_ERR_NUMERIC;
        }
    }
    free(perm);
    return st;
}

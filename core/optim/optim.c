/* optim.c — see optim.h. */
#include "core/optim/optim.h"

#include <math.h>

void sgd_step(float *theta, const float *grad, float *buf, size_t n, const SgdOptions *opt)
{
    const float lr = opt->lr, mom = opt->momentum, wd = opt->weight_decay;
    for (size_t i = 0; i < n; i++) {
        float g = grad[i] + wd * theta[i];
        buf[i] = mom * buf[i] + g;
        theta[i] -= lr * buf[i];
    }
}

double schedule_lr(const Schedule *s, int epoch, int step, int steps_per_epoch)
{
    double lr = s->base_lr;
    switch (s->kind) {
    case SCHEDULE_CONSTANT: break;
    case SCHEDULE_STEP:
        for (int i = 0; i < s->n_milestones; i++)
            if (epoch >= s->milestones[i]) lr *= s->gamma;
        break;
    case SCHEDULE_COSINE: lr *= 0.5 * (1.0 + cos(M_PI * epoch / (double)s->epochs)); break;
    }
    if (epoch < s->warmup_epochs) {
        double done = (double)epoch * steps_per_epoch + step + 1;
        lr *= done / ((double)s->warmup_epochs * steps_per_epoch);
    }
    return lr;
}

void ema_update(float *theta_k, const float *theta_q, size_t n, float m)
{
    const float one_minus_m = 1.0f - m;
    for (size_t i = 0; i < n; i++) theta_k[i] = m * theta_k[i] + one_minus_m * theta_q[i];
}

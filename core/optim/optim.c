/* optim.c — see optim.h. */
#include "core/optim/optim.h"

#include <math.h>

double schedule_lr(const Schedule *s, int epoch, int step, int steps_per_epoch)
{
    double lr = s->base_lr;
    switch (s->kind) {
    case SCHEDULE_CONSTANT: break;
    case SCHEDULE_STEP:
        for (int k = schedule_decays(s, epoch); k > 0; k--)
            lr *= s->gamma;
        break;
    case SCHEDULE_COSINE: lr *= 0.5 * (1.0 + cos(M_PI * epoch / (double)s->epochs)); break;
    }
    if (epoch < s->warmup_epochs) {
        double done = (double)epoch * steps_per_epoch + step + 1;
        lr *= done / ((double)s->warmup_epochs * steps_per_epoch);
    }
    return lr;
}

int schedule_decays(const Schedule *s, int epoch)
{
    int k = 0;
    if (s->kind == SCHEDULE_STEP)
        for (int i = 0; i < s->n_milestones; i++)
            k += epoch >= s->milestones[i];
    return k;
}

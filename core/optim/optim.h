/* optim.h — SGD with momentum and weight decay, exactly torch.optim.SGD (dampening 0, no Nesterov):
 *     g ← grad + wd·θ;   buf ← momentum·buf + g  (buf = g on the first step);   θ ← θ − lr·buf
 * as ONE flat loop over the parameter arena (DESIGN.md "Tensor"; the backend's sgd_step, as is the
 * key encoder's EMA ema_update: θ_k ← m·θ_k + (1−m)·θ_q), and the learning-rate schedules
 * of MoCo: step (milestones, factor), cosine (MoCo's per-epoch form lr·½(1+cos(π·epoch/epochs))),
 * constant, each with an optional linear warm-up over the first epochs (per step).
 */
#ifndef CLFT_OPTIM_H
#define CLFT_OPTIM_H

#include <stddef.h>

/* be->sgd_step(θ (n), grad (n), buf (n), n, opt): buf starts at zero, which makes the first step
 * buf = g as torch. */
typedef struct SgdOptions {
    float lr, momentum, weight_decay;
} SgdOptions;

typedef enum { SCHEDULE_CONSTANT, SCHEDULE_STEP, SCHEDULE_COSINE } ScheduleKind;

#define SCHEDULE_MAX_MILESTONES 32 /* as many as a config list holds (CONFIG_LIST_MAX) */

typedef struct {
    ScheduleKind kind;
    double base_lr;
    int epochs;
    int milestones[SCHEDULE_MAX_MILESTONES]; /* epochs at which lr *= gamma (STEP) */
    int n_milestones;
    double gamma;
    int warmup_epochs; /* linear warm-up from base_lr/steps to base_lr over these epochs */
} Schedule;

/* The learning rate of step `step` (0-based) of epoch `epoch` (0-based). */
double schedule_lr(const Schedule *s, int epoch, int step, int steps_per_epoch);

/* How many of the milestones `epoch` (0-based) has reached: a STEP schedule's lr is
 * base_lr · gamma^k before warm-up. 0 for the other kinds. The linear probe (downstream/linear.h)
 * applies these decays in float, as its SGD runs. */
int schedule_decays(const Schedule *s, int epoch);

#endif

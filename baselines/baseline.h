/* baseline.h — the paper's two recipes (PAPER.md §4) as Config defaults, and the resolution of a
 * run's configuration: config_defaults → baseline->defaults → configs/<preset>.ini (→ --set, by
 * the caller). DESIGN.md "Baseline".
 */
#ifndef CLFT_BASELINE_H
#define CLFT_BASELINE_H

#include "core/data/augment.h"
#include "core/io/config.h"

typedef struct {
    const char *name;
    const char *summary;
    void (*defaults)(Config *c); /* sets the recipe's keys on top of config_defaults */
} Baseline;

/* The baseline named `name`, or NULL. */
const Baseline *baseline_find(const char *name);
/* NULL-terminated list of all baselines, for --help and messages. */
const Baseline *const *baseline_all(void);

/* *c = config_defaults + baseline defaults + the preset file. `preset` is a name looked up as
 * <configs_dir>/<preset>.ini, or a path to an .ini file (contains '/' or ends in ".ini"); NULL or
 * "" = no preset. Errors (unknown baseline, missing preset, bad key) name what was wrong. */
ClftStatus config_resolve(Config *c, const char *baseline, const char *preset,
                          const char *configs_dir);

/* The augmentation recipes (PAPER.md §4; core/data/augment.h says what each op does), by the
 * name [aug] preset gives: "moco_v1" (crop 0.2–1, grayscale 0.2, then jitter 0.4/0.4/0.4/0.4
 * always, flip), "moco_v2" (crop, jitter 0.4/0.4/0.4/0.1 with p 0.8, then grayscale 0.2, blur σ
 * U(0.1, 2) with p 0.5, flip) and "none" (the evaluation transform: the whole image). */
AugConfig aug_moco_v1(int size, int channels);
AugConfig aug_moco_v2(int size, int channels);

/* Effective augmentation numbers that [aug] can override: the preset's values with the
 * overrides (-1 = the preset's). The jitter strengths and the blur's sigma range are not
 * settings: they are the preset's. An error naming aug.preset when it names no recipe. */
typedef struct {
    double scale_min, scale_max; /* RandomResizedCrop scale range */
    double flip_p;               /* horizontal flip */
    double jitter_p;             /* ColorJitter applied with this probability */
    double gray_p;               /* RandomGrayscale */
    double blur_p;               /* GaussianBlur */
} ConfigAug;
ClftStatus baseline_aug_resolve(const Config *c, ConfigAug *out);

/* The training augmentation of c at `size` px and `channels`: its recipe with the overrides
 * (TrainOptions.aug). An error naming aug.preset when it names no recipe. */
ClftStatus baseline_train_aug(const Config *c, int size, int channels, AugConfig *out);

/* What config_validate cannot check without the recipes: aug.preset names one, and the crop's
 * scale range with the recipe's ends is not empty. */
ClftStatus baseline_validate(const Config *c);

#endif

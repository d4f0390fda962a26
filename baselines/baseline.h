/* baseline.h — the paper's two recipes (PAPER.md §4) as Config defaults, and the resolution of a
 * run's configuration: config_defaults → baseline->defaults → configs/<preset>.ini (→ --set, by
 * the caller). DESIGN.md "Baseline".
 */
#ifndef CLFT_BASELINE_H
#define CLFT_BASELINE_H

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

#endif

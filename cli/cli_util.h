/* cli_util.h — argument handling shared by the subcommands that describe a run (pretrain,
 * reproduce): --baseline --variant --data --preset --seed --out --device --precision
 * --deterministic --set. */
#ifndef CLFT_CLI_UTIL_H
#define CLFT_CLI_UTIL_H

#include "core/io/config.h"

#define CLI_MAX_SETS 64

typedef struct {
    const char *baseline, *variant, *data, *preset, *out, *device, *precision;
    int deterministic;
    long seed;
    int has_seed;
    const char *sets[CLI_MAX_SETS];
    int n_sets;
} CliRun;

void cli_run_defaults(CliRun *r);
/* The value after argv[*i] (advancing *i); dies naming the option if there is none. */
const char *cli_value(int argc, char **argv, int *i);
/* Consumes a run option at argv[*i]; returns 0 if argv[*i] is not one. */
int cli_run_arg(CliRun *r, int argc, char **argv, int *i);
/* Baseline defaults → preset → --data/--seed/--variant → --set, validated; run.name and run.out
 * derived when not given (runs/<baseline>_<variant>_<data>_s<seed>). Dies with a one-line error. */
void cli_run_resolve(const CliRun *r, Config *cfg);
/* Where the preset files are: $CLFT_CONFIGS_DIR, else the source tree's configs/. */
const char *cli_configs_dir(void);

#endif

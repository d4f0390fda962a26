/* cli_util.c — see cli_util.h. */
#include "cli/cli_util.h"

#include "core/backend/backend.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baselines/baseline.h"

void cli_run_defaults(CliRun *r)
{
    memset(r, 0, sizeof *r);
    r->baseline = "moco_v2";
}

const char *cli_value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) clft_die("%s needs a value", argv[*i]);
    return argv[++*i];
}

int cli_run_arg(CliRun *r, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    if (!strcmp(a, "--baseline")) r->baseline = cli_value(argc, argv, i);
    else if (!strcmp(a, "--variant")) r->variant = cli_value(argc, argv, i);
    else if (!strcmp(a, "--data")) r->data = cli_value(argc, argv, i);
    else if (!strcmp(a, "--preset")) r->preset = cli_value(argc, argv, i);
    else if (!strcmp(a, "--out")) r->out = cli_value(argc, argv, i);
    else if (!strcmp(a, "--device")) r->device = cli_value(argc, argv, i);
    else if (!strcmp(a, "--precision")) r->precision = cli_value(argc, argv, i);
    else if (!strcmp(a, "--deterministic")) r->deterministic = 1;
    else if (!strcmp(a, "--seed")) {
        const char *v = cli_value(argc, argv, i);
        if (parse_int(v, 0, 2147483647L, &r->seed) != CLFT_OK)
            clft_die("--seed: '%s' is not an integer in [0, 2^31)", v);
        r->has_seed = 1;
    } else if (!strcmp(a, "--set")) {
        if (r->n_sets == CLI_MAX_SETS) clft_die("--set: at most %d assignments", CLI_MAX_SETS);
        r->sets[r->n_sets++] = cli_value(argc, argv, i);
    } else
        return 0;
    return 1;
}

const char *cli_configs_dir(void)
{
    const char *env = getenv("CLFT_CONFIGS_DIR");
    return env && *env ? env : CLFT_SOURCE_DIR "/configs";
}

/* Keeps [A-Za-z0-9._-] of s, turning anything else into '-'. */
static void sanitize(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    for (; *s && n + 1 < cap; s++) out[n++] = (isalnum((unsigned char)*s) || strchr("._-", *s)) ? *s : '-';
    out[n] = '\0';
}

static void set_or_die(Config *cfg, const char *section, const char *key, const char *value,
                       const char *origin)
{
    if (config_set_kv(cfg, section, key, value, origin) != CLFT_OK) clft_die("%s", clft_last_error());
}

void cli_run_resolve(const CliRun *r, Config *cfg)
{
    if (config_resolve(cfg, r->baseline, r->preset, cli_configs_dir()) != CLFT_OK)
        clft_die("%s", clft_last_error());
    if (r->data) set_or_die(cfg, "data", "spec", r->data, "--data");
    if (r->variant) set_or_die(cfg, "variant", "name", r->variant, "--variant");
    if (r->has_seed) {
        char v[32];
        snprintf(v, sizeof v, "%ld", r->seed);
        set_or_die(cfg, "run", "seed", v, "--seed");
    }
    if (r->device) {
        if (!backend_find(r->device))
            clft_die("--device %s: not built into this clft (built: %s)", r->device, backend_names());
        set_or_die(cfg, "run", "device", r->device, "--device");
    }
    if (r->precision) set_or_die(cfg, "run", "precision", r->precision, "--precision");
    if (r->deterministic) set_or_die(cfg, "run", "deterministic", "1", "--deterministic");
    for (int i = 0; i < r->n_sets; i++)
        if (config_set(cfg, r->sets[i]) != CLFT_OK) clft_die("%s", clft_last_error());
    if (!cfg->variant.name[0]) snprintf(cfg->variant.name, sizeof cfg->variant.name, "none");
    if (!cfg->run.name[0]) {
        char data[64];
        sanitize(data, sizeof data, cfg->data.spec);
        int n = snprintf(cfg->run.name, sizeof cfg->run.name, "%s_%s_%s_s%d", cfg->moco.baseline,
                         cfg->variant.name, data, cfg->run.seed);
        if (n < 0 || (size_t)n >= sizeof cfg->run.name) clft_die("run name too long: %s", cfg->run.name);
    }
    if (r->out) set_or_die(cfg, "run", "out", r->out, "--out");
    if (!cfg->run.out[0]) {
        int n = snprintf(cfg->run.out, sizeof cfg->run.out, "runs/%s", cfg->run.name);
        if (n < 0 || (size_t)n >= sizeof cfg->run.out) clft_die("run.out too long for %s", cfg->run.name);
    }
    if (config_validate(cfg) != CLFT_OK || baseline_validate(cfg) != CLFT_OK)
        clft_die("%s", clft_last_error());
}

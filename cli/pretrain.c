/* pretrain.c — `clft pretrain`: resolve the config (baseline defaults → preset → flags → --set),
 * instantiate the variant, and run core/train. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baselines/baseline.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "core/io/atomic.h"
#include "core/train/train.h"
#include "downstream/monitor.h"
#include "variants/variant.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: clft pretrain --baseline moco_v1|moco_v2 [--variant NAME] [--data SPEC]\n"
            "                     [--preset smoke|mini|in100|in1k|FILE.ini] [--seed N] [--out DIR]\n"
            "                     [--device NAME] [--precision fp32|tf32|bf16] [--deterministic]\n"
            "                     [--set section.key=value ...] [--resume auto|never] [--quiet]\n"
            "       clft pretrain --help-config     every config key with its default and range\n"
            "variants:");
    for (const Variant *const *v = variant_all(); *v; v++) fprintf(f, " %s", (*v)->name);
    fprintf(f, "\n");
}

static ClftStatus set_variant_option(void *opts, const char *key, const char *value)
{
    return variant_options_set(opts, key, value);
}

int cmd_pretrain(int argc, char **argv)
{
    CliRun run;
    cli_run_defaults(&run);
    ResumeMode resume = RESUME_AUTO;
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--help-config")) {
            config_print_help(stdout);
            return 0;
        }
        if (!strcmp(a, "--quiet")) {
            quiet = 1;
            continue;
        }
        if (!strcmp(a, "--resume")) {
            const char *v = cli_value(argc, argv, &i);
            if (!strcmp(v, "auto")) resume = RESUME_AUTO;
            else if (!strcmp(v, "never")) resume = RESUME_NEVER;
            else clft_die("--resume: '%s' is not auto or never", v);
            continue;
        }
        if (cli_run_arg(&run, argc, argv, &i)) continue;
        usage(stderr);
        clft_die("pretrain: unknown argument '%s'", a);
    }
    Config cfg;
    cli_run_resolve(&run, &cfg);
    const Variant *variant = variant_find(cfg.variant.name);
    if (!variant) clft_die("variant.name = '%s' is not a variant (see clft pretrain --help)", cfg.variant.name);
    VariantOptions vopt;
    variant_options_default(&vopt);
    variant_options_preset(&vopt, variant->name);
    if (config_apply_variant(&cfg, set_variant_option, &vopt) != CLFT_OK) clft_die("%s", clft_last_error());
    /* The device first: a run it cannot serve stops here, before anything is created. */
    int needs = BACKEND_NEEDS_TRAIN | (strcmp(variant->name, "none") ? BACKEND_NEEDS_MIX : 0) |
                (cfg.run.knn_every > 0 ? BACKEND_NEEDS_EVAL : 0);
    const Backend *be = train_backend(&cfg, needs);
    if (!be) clft_die("%s", clft_last_error());
    TrainOptions topt = {.be = be, .resume = resume, .quiet = quiet};
    /* Test hook for exact-resume tests (tests/test_pretrain.sh): die by SIGKILL after step N. */
    const char *kill_at = getenv("CLFT_TEST_KILL_AT_STEP");
    if (kill_at && parse_int(kill_at, 1, 1L << 40, &topt.kill_at_step) != CLFT_OK)
        clft_die("CLFT_TEST_KILL_AT_STEP = '%s' is not a step number", kill_at);
    /* ... and of the NaN guard: a NaN weight after step N (tests/test_pretrain.sh). */
    const char *poison_at = getenv("CLFT_TEST_POISON_AT_STEP");
    if (poison_at && parse_int(poison_at, 1, 1L << 40, &topt.poison_at_step) != CLFT_OK)
        clft_die("CLFT_TEST_POISON_AT_STEP = '%s' is not a step number", poison_at);
    const char *kill_ckpt = getenv("CLFT_TEST_KILL_IN_CKPT_WRITE");
    long kill_write = 0;
    if (kill_ckpt && parse_int(kill_ckpt, 1, 1L << 20, &kill_write) != CLFT_OK)
        clft_die("CLFT_TEST_KILL_IN_CKPT_WRITE = '%s' is not a count", kill_ckpt);
    atomic_test_kill_before_rename((int)kill_write);
    topt.variant = variant_instantiate(variant, &vopt, be, cfg.optim.batch, cfg.head.dim, cfg.moco.K);
    KnnMonitor mon;
    if (cfg.run.knn_every > 0) {
        if (knn_monitor_init(&mon, &cfg) != CLFT_OK) clft_die("%s", clft_last_error());
        topt.monitor = knn_monitor_hook(&mon);
    }
    if (!quiet) fprintf(stderr, "clft pretrain: %s + %s on %s, seed %d -> %s\n",
                        config_enum_name("moco", "baseline", cfg.moco.baseline), cfg.variant.name,
                        cfg.data.spec, cfg.run.seed, cfg.run.out);
    ClftStatus st = train_run(&cfg, &topt);
    if (cfg.run.knn_every > 0) knn_monitor_free(&mon);
    variant_release(variant, &topt.variant);
    if (st != CLFT_OK) clft_die("%s", clft_last_error());
    return 0;
}

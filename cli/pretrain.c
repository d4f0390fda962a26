/* pretrain.c — `clft pretrain`: resolve the config (baseline defaults → preset → flags → --set),
 * instantiate the variant, and run core/train. Under `mpirun -np N` each process is one rank of a
 * data-parallel run (core/dist/dist.h); the communicator is joined first, so that even a bad flag
 * is reported once, by rank 0. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baselines/baseline.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "core/dist/dist.h"
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
            "                     [--dist-timeout SECONDS]\n"
            "       mpirun -np N clft pretrain ...   data parallel over N processes (one per GPU)\n"
            "       clft pretrain --help-config     every config key with its default and range\n"
            "variants:");
    for (const Variant *const *v = variant_all(); *v; v++) fprintf(f, " %s", (*v)->name);
    fprintf(f, "\n");
}

/* --help-config: the schema, with each baseline's value of the keys its recipe sets. */
static void print_help_config(void)
{
    const Baseline *const *all = baseline_all();
    enum { MAX_RECIPES = 8 };
    static Config cfgs[MAX_RECIPES];
    const Config *recipes[MAX_RECIPES];
    const char *names[MAX_RECIPES];
    int n = 0;
    for (; all[n] && n < MAX_RECIPES; n++) {
        ASSERT(config_resolve(&cfgs[n], all[n]->name, NULL, NULL) == CLFT_OK);
        recipes[n] = &cfgs[n], names[n] = all[n]->name;
    }
    config_print_help(stdout, recipes, names, n);
}

static ClftStatus set_variant_option(void *opts, const char *key, const char *value)
{
    return variant_options_set(opts, key, value);
}

/* --dist-timeout's value (or CLFT_DIST_TIMEOUT's), read before anything else: the communicator
 * comes first. 0 = the default. */
static double dist_timeout(int argc, char **argv)
{
    const char *v = getenv("CLFT_DIST_TIMEOUT");
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--dist-timeout")) v = argv[i + 1];
    double t = 0;
    if (v && parse_float(v, 1, 1e7, &t) != CLFT_OK)
        clft_die("--dist-timeout / CLFT_DIST_TIMEOUT: '%s' is not a number of seconds in [1, 1e7]",
                 v);
    return t;
}

/* The test hooks of tests/test_pretrain.sh, test_faults.sh and test_dist.sh (environment). */
static void test_hooks(TrainOptions *topt)
{
    /* die by SIGKILL after step N (on rank CLFT_TEST_KILL_RANK only, when set) */
    const char *kill_at = getenv("CLFT_TEST_KILL_AT_STEP");
    if (kill_at && parse_int(kill_at, 1, 1L << 40, &topt->kill_at_step) != CLFT_OK)
        clft_die("CLFT_TEST_KILL_AT_STEP = '%s' is not a step number", kill_at);
    const char *kill_rank = getenv("CLFT_TEST_KILL_RANK");
    long kr = -1;
    if (kill_rank && parse_int(kill_rank, 0, 1 << 20, &kr) != CLFT_OK)
        clft_die("CLFT_TEST_KILL_RANK = '%s' is not a rank", kill_rank);
    topt->kill_rank = (int)kr;
    const char *kill_sig = getenv("CLFT_TEST_KILL_SIGNAL"); /* STOP: the rank hangs instead */
    if (kill_sig && strcmp(kill_sig, "KILL") && strcmp(kill_sig, "STOP"))
        clft_die("CLFT_TEST_KILL_SIGNAL = '%s' is not KILL or STOP", kill_sig);
    topt->kill_signal = kill_sig && !strcmp(kill_sig, "STOP") ? SIGSTOP : SIGKILL;
    /* a NaN weight after step N (the NaN guard) */
    const char *poison_at = getenv("CLFT_TEST_POISON_AT_STEP");
    if (poison_at && parse_int(poison_at, 1, 1L << 40, &topt->poison_at_step) != CLFT_OK)
        clft_die("CLFT_TEST_POISON_AT_STEP = '%s' is not a step number", poison_at);
    /* "RANK:STEP": a NaN pixel in rank RANK's batch of step STEP (bad input on one rank) */
    const char *nan_in = getenv("CLFT_TEST_NAN_INPUT");
    if (nan_in) {
        long rank, step;
        char *colon = strchr(nan_in, ':');
        char head[32];
        snprintf(head, sizeof head, "%.*s", colon ? (int)(colon - nan_in) : 0, nan_in);
        if (!colon || parse_int(head, 0, 1 << 20, &rank) != CLFT_OK ||
            parse_int(colon + 1, 1, 1L << 40, &step) != CLFT_OK)
            clft_die("CLFT_TEST_NAN_INPUT = '%s' is not RANK:STEP", nan_in);
        topt->nan_input_rank = (int)rank;
        topt->nan_input_step = step;
    }
    const char *kill_ckpt = getenv("CLFT_TEST_KILL_IN_CKPT_WRITE");
    long kill_write = 0;
    if (kill_ckpt && parse_int(kill_ckpt, 1, 1L << 20, &kill_write) != CLFT_OK)
        clft_die("CLFT_TEST_KILL_IN_CKPT_WRITE = '%s' is not a count", kill_ckpt);
    atomic_test_kill_before_rename((int)kill_write);
}

int cmd_pretrain(int argc, char **argv)
{
    Dist *dist;
    DistOptions dopt = {.timeout_s = dist_timeout(argc, argv)};
    if (dist_init(&dist, &dopt) != CLFT_OK) clft_die("%s", clft_last_error());
    const int rank = dist_rank(dist);
    CliRun run;
    cli_run_defaults(&run);
    ResumeMode resume = RESUME_AUTO;
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            dist_finalize(dist);
            return 0;
        }
        if (!strcmp(a, "--help-config")) {
            print_help_config();
            dist_finalize(dist);
            return 0;
        }
        if (!strcmp(a, "--quiet")) {
            quiet = 1;
            continue;
        }
        if (!strcmp(a, "--dist-timeout")) { /* read by dist_timeout() */
            cli_value(argc, argv, &i);
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
    /* one device per rank: the rank's place on its node (GPU ordinal) */
    const Backend *be = train_backend_device(&cfg, needs, dist_local_rank(dist));
    if (!be) clft_die("%s", clft_last_error());
    if (dist_attach(dist, be) != CLFT_OK) clft_die("%s", clft_last_error());
    /* only rank 0 speaks (and writes); the others are quiet */
    TrainOptions topt = {.be = be,
                         .resume = resume,
                         .quiet = quiet || rank != 0,
                         .dist = dist,
                         .aug = baseline_train_aug};
    test_hooks(&topt);
    const int world = dist_world(dist);
    const int batch = cfg.optim.batch % world ? cfg.optim.batch : cfg.optim.batch / world;
    topt.variant = variant_instantiate(variant, &vopt, be, batch, cfg.head.dim, cfg.moco.K);
    KnnMonitor mon;
    const int monitor = cfg.run.knn_every > 0 && rank == 0; /* rank 0 evaluates */
    if (monitor) {
        if (knn_monitor_init(&mon, &cfg) != CLFT_OK) clft_die("%s", clft_last_error());
        topt.monitor = knn_monitor_hook(&mon);
    }
    if (!topt.quiet) {
        fprintf(stderr, "clft pretrain: %s + %s on %s, seed %d -> %s", cfg.moco.baseline,
                cfg.variant.name, cfg.data.spec, cfg.run.seed, cfg.run.out);
        if (dist)
            fprintf(stderr, " (%d processes over %s, %d images each of a batch of %d)", world,
                    dist_transport(dist), batch, cfg.optim.batch);
        fputc('\n', stderr);
    }
    ClftStatus st = train_run(&cfg, &topt);
    if (monitor) knn_monitor_free(&mon);
    variant_release(variant, &topt.variant);
    if (st != CLFT_OK) clft_die("%s", clft_last_error());
    dist_finalize(dist);
    return 0;
}

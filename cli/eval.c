/* eval.c — `clft eval --run runs/NAME --protocol knn|linear|semisup|longtail|transfer`: evaluates
 * a run's frozen query encoder with downstream/eval.h, prints the rows as a table and appends them
 * to runs/NAME/eval.csv (protocol, dataset, split, metric, value, epoch). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "core/io/rundir.h"
#include "downstream/eval.h"

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: clft eval --run DIR --protocol knn|linear|semisup|longtail|transfer[,...]\n"
        "                 [--ckpt FILE] [--epochs N] [--cached | --augmented] [--no-baselines]\n"
        "                 [--no-finetune] [--finetune-epochs N] [--data SPEC] [--train-limit N]\n"
        "                 [--batch N] [--device NAME] [--quiet]\n"
        "  --protocol a,b several protocols in one process, in order (knn,linear extracts\n"
        "                 the features once)\n"
        "  --cached       linear probe on centre-crop features extracted once (fast; not the\n"
        "                 paper's protocol, which re-augments the training images every epoch)\n"
        "  --augmented    the paper's probe protocol (RandomResizedCrop + flip every epoch)\n"
        "  (default: eval.linear_cached of the run's config)\n"
        "  --no-baselines skip the raw-pixel and random-encoder floors\n"
        "  --train-limit  training images (class-balanced); default the run's data.train_limit,\n"
        "                 0 = all\n");
}

static int int_arg(int argc, char **argv, int *i, long lo)
{
    const char *opt = argv[*i], *s = cli_value(argc, argv, i);
    const long hi = 1000000000L;
    long v;
    if (parse_int(s, lo, hi, &v) != CLFT_OK)
        clft_die("eval: %s '%s': not an integer in [%ld, %ld]", opt, s, lo, hi);
    return (int)v;
}

#define MAX_PROTOCOLS 5

/* Parses argv into opt and the protocol list (--protocol a,b,...: run in order in one process,
 * which extracts the knn and linear features once); returns the run directory. */
static const char *parse_args(int argc, char **argv, EvalOptions *opt, EvalProtocol *protocols,
                              int *n_protocols)
{
    const char *run = NULL, *protocol = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        }
        if (!strcmp(a, "--run"))
            run = cli_value(argc, argv, &i);
        else if (!strcmp(a, "--protocol"))
            protocol = cli_value(argc, argv, &i);
        else if (!strcmp(a, "--ckpt"))
            opt->ckpt = cli_value(argc, argv, &i);
        else if (!strcmp(a, "--data"))
            opt->data = cli_value(argc, argv, &i);
        else if (!strcmp(a, "--epochs"))
            opt->epochs = int_arg(argc, argv, &i, 1);
        else if (!strcmp(a, "--finetune-epochs"))
            opt->finetune_epochs = int_arg(argc, argv, &i, 1);
        else if (!strcmp(a, "--train-limit"))
            opt->train_limit = int_arg(argc, argv, &i, 0);
        else if (!strcmp(a, "--batch"))
            opt->batch = int_arg(argc, argv, &i, 1);
        else if (!strcmp(a, "--cached"))
            opt->probe = EVAL_PROBE_CACHED;
        else if (!strcmp(a, "--augmented"))
            opt->probe = EVAL_PROBE_AUGMENTED;
        else if (!strcmp(a, "--no-baselines"))
            opt->floors = EVAL_FLOORS_OFF;
        else if (!strcmp(a, "--no-finetune"))
            opt->finetune = EVAL_FINETUNE_OFF;
        else if (!strcmp(a, "--quiet"))
            opt->quiet = 1;
        else if (!strcmp(a, "--device"))
            opt->device = cli_value(argc, argv, &i);
        else {
            usage(stderr);
            clft_die("eval: unknown argument '%s'", a);
        }
    }
    if (!run) clft_die("eval: --run DIR is required");
    if (!protocol)
        clft_die("eval: --protocol is required (knn, linear, semisup, longtail, transfer)");
    char list[256];
    snprintf(list, sizeof list, "%s", protocol);
    *n_protocols = 0;
    for (char *save = NULL, *p = strtok_r(list, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        if (*n_protocols == MAX_PROTOCOLS) clft_die("eval: --protocol: too many protocols");
        if (eval_protocol_parse(p, &protocols[(*n_protocols)++]) != CLFT_OK)
            clft_die("%s", clft_last_error());
    }
    if (*n_protocols == 0) clft_die("eval: --protocol '%s' names no protocol", protocol);
    return run;
}

int cmd_eval(int argc, char **argv)
{
    EvalOptions opt = EVAL_OPTIONS_DEFAULT;
    EvalProtocol protocols[MAX_PROTOCOLS];
    int n_protocols;
    const char *dir = parse_args(argc, argv, &opt, protocols, &n_protocols);
    EvalRun r;
    if (eval_run_open(&r, dir, &opt) != CLFT_OK) clft_die("%s", clft_last_error());
    if (!opt.quiet)
        fprintf(stderr, "clft eval: %s (epoch %d) on %s, %d-d features\n", r.ckpt, r.epoch, r.spec,
                r.enc.feat_dim);
    char path[1200];
    path_join(path, sizeof path, dir, "eval.csv");
    for (int i = 0; i < n_protocols; i++) { /* each protocol's rows are appended as it ends */
        EvalResults res = {0};
        opt.protocol = protocols[i];
        if (eval_protocol_run(&r, &opt, &res) != CLFT_OK) clft_die("%s", clft_last_error());
        if (eval_results_append_csv(&res, path) != CLFT_OK) clft_die("%s", clft_last_error());
        eval_results_print(&res, stdout);
        eval_results_free(&res);
    }
    eval_run_close(&r);
    return 0;
}

/* export.c — `clft export --run DIR --format torchvision [--ckpt FILE] [--out FILE]
 * [--features FILE]`: the run's backbone with torchvision names (downstream/export.h), by default
 * to DIR/export/backbone_torchvision.safetensors; --features also writes a fixed input and clft's
 * features for it (what tests/check_export.py compares torchvision against). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "core/io/rundir.h"
#include "downstream/export.h"

#define EXPORT_FEATURE_BATCH 4 /* images in the --features file */

static void usage(FILE *f)
{
    fprintf(f, "usage: clft export --run DIR --format torchvision [--ckpt FILE] [--out FILE]\n"
               "                   [--features FILE] [--quiet]\n"
               "  --out       default DIR/export/backbone_torchvision.safetensors\n"
               "  --features  also write a fixed input and clft's features for it (for checking a\n"
               "              torchvision model loaded with the export: tests/check_export.py)\n");
}

int cmd_export(int argc, char **argv)
{
    const char *run = NULL, *format = NULL, *out = NULL, *features = NULL;
    EvalOptions opt = EVAL_OPTIONS_DEFAULT;
    opt.batch = EXPORT_FEATURE_BATCH;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--run"))
            run = cli_value(argc, argv, &i);
        else if (!strcmp(a, "--format"))
            format = cli_value(argc, argv, &i);
        else if (!strcmp(a, "--ckpt"))
            opt.ckpt = cli_value(argc, argv, &i);
        else if (!strcmp(a, "--out"))
            out = cli_value(argc, argv, &i);
        else if (!strcmp(a, "--features"))
            features = cli_value(argc, argv, &i);
        else if (!strcmp(a, "--quiet"))
            opt.quiet = 1;
        else {
            usage(stderr);
            clft_die("export: unknown argument '%s'", a);
        }
    }
    if (!run) clft_die("export: --run DIR is required");
    if (!format || strcmp(format, "torchvision") != 0)
        clft_die("export: --format must be torchvision (got '%s')", format ? format : "nothing");
    EvalRun r;
    if (eval_run_open(&r, run, &opt) != CLFT_OK) clft_die("%s", clft_last_error());
    char path[1400];
    if (!out) {
        path_join(path, sizeof path, run, "export/backbone_torchvision.safetensors");
        out = path;
    }
    if (export_torchvision(&r, out) != CLFT_OK) clft_die("%s", clft_last_error());
    if (features && export_features(&r, features) != CLFT_OK) clft_die("%s", clft_last_error());
    if (!opt.quiet) printf("clft export: %s (epoch %d) -> %s\n", r.ckpt, r.epoch, out);
    eval_run_close(&r);
    return 0;
}

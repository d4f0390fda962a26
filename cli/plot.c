/* plot.c — `clft plot runs/A [runs/B ...]`: the figures of one run or a comparison (plots/plot.h,
 * PAPER.md §3). Without --out the figures go to RUN/figures for one run, results/figures for several. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "core/common.h"
#include "plots/plot.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: clft plot RUN_DIR [RUN_DIR ...] [options]\n"
            "  --out DIR           where the figures go (default RUN/figures, or results/figures\n"
            "                      for several runs)\n"
            "  --format png|pdf|svg  image format (default png, 300 dpi)\n"
            "  --smooth N          moving-average window in logged rows (default: automatic, ~100\n"
            "                      points per curve; 1 = raw)\n"
            "  --epochs e1,e2,...  epochs of the overlaid score histograms (default: first, last and\n"
            "                      two in between)\n"
            "  --summary FILE      results/summary.csv for the comparison chart\n"
            "  --quiet             do not list the files written\n");
}

static int parse_epochs(const char *s, PlotOptions *o)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", s);
    o->n_epochs = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        long e;
        if (o->n_epochs == PLOT_MAX_EPOCHS || parse_int(tok, 0, 1000000, &e) != CLFT_OK) return -1;
        o->epochs[o->n_epochs++] = (int)e;
    }
    return o->n_epochs > 0 ? 0 : -1;
}

static int parse_format(const char *s, PlotFormat *f)
{
    if (!strcmp(s, "png")) *f = PLOT_FORMAT_PNG;
    else if (!strcmp(s, "pdf")) *f = PLOT_FORMAT_PDF;
    else if (!strcmp(s, "svg")) *f = PLOT_FORMAT_SVG;
    else return -1;
    return 0;
}

/* Parses one option at argv[*i]; returns 0, or prints the problem and returns 2. */
static int parse_option(int argc, char **argv, int *i, PlotOptions *o)
{
    const char *opt = argv[*i];
    if (!strcmp(opt, "--quiet")) {
        o->quiet = 1;
        return 0;
    }
    if (*i + 1 >= argc) {
        fprintf(stderr, "clft plot: %s needs a value\n", opt);
        return 2;
    }
    const char *v = argv[++*i];
    long n;
    if (!strcmp(opt, "--out")) o->out_dir = v;
    else if (!strcmp(opt, "--summary")) o->summary = v;
    else if (!strcmp(opt, "--format") && parse_format(v, &o->format) == 0) {}
    else if (!strcmp(opt, "--smooth") && parse_int(v, 1, 100000, &n) == CLFT_OK) o->smooth = (int)n;
    else if (!strcmp(opt, "--epochs") && parse_epochs(v, o) == 0) {}
    else {
        fprintf(stderr, "clft plot: bad option or value: %s %s (see clft plot --help)\n", opt, v);
        return 2;
    }
    return 0;
}

int cmd_plot(int argc, char **argv)
{
    PlotOptions o = {.format = PLOT_FORMAT_PNG};
    const char *runs[PLOT_MAX_RUNS];
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strncmp(argv[i], "--", 2)) {
            int rc = parse_option(argc, argv, &i, &o);
            if (rc) return rc;
        } else if (n == PLOT_MAX_RUNS) {
            fprintf(stderr, "clft plot: at most %d runs per figure\n", PLOT_MAX_RUNS);
            return 2;
        } else {
            runs[n++] = argv[i];
        }
    }
    if (n == 0) {
        usage(stderr);
        return 2;
    }
    char out[1100];
    if (!o.out_dir) {
        if (n == 1) snprintf(out, sizeof out, "%s/figures", runs[0]);
        else snprintf(out, sizeof out, "results/figures");
        o.out_dir = out;
    }
    double t0 = clft_now();
    if (plot_runs(runs, n, &o) != CLFT_OK) {
        fprintf(stderr, "clft: %s\n", clft_last_error());
        return 1;
    }
    if (!o.quiet) printf("figures in %s (%.1f s)\n", o.out_dir, clft_now() - t0);
    return 0;
}

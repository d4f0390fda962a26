/* check.c — `clft check results/summary.csv --expected results/expected/PRESET.csv`: prints one
 * PASS/FAIL line per expected (baseline, variant, protocol, metric) band and exits 1 if any mean is
 * outside its band or missing from the summary; `clft check --write-expected OUT SUMMARY...`
 * derives the bands from measured summaries (reproduce/results.h; the bands and how they were
 * made: results/expected/README.md). */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "core/common.h"
#include "reproduce/results.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: clft check SUMMARY.csv --expected EXPECTED.csv\n"
               "  EXPECTED.csv columns: baseline, variant, protocol, metric, lo, hi; each summary\n"
               "  mean of that (baseline, variant, protocol, metric) must lie in [lo, hi].\n"
               "  exit status: 0 all pass, 1 a value outside its band or missing, 2 bad input\n"
               "usage: clft check --write-expected OUT.csv --k-std K --abs-tol T\n"
               "                  [--abs-tol METRIC=T[,METRIC=T...]] [--metrics LIST]\n"
               "                  SUMMARY.csv [SUMMARY.csv ...]\n"
               "  writes bands from measured summaries (e.g. one per BLAS kernel set): for each\n"
               "  (baseline, variant, protocol, metric) with a metric in LIST (comma-separated;\n"
               "  default all), [min(mean - K*std) - T, max(mean + K*std) + T] over the\n"
               "  summaries; METRIC=T gives a metric its own T (its units)\n");
}

/* The value after argv[*i] as a number in [lo, hi]; a usage error (-1) otherwise. */
static int number_arg(int argc, char **argv, int *i, double lo, double hi, double *out)
{
    if (*i + 1 >= argc || parse_float(argv[*i + 1], lo, hi, out) != CLFT_OK) {
        fprintf(stderr, "clft check: %s needs a number in [%g, %g]\n", argv[*i], lo, hi);
        return -1;
    }
    ++*i;
    return 0;
}

static int derive(const char *const *summaries, int n, const char *out, const ResultsBandRule *rule)
{
    if (results_derive_expected(summaries, n, out, rule) != CLFT_OK) {
        fprintf(stderr, "clft check: %s\n", clft_last_error());
        return 2;
    }
    printf("wrote %s from %d summar%s (bands: envelope of mean +/- %g std, +/- %g%s%s; metrics "
           "%s)\n", out, n, n == 1 ? "y" : "ies", rule->k_std, rule->abs_tol,
           rule->metric_tols ? ", " : "", rule->metric_tols ? rule->metric_tols : "",
           rule->metrics ? rule->metrics : "all");
    return 0;
}

int cmd_check(int argc, char **argv)
{
    const char *summaries[RESULTS_MAX_SUMMARIES], *expected = NULL, *out = NULL;
    int n = 0, have_k = 0, have_tol = 0;
    ResultsBandRule rule = {.metrics = NULL};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--expected") && i + 1 < argc) expected = argv[++i];
        else if (!strcmp(argv[i], "--write-expected") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(argv[i], "--metrics") && i + 1 < argc) rule.metrics = argv[++i];
        else if (!strcmp(argv[i], "--k-std")) {
            if (number_arg(argc, argv, &i, 0, 100, &rule.k_std)) return 2;
            have_k = 1;
        } else if (!strcmp(argv[i], "--abs-tol") && i + 1 < argc && strchr(argv[i + 1], '=')) {
            rule.metric_tols = argv[++i];
        } else if (!strcmp(argv[i], "--abs-tol")) {
            if (number_arg(argc, argv, &i, 0, 1e9, &rule.abs_tol)) return 2;
            have_tol = 1;
        } else if (argv[i][0] != '-' && n < RESULTS_MAX_SUMMARIES) summaries[n++] = argv[i];
        else {
            usage(stderr);
            fprintf(stderr, "clft check: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (out) {
        if (expected || !have_k || !have_tol || n < 1) {
            usage(stderr);
            fprintf(stderr, "clft check: --write-expected needs --k-std, --abs-tol and at least "
                            "one summary, and no --expected\n");
            return 2;
        }
        return derive(summaries, n, out, &rule);
    }
    if (n != 1 || !expected || rule.metrics || rule.metric_tols || have_k || have_tol) {
        usage(stderr);
        return 2;
    }
    int n_fail = 0;
    if (results_check(summaries[0], expected, stdout, &n_fail) != CLFT_OK) {
        fprintf(stderr, "clft check: %s\n", clft_last_error());
        return 2;
    }
    printf("clft check: %s against %s: %s (%d failed)\n", summaries[0], expected,
           n_fail ? "FAIL" : "PASS", n_fail);
    return n_fail ? 1 : 0;
}

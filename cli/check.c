/* check.c — `clft check results/summary.csv --expected results/expected/PRESET.csv`: prints one
 * PASS/FAIL line per expected (baseline, variant, protocol, metric) band and exits 1 if any mean is
 * outside its band or missing from the summary (downstream/results.h; bands: results/expected/). */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "core/common.h"
#include "downstream/results.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: clft check SUMMARY.csv --expected EXPECTED.csv\n"
               "  EXPECTED.csv columns: baseline, variant, protocol, metric, lo, hi; each summary\n"
               "  mean of that (baseline, variant, protocol, metric) must lie in [lo, hi].\n"
               "  exit status: 0 all pass, 1 a value outside its band or missing, 2 bad input\n"
               "usage: clft check SUMMARY.csv --write-expected OUT.csv --k-std K --abs-tol T\n"
               "  writes bands [mean - (K*std + T), mean + (K*std + T)] from a measured summary\n");
}

int cmd_check(int argc, char **argv)
{
    const char *summary = NULL, *expected = NULL, *derive = NULL;
    double k_std = 0, abs_tol = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--expected") && i + 1 < argc) expected = argv[++i];
        else if (!strcmp(argv[i], "--write-expected") && i + 1 < argc) derive = argv[++i];
        else if (!strcmp(argv[i], "--k-std") && i + 1 < argc &&
                 parse_float(argv[i + 1], 0, 100, &k_std) == CLFT_OK) i++;
        else if (!strcmp(argv[i], "--abs-tol") && i + 1 < argc &&
                 parse_float(argv[i + 1], 0, 1e9, &abs_tol) == CLFT_OK) i++;
        else if (argv[i][0] != '-' && !summary) summary = argv[i];
        else {
            usage(stderr);
            fprintf(stderr, "clft check: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (summary && derive) {
        if (results_derive_expected(summary, derive, k_std, abs_tol) != CLFT_OK) {
            fprintf(stderr, "clft check: %s\n", clft_last_error());
            return 2;
        }
        printf("wrote %s (bands: mean +/- (%g std + %g))\n", derive, k_std, abs_tol);
        return 0;
    }
    if (!summary || !expected) {
        usage(stderr);
        return 2;
    }
    int n_fail = 0;
    if (results_check(summary, expected, stdout, &n_fail) != CLFT_OK) {
        fprintf(stderr, "clft check: %s\n", clft_last_error());
        return 2;
    }
    printf("clft check: %s against %s: %s (%d failed)\n", summary, expected,
           n_fail ? "FAIL" : "PASS", n_fail);
    return n_fail ? 1 : 0;
}

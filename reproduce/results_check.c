/* results_check.c — `clft check`: a summary.csv held against accepted bands (results.h). */
#include "reproduce/results.h"

#include <math.h>
#include <string.h>

#include "core/io/csv.h"

/* Column indices of `names` (n) in t; CLFT_ERR_FORMAT naming the first missing one. */
static ClftStatus columns(const CsvTable *t, const char *const *names, int n, int *idx)
{
    for (int i = 0; i < n; i++)
        if ((idx[i] = csv_col(t, names[i])) < 0) {
            clft_set_error("%s: no '%s' column", t->path, names[i]);
            return CLFT_ERR_FORMAT;
        }
    return CLFT_OK;
}

/* Checks expected row e against every matching summary row, adding the failures to *fails. A mean
 * that is not a number is bad input (an error naming file, row and column), not a failure; "nan",
 * what summary.csv writes when a run produced no value, fails its band. */
static ClftStatus check_row(const CsvTable *sum, const int *sc, const CsvTable *exp, const int *ec,
                            int e, double lo, double hi, FILE *out, int *fails)
{
    int matched = 0;
    const char *key[4];
    for (int k = 0; k < 4; k++) key[k] = csv_cell(exp, e, ec[k]);
    for (int r = 0; r < sum->nrow; r++) {
        int same = 1;
        for (int k = 0; k < 4 && same; k++) same = !strcmp(csv_cell(sum, r, sc[k]), key[k]);
        if (!same) continue;
        matched++;
        double v;
        ClftStatus st = csv_cell_num(sum, r, sc[4], &v);
        if (st != CLFT_OK) return st;
        const int ok = !isnan(v) && v >= lo && v <= hi;
        *fails += !ok;
        fprintf(out, "%s  %s %s %s %s (%s): %.6g %s [%.6g, %.6g]\n", ok ? "PASS" : "FAIL", key[0],
                key[1], key[2], key[3], csv_cell(sum, r, sc[5]), v, ok ? "in" : "OUTSIDE", lo, hi);
    }
    if (!matched) {
        fprintf(out, "FAIL  %s %s %s %s: missing from %s (band [%.6g, %.6g])\n", key[0], key[1],
                key[2], key[3], sum->path, lo, hi);
        ++*fails;
    }
    return CLFT_OK;
}

/* Band e of the expected file: finite numbers with lo <= hi, else an error naming file and row
 * (an inverted band would fail every value, whatever the code does). */
static ClftStatus read_band(const CsvTable *exp, const int *ec, int e, double *lo, double *hi)
{
    ClftStatus st = csv_cell_num(exp, e, ec[4], lo);
    if (st == CLFT_OK) st = csv_cell_num(exp, e, ec[5], hi);
    if (st != CLFT_OK) return st;
    if (!isfinite(*lo) || !isfinite(*hi) || *lo > *hi) {
        clft_set_error("%s: data row %d: band [%g, %g] is not an interval lo <= hi", exp->path,
                       e + 1, *lo, *hi);
        return CLFT_ERR_VALUE;
    }
    return CLFT_OK;
}

ClftStatus results_check(const char *summary_path, const char *expected_path, FILE *out,
                         int *n_fail)
{
    static const char *const snames[] = {"baseline", "variant", "protocol", "metric", "mean",
                                         "dataset"};
    static const char *const enames[] = {"baseline", "variant", "protocol", "metric", "lo", "hi"};
    CsvTable sum, exp;
    ClftStatus st = csv_read(summary_path, &sum);
    if (st != CLFT_OK) return st;
    if ((st = csv_read(expected_path, &exp)) != CLFT_OK) {
        csv_table_free(&sum);
        return st;
    }
    int sc[6], ec[6];
    *n_fail = 0;
    st = columns(&sum, snames, 6, sc);
    if (st == CLFT_OK) st = columns(&exp, enames, 6, ec);
    for (int e = 0; e < exp.nrow && st == CLFT_OK; e++) {
        double lo, hi;
        st = read_band(&exp, ec, e, &lo, &hi);
        if (st == CLFT_OK) st = check_row(&sum, sc, &exp, ec, e, lo, hi, out, n_fail);
    }
    if (st == CLFT_OK && exp.nrow == 0) {
        clft_set_error("%s: no expected rows", expected_path);
        st = CLFT_ERR_FORMAT;
    }
    csv_table_free(&sum);
    csv_table_free(&exp);
    return st;
}

/* ---- bands from measured summaries ---- */

/* The summary columns a derivation reads, in this order. */
static const char *const derive_cols[] = {"baseline", "variant", "protocol", "metric", "mean",
                                          "std"};

/* Whether row r of a and row q of b have the same (baseline, variant, protocol, metric). */
static int same_key(const CsvTable *a, const int *ac, int r, const CsvTable *b, const int *bc,
                    int q)
{
    for (int k = 0; k < 4; k++)
        if (strcmp(csv_cell(a, r, ac[k]), csv_cell(b, q, bc[k]))) return 0;
    return 1;
}

/* Whether `name` is one of the comma-separated `list` (NULL: every name is). */
static int in_list(const char *list, const char *name)
{
    if (!list) return 1;
    const size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        const size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && !strncmp(p, name, n)) return 1;
        p += len + (end != NULL);
    }
    return 0;
}

/* The abs_tol of `metric`: its entry in rule->metric_tols, else rule->abs_tol. A malformed list
 * ("name=number" entries, the number >= 0) is an error naming it. */
static ClftStatus tol_for(const ResultsBandRule *rule, const char *metric, double *tol)
{
    *tol = rule->abs_tol;
    if (!rule->metric_tols) return CLFT_OK;
    char buf[512], *save = NULL;
    snprintf(buf, sizeof buf, "%s", rule->metric_tols);
    for (char *e = strtok_r(buf, ",", &save); e; e = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(e, '=');
        double v;
        if (!eq || eq == e || parse_float(eq + 1, 0, 1e9, &v) != CLFT_OK) {
            clft_set_error("metric tolerances '%s': '%s' is not METRIC=T with T >= 0",
                           rule->metric_tols, e);
            return CLFT_ERR_VALUE;
        }
        *eq = '\0';
        if (!strcmp(e, metric)) *tol = v;
    }
    return CLFT_OK;
}

/* Widens [*lo, *hi] by table t's rows with the key of row r of table 0..: mean ± k_std · std
 * (std 0 when nan, one seed). A summary without the key, or with a mean that is not a finite
 * number, is an error: a band from fewer kernel sets or seeds than claimed would be too narrow. */
static ClftStatus widen(const CsvTable *t, const int *tc, const CsvTable *key_t, const int *kc,
                        int r, double k_std, double *lo, double *hi)
{
    int matched = 0;
    for (int q = 0; q < t->nrow; q++) {
        if (!same_key(t, tc, q, key_t, kc, r)) continue;
        matched++;
        double mean, sd;
        ClftStatus st = csv_cell_num(t, q, tc[4], &mean);
        if (st == CLFT_OK && !isfinite(mean)) {
            clft_set_error("%s: data row %d: mean '%s' is not a finite number", t->path, q + 1,
                           csv_cell(t, q, tc[4]));
            st = CLFT_ERR_VALUE;
        }
        if (st == CLFT_OK) st = csv_cell_num(t, q, tc[5], &sd);
        if (st != CLFT_OK) return st;
        if (isnan(sd)) sd = 0;
        if (mean - k_std * sd < *lo) *lo = mean - k_std * sd;
        if (mean + k_std * sd > *hi) *hi = mean + k_std * sd;
    }
    if (!matched) {
        clft_set_error("%s: no row for %s %s %s %s, which %s has (every summary must hold every "
                       "row)", t->path, csv_cell(key_t, r, kc[0]), csv_cell(key_t, r, kc[1]),
                       csv_cell(key_t, r, kc[2]), csv_cell(key_t, r, kc[3]), key_t->path);
        return CLFT_ERR_FORMAT;
    }
    return CLFT_OK;
}

/* Whether the key of row r of table t appeared earlier (an earlier table, or an earlier row). */
static int seen_before(const CsvTable *tabs, const int (*cols)[6], int t, int r)
{
    for (int u = 0; u <= t; u++)
        for (int q = 0; q < (u < t ? tabs[u].nrow : r); q++)
            if (same_key(&tabs[u], cols[u], q, &tabs[t], cols[t], r)) return 1;
    return 0;
}

/* Writes one band per (baseline, variant, protocol, metric) of the n tables, in order of first
 * appearance; none at all (a --metrics list that names no metric of the summaries) is an error. */
static ClftStatus write_bands(const CsvTable *tabs, const int (*cols)[6], int n,
                              const ResultsBandRule *rule, CsvWriter *w)
{
    int written = 0;
    for (int t = 0; t < n; t++)
        for (int r = 0; r < tabs[t].nrow; r++) {
            if (seen_before(tabs, cols, t, r)) continue;
            if (!in_list(rule->metrics, csv_cell(&tabs[t], r, cols[t][3]))) continue;
            double lo = INFINITY, hi = -INFINITY, tol;
            ClftStatus st = tol_for(rule, csv_cell(&tabs[t], r, cols[t][3]), &tol);
            if (st != CLFT_OK) return st;
            for (int u = 0; u < n; u++) {
                st = widen(&tabs[u], cols[u], &tabs[t], cols[t], r, rule->k_std, &lo, &hi);
                if (st != CLFT_OK) return st;
            }
            for (int k = 0; k < 4; k++) csv_put_str(w, csv_cell(&tabs[t], r, cols[t][k]));
            csv_put_num(w, lo - tol);
            csv_put_num(w, hi + tol);
            if ((st = csv_end_row(w)) != CLFT_OK) return st;
            written++;
        }
    if (!written) {
        clft_set_error("%s: no row with a metric in '%s'", tabs[0].path, rule->metrics);
        return CLFT_ERR_VALUE;
    }
    return CLFT_OK;
}

ClftStatus results_derive_expected(const char *const *summary_paths, int n_summaries,
                                   const char *expected_path, const ResultsBandRule *rule)
{
    static const char *const out_cols[] = {"baseline", "variant", "protocol", "metric", "lo", "hi"};
    if (n_summaries < 1 || n_summaries > RESULTS_MAX_SUMMARIES) {
        clft_set_error("bands need 1 to %d summaries, not %d", RESULTS_MAX_SUMMARIES, n_summaries);
        return CLFT_ERR_VALUE;
    }
    CsvTable tabs[RESULTS_MAX_SUMMARIES];
    int cols[RESULTS_MAX_SUMMARIES][6], n_read = 0;
    ClftStatus st = CLFT_OK;
    for (; n_read < n_summaries && st == CLFT_OK; n_read++) {
        if ((st = csv_read(summary_paths[n_read], &tabs[n_read])) != CLFT_OK) break;
        st = columns(&tabs[n_read], derive_cols, 6, cols[n_read]);
    }
    CsvWriter w;
    if (st == CLFT_OK) st = csv_open(&w, expected_path, out_cols, 6, CSV_CREATE);
    if (st == CLFT_OK) {
        st = write_bands(tabs, (const int (*)[6])cols, n_summaries, rule, &w);
        if (st == CLFT_OK) st = csv_close(&w);
        else csv_abort(&w);
    }
    for (int t = 0; t < n_read; t++) csv_table_free(&tabs[t]);
    return st;
}

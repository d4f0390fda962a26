/* results_check.c — `clft check`: a summary.csv held against accepted bands (results.h). */
#include "downstream/results.h"

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

ClftStatus results_derive_expected(const char *summary_path, const char *expected_path, double k_std,
                                   double abs_tol)
{
    static const char *const snames[] = {"baseline", "variant", "protocol", "metric", "mean", "std"};
    static const char *const cols[] = {"baseline", "variant", "protocol", "metric", "lo", "hi"};
    CsvTable sum;
    ClftStatus st = csv_read(summary_path, &sum);
    if (st != CLFT_OK) return st;
    int sc[6];
    CsvWriter w;
    if ((st = columns(&sum, snames, 6, sc)) == CLFT_OK)
        st = csv_open(&w, expected_path, cols, 6, CSV_CREATE);
    if (st != CLFT_OK) {
        csv_table_free(&sum);
        return st;
    }
    for (int r = 0; r < sum.nrow && st == CLFT_OK; r++) {
        double mean, sd = NAN;
        if ((st = csv_cell_num(&sum, r, sc[4], &mean)) != CLFT_OK) break;
        if (csv_cell_num(&sum, r, sc[5], &sd) != CLFT_OK || isnan(sd)) sd = 0;
        const double half = k_std * sd + abs_tol;
        for (int k = 0; k < 4; k++) csv_put_str(&w, csv_cell(&sum, r, sc[k]));
        csv_put_num(&w, mean - half);
        csv_put_num(&w, mean + half);
        st = csv_end_row(&w);
    }
    csv_table_free(&sum);
    if (st != CLFT_OK) {
        csv_abort(&w);
        return st;
    }
    return csv_close(&w);
}

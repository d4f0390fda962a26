/* results.c — summary.csv from run directories, RESULTS.md's generated sections, and `clft check`
 * (see results.h; statistics from reproduce/stats.h, published numbers from PAPER.md §6). */
#include "reproduce/results.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/io/atomic.h"
#include "core/io/config.h"
#include "core/io/csv.h"
#include "core/io/rundir.h"
#include "reproduce/stats.h"

/* ---- summary ---------------------------------------------------------------------------------- */

typedef struct {
    const char *dataset, *protocol, *metric;
    double value, epoch;
} RunValue;

static void copy_name(char *dst, const char *src)
{
    snprintf(dst, RESULTS_NAME, "%s", src ? src : "");
}

static ResultsRow *find_row(ResultsSummary *s, const char *baseline, const char *variant,
                            const RunValue *v)
{
    for (int i = 0; i < s->n; i++) {
        ResultsRow *r = &s->rows[i];
        if (!strcmp(r->baseline, baseline) && !strcmp(r->variant, variant) &&
            !strcmp(r->dataset, v->dataset) && !strcmp(r->protocol, v->protocol) &&
            !strcmp(r->metric, v->metric))
            return r;
    }
    return NULL;
}

static ResultsRow *add_row(ResultsSummary *s, const ResultsRun *run, const RunValue *v)
{
    ResultsRow *r = find_row(s, run->baseline, run->label, v);
    if (r) return r;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 16;
        s->rows = xrealloc(s->rows, (size_t)s->cap * sizeof *s->rows);
    }
    r = &s->rows[s->n++];
    memset(r, 0, sizeof *r);
    copy_name(r->baseline, run->baseline);
    copy_name(r->variant, run->label);
    copy_name(r->dataset, v->dataset);
    copy_name(r->protocol, v->protocol);
    copy_name(r->metric, v->metric);
    copy_name(r->reference, run->reference);
    return r;
}

/* The run's values: per (dataset, protocol, metric) the non-train row of the largest epoch.
 * knn_monitor rows are left out: they are a training curve (clft plot draws them), and their last
 * point either repeats the knn protocol at the final checkpoint or is an earlier epoch. */
static ClftStatus read_run(const CsvTable *t, RunValue *vals, int *n_vals)
{
    const int cd = csv_col(t, "dataset"), cp = csv_col(t, "protocol"), cs = csv_col(t, "split");
    const int cm = csv_col(t, "metric"), cv = csv_col(t, "value"), ce = csv_col(t, "epoch");
    if (cd < 0 || cp < 0 || cs < 0 || cm < 0 || cv < 0 || ce < 0) {
        clft_set_error("%s: needs columns protocol, dataset, split, metric, value, epoch", t->path);
        return CLFT_ERR_FORMAT;
    }
    *n_vals = 0;
    for (int r = 0; r < t->nrow; r++) {
        if (!strcmp(csv_cell(t, r, cs), "train") || !strcmp(csv_cell(t, r, cp), "knn_monitor"))
            continue;
        RunValue v = {csv_cell(t, r, cd), csv_cell(t, r, cp), csv_cell(t, r, cm), 0, 0};
        ClftStatus st = csv_cell_num(t, r, cv, &v.value);
        if (st == CLFT_OK) st = csv_cell_num(t, r, ce, &v.epoch);
        if (st != CLFT_OK) return st;
        int i = 0;
        while (i < *n_vals && (strcmp(vals[i].dataset, v.dataset) ||
                               strcmp(vals[i].protocol, v.protocol) || strcmp(vals[i].metric, v.metric)))
            i++;
        if (i == *n_vals) vals[(*n_vals)++] = v;
        else if (v.epoch >= vals[i].epoch) vals[i] = v;
    }
    return CLFT_OK;
}

/* Mean of column `col` over the rows of t's last epoch (the largest `epoch`), and that epoch. */
static ClftStatus last_epoch_mean(const CsvTable *t, const char *col, double *mean, double *epoch)
{
    const int ce = csv_col(t, "epoch"), cv = csv_col(t, col);
    if (ce < 0 || cv < 0) {
        clft_set_error("%s: needs columns epoch, %s", t->path, col);
        return CLFT_ERR_FORMAT;
    }
    double last = -INFINITY, sum = 0.0;
    int n = 0;
    for (int r = 0; r < t->nrow; r++) {
        double e, v;
        ClftStatus st = csv_cell_num(t, r, ce, &e);
        if (st == CLFT_OK) st = csv_cell_num(t, r, cv, &v);
        if (st != CLFT_OK) return st;
        if (e > last) last = e, sum = 0.0, n = 0;
        if (e == last) sum += v, n++;
    }
    *mean = n ? sum / n : NAN;
    *epoch = last;
    return CLFT_OK;
}

ClftStatus results_collapse(const CsvTable *t, double below, double from_epoch, ResultsCollapse *c)
{
    const int ce = csv_col(t, "epoch"), cs = csv_col(t, "step"), cn = csv_col(t, "pre_neg_mean");
    if (ce < 0 || cs < 0 || cn < 0) {
        clft_set_error("%s: needs columns epoch, step, pre_neg_mean", t->path);
        return CLFT_ERR_FORMAT;
    }
    if (t->nrow == 0) {
        clft_set_error("%s: no rows: no score statistics to find a collapse in", t->path);
        return CLFT_ERR_FORMAT;
    }
    double first = INFINITY, last = -INFINITY;
    for (int r = 0; r < t->nrow; r++) {
        double e;
        ClftStatus st = csv_cell_num(t, r, ce, &e);
        if (st != CLFT_OK) return st;
        if (e >= from_epoch && e < first) first = e;
        if (e > last) last = e;
    }
    if (first == INFINITY) first = last; /* started after the last epoch logged: the last one */
    *c = (ResultsCollapse){-INFINITY, 0, 0, 0, 1};
    int peak_row = -1;
    for (int r = 0; r < t->nrow; r++) {
        double e, step, v;
        ClftStatus st = csv_cell_num(t, r, ce, &e);
        if (st == CLFT_OK) st = csv_cell_num(t, r, cs, &step);
        if (st == CLFT_OK) st = csv_cell_num(t, r, cn, &v);
        if (st != CLFT_OK) return st;
        if (e < first && step > c->start_step) c->start_step = step;
        if (e == first && v > c->peak) c->peak = v, c->peak_step = step, peak_row = r;
    }
    if (c->peak < below) return CLFT_OK; /* no collapse: back_step 0, recovered */
    for (int r = peak_row + 1; r < t->nrow; r++) {
        double step, v;
        ClftStatus st = csv_cell_num(t, r, cs, &step);
        if (st == CLFT_OK) st = csv_cell_num(t, r, cn, &v);
        if (st != CLFT_OK) return st;
        c->back_step = step;
        if (v < below) return CLFT_OK;
    }
    if (peak_row == t->nrow - 1) c->back_step = c->peak_step;
    c->recovered = 0;
    return CLFT_OK;
}

/* The epoch from which the run's variant transforms (its config.ini, read as every config is:
 * variant.start_epoch, 0 when it has none): the collapse is looked for from there. */
static ClftStatus run_start_epoch(const char *dir, double *epoch)
{
    char path[4096];
    ClftStatus st = path_join(path, sizeof path, dir, "config.ini");
    if (st != CLFT_OK) return st;
    *epoch = 0.0;
    if (access(path, F_OK) != 0) return CLFT_OK;
    Config *c = xmalloc(sizeof *c);
    config_defaults(c);
    if ((st = config_load_ini(c, path)) == CLFT_OK) {
        const char *v = config_variant_get(c, "start_epoch");
        if (v) *epoch = atof(v);
    }
    free(c);
    return st;
}

/* Appends the run's pre-training statistics (results.h, protocol "pretrain") to vals, under the
 * dataset of its evaluation; a run without train.csv or scores.csv has none. */
static ClftStatus read_pretrain(const char *dir, const char *dataset, RunValue *vals, int *n_vals)
{
    double from_epoch;
    ClftStatus st0 = run_start_epoch(dir, &from_epoch);
    if (st0 != CLFT_OK) return st0;
    static const char *const files[] = {"train.csv", "scores.csv", "scores.csv"};
    static const char *const cols[] = {"loss", "pre_pos_mean", "pre_neg_mean"};
    static const char *const metrics[] = {"loss", "pos_score", "neg_score"};
    for (int i = 0; i < 3; i++) {
        char path[4096];
        ClftStatus st = path_join(path, sizeof path, dir, files[i]);
        if (st != CLFT_OK) return st;
        if (access(path, F_OK) != 0) continue;
        CsvTable t;
        if ((st = csv_read(path, &t)) != CLFT_OK) return st;
        RunValue v = {dataset, "pretrain", metrics[i], 0, 0};
        st = last_epoch_mean(&t, cols[i], &v.value, &v.epoch);
        ResultsCollapse c;
        if (st == CLFT_OK && i == 2 && t.nrow > 0)
            st = results_collapse(&t, RESULTS_COLLAPSE_BELOW, from_epoch, &c);
        csv_table_free(&t);
        if (st != CLFT_OK) return st;
        if (!isnan(v.value)) vals[(*n_vals)++] = v;
        if (i == 2 && !isnan(v.value)) {
            vals[(*n_vals)++] = (RunValue){dataset, "pretrain", "collapse_peak", c.peak, v.epoch};
            vals[(*n_vals)++] =
                (RunValue){dataset, "pretrain", "collapse_iters",
                           c.back_step > 0 ? c.back_step - c.start_step : 0.0, v.epoch};
            vals[(*n_vals)++] =
                (RunValue){dataset, "pretrain", "collapse_recovered", c.recovered, v.epoch};
        }
    }
    return CLFT_OK;
}

static ClftStatus add_run(ResultsSummary *s, const ResultsRun *run)
{
    char path[4096];
    ClftStatus st = path_join(path, sizeof path, run->dir, "eval.csv");
    if (st != CLFT_OK) return st;
    if (access(path, F_OK) != 0) {
        s->n_runs_missing++;
        return CLFT_OK;
    }
    CsvTable t;
    if ((st = csv_read(path, &t)) != CLFT_OK) return st;
    RunValue *vals = xmalloc((size_t)(t.nrow + 7) * sizeof *vals); /* (≤ nrow + 6 pretrain) */
    int n_vals = 0;
    st = read_run(&t, vals, &n_vals);
    if (st == CLFT_OK && n_vals == 0) s->n_runs_missing++;
    else if (st == CLFT_OK) st = read_pretrain(run->dir, vals[0].dataset, vals, &n_vals);
    for (int i = 0; i < n_vals && st == CLFT_OK; i++) {
        ResultsRow *r = add_row(s, run, &vals[i]);
        if (r->n == RESULTS_MAX_SEEDS) {
            clft_set_error("%s: more than %d seeds of %s %s", path, RESULTS_MAX_SEEDS, run->baseline,
                           run->label);
            st = CLFT_ERR_VALUE;
            break;
        }
        r->seeds[r->n] = run->seed;
        r->values[r->n++] = vals[i].value;
    }
    free(vals);
    csv_table_free(&t);
    return st;
}

/* delta / p of row r against its reference row, paired by seed. */
static void pair_row(ResultsSummary *s, ResultsRow *r)
{
    r->delta = r->delta_ci95 = r->p_value = r->p_holm = NAN;
    r->n_paired = 0;
    if (!r->reference[0]) return;
    RunValue key = {r->dataset, r->protocol, r->metric, 0, 0};
    const ResultsRow *b = find_row(s, r->baseline, r->reference, &key);
    if (!b) return;
    double a_v[RESULTS_MAX_SEEDS], b_v[RESULTS_MAX_SEEDS]; /* (n_paired) */
    for (int i = 0; i < r->n; i++)
        for (int j = 0; j < b->n; j++)
            if (r->seeds[i] == b->seeds[j]) {
                a_v[r->n_paired] = r->values[i];
                b_v[r->n_paired++] = b->values[j];
                break;
            }
    if (r->n_paired == 0) return;
    StatsPaired p = stats_paired(a_v, b_v, r->n_paired);
    r->delta = p.delta;
    r->delta_ci95 = p.delta_ci95;
    r->p_value = p.p_value;
}

static int same_family(const ResultsRow *a, const ResultsRow *b)
{
    return !strcmp(a->baseline, b->baseline) && !strcmp(a->reference, b->reference) &&
           !strcmp(a->dataset, b->dataset) && !strcmp(a->protocol, b->protocol) &&
           !strcmp(a->metric, b->metric);
}

/* p_holm: Holm's adjustment over each family of rows compared with one reference (results.h). */
static void holm_families(ResultsSummary *s)
{
    int *member = xmalloc((size_t)(s->n ? s->n : 1) * sizeof *member); /* (m) row indices */
    double *p = xmalloc((size_t)(s->n ? s->n : 1) * 2 * sizeof *p), *adj = p + s->n; /* (m) */
    for (int i = 0; i < s->n; i++) {
        ResultsRow *r = &s->rows[i];
        if (!r->reference[0] || !isnan(r->p_holm) || isnan(r->p_value)) continue;
        int m = 0;
        for (int j = i; j < s->n; j++)
            if (s->rows[j].reference[0] && same_family(r, &s->rows[j])) {
                member[m] = j;
                p[m++] = s->rows[j].p_value;
            }
        stats_holm(p, m, adj);
        for (int k = 0; k < m; k++)
            s->rows[member[k]].p_holm = adj[k];
    }
    free(p);
    free(member);
}

ClftStatus results_summarize(const ResultsRun *runs, int n_runs, ResultsSummary *s)
{
    memset(s, 0, sizeof *s);
    for (int i = 0; i < n_runs; i++) {
        ClftStatus st = add_run(s, &runs[i]);
        if (st != CLFT_OK) {
            results_summary_free(s);
            return st;
        }
    }
    for (int i = 0; i < s->n; i++) {
        StatsSummary m = stats_summarize(s->rows[i].values, s->rows[i].n);
        s->rows[i].mean = m.mean, s->rows[i].std = m.std, s->rows[i].ci95 = m.ci95;
    }
    for (int i = 0; i < s->n; i++) pair_row(s, &s->rows[i]);
    holm_families(s);
    return CLFT_OK;
}

void results_summary_free(ResultsSummary *s)
{
    free(s->rows);
    memset(s, 0, sizeof *s);
}

ClftStatus results_write_summary(const ResultsSummary *s, const char *path)
{
    static const char *const cols[] = {
        "baseline", "variant", "dataset",           "protocol",   "metric",  "n_seeds", "mean",
        "std",      "ci95",    "delta_vs_baseline", "delta_ci95", "p_value", "p_holm"};
    CsvWriter w;
    ClftStatus st = csv_open(&w, path, cols, 13, CSV_CREATE);
    if (st != CLFT_OK) return st;
    char b[64];
    for (int i = 0; i < s->n && st == CLFT_OK; i++) {
        const ResultsRow *r = &s->rows[i];
        csv_put_str(&w, r->baseline);
        csv_put_str(&w, r->variant);
        csv_put_str(&w, r->dataset);
        csv_put_str(&w, r->protocol);
        csv_put_str(&w, r->metric);
        csv_put_int(&w, r->n);
        csv_put_str(&w, stats_format(b, sizeof b, r->mean));
        csv_put_str(&w, stats_format(b, sizeof b, r->std));
        csv_put_str(&w, stats_format(b, sizeof b, r->ci95));
        csv_put_str(&w, r->reference[0] ? stats_format(b, sizeof b, r->delta) : "");
        csv_put_str(&w, r->reference[0] ? stats_format(b, sizeof b, r->delta_ci95) : "");
        csv_put_str(&w, r->reference[0] ? stats_format(b, sizeof b, r->p_value) : "");
        csv_put_str(&w, r->reference[0] ? stats_format(b, sizeof b, r->p_holm) : "");
        st = csv_end_row(&w);
    }
    if (st != CLFT_OK) {
        csv_abort(&w);
        return st;
    }
    return csv_close(&w);
}

/* plot_data.c — turns a run's CSV files (DESIGN.md "Runs and files") into the small whitespace-
 * separated data files that the gnuplot scripts in plots/ (the .gp scripts) read. All the arithmetic of the figures
 * lives here (smoothing, ±1 std band from pos_var, histogram densities), so the scripts only draw. */
#include "plots/plot_internal.h"

#include <ini.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plots/plot_csv.h"

/* ---- small helpers ---- */

FILE *pdata_open(const char *tmp, const char *name)
{
    char path[1400];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    return xfopen(path, "w");
}

void pdata_put_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        if (*s == '\n') {
            fputs("\\n", f);
            continue;
        }
        fputc(*s, f);
    }
    fputc('"', f);
}

const char *pdata_method_color(const char *baseline, const char *variant)
{
    static const char *other[] = {"#1b9e77", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#666666"};
    int none = !*variant || !strcmp(variant, "none");
    int ft = !strcmp(variant, "ft");
    if (!strcmp(baseline, "moco_v1") && (none || ft)) return none ? "#6baed6" : "#08519c";
    if (!strcmp(baseline, "moco_v2") && (none || ft)) return none ? "#fd8d3c" : "#a63603";
    unsigned h = 5381; /* a stable pick for any other method: djb2 of "baseline/variant" */
    for (const char *p = baseline; *p; p++) h = h * 33u + (unsigned char)*p;
    for (const char *p = variant; *p; p++) h = h * 33u + (unsigned char)*p;
    return other[h % (sizeof other / sizeof other[0])];
}

void pdata_method_label(char *out, size_t cap, const char *baseline, const char *variant)
{
    char b[64];
    if (!strncmp(baseline, "moco_v", 6))
        snprintf(b, sizeof b, "MoCo v%s", baseline + 6);
    else
        snprintf(b, sizeof b, "%s", *baseline ? baseline : "?");
    if (!*variant || !strcmp(variant, "none"))
        snprintf(out, cap, "%s", b);
    else if (!strcmp(variant, "ft"))
        snprintf(out, cap, "%s + FT", b);
    else
        snprintf(out, cap, "%s + %s", b, variant);
}

/* Centred moving average over a window of w rows, skipping NaN; w <= 1 copies. */
static void smooth_series(const double *x, double *y, int n, int w)
{
    int h = w / 2;
    for (int i = 0; i < n; i++) {
        double s = 0.0;
        int c = 0;
        for (int j = i - h; j <= i + h; j++)
            if (j >= 0 && j < n && !isnan(x[j])) s += x[j], c++;
        y[i] = c ? s / c : NAN;
    }
}

static int auto_window(int smooth, int n)
{
    if (smooth > 0) return smooth;
    int w = n / 100; /* about 100 independent points across the run */
    return w < 1 ? 1 : (w | 1);
}

/* Reads numeric column `col` of every row into a fresh array. */
ClftStatus pdata_read_column(const PlotTable *t, int col, PtableNumKind kind, double **out)
{
    double *v = xmalloc((size_t)(t->n_rows ? t->n_rows : 1) * sizeof *v); /* (n_rows) */
    for (int r = 0; r < t->n_rows; r++) {
        if (col < 0) {
            v[r] = NAN;
        } else if (ptable_num(t, r, col, kind, &v[r]) != CLFT_OK) {
            free(v);
            return CLFT_ERR_VALUE;
        }
    }
    *out = v;
    return CLFT_OK;
}

/* ---- run identity: config.ini and the top-1 for the legend ---- */

static int on_ini(void *user, const char *section, const char *name, const char *value)
{
    PlotRun *r = user;
    if (!strcmp(section, "moco") && !strcmp(name, "baseline"))
        snprintf(r->baseline, sizeof r->baseline, "%s", value);
    else if (!strcmp(section, "variant") && !strcmp(name, "name"))
        snprintf(r->variant, sizeof r->variant, "%s", value);
    else if (!strcmp(section, "run") && !strcmp(name, "name") && *value)
        snprintf(r->name, sizeof r->name, "%s", value);
    else if (!strcmp(section, "run") && !strcmp(name, "seed"))
        snprintf(r->seed, sizeof r->seed, "%s", value);
    /* what makes a run another experiment; not its name, place, seed or bookkeeping */
    static const char *const skip[] = {"run.name",      "run.out",       "run.seed",
                                       "run.threads",   "run.log_every", "run.ckpt_every",
                                       "run.keep_ckpt", "data.workers",  NULL};
    char key[96];
    snprintf(key, sizeof key, "%s.%s", section, name);
    int keep = r->n_cfg < PLOT_MAX_KEYS;
    for (int i = 0; skip[i] && keep; i++)
        keep = strcmp(key, skip[i]) != 0;
    if (keep) { /* a line too long for cfg[] is left out: it only labels */
        int w = snprintf(r->cfg[r->n_cfg], sizeof r->cfg[0], "%.*s=%.*s", 47, key, 47, value);
        if (w > 0 && (size_t)w < sizeof r->cfg[0]) r->n_cfg++;
    }
    return 1;
}

/* Best top-1 for the legend: linear > knn > last knn_monitor epoch. *rank 0 = none. */
static ClftStatus eval_top1(const char *dir, double *top1, int *rank)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/eval.csv", dir);
    *rank = 0;
    PlotTable t;
    ClftStatus st = ptable_read(&t, path);
    if (st == CLFT_ERR_IO) return CLFT_OK; /* a run not evaluated yet */
    if (st != CLFT_OK) return st;
    static const char *const need[] = {"protocol", "metric", "value", "epoch", NULL};
    int c[4];
    double best_epoch = -INFINITY;
    if ((st = ptable_require(&t, need, c)) == CLFT_OK) {
        for (int i = 0; i < t.n_rows && st == CLFT_OK; i++) {
            const char *p = ptable_str(&t, i, c[0]);
            int rk = !strcmp(p, "linear") ? 3 : !strcmp(p, "knn") ? 2 : !strcmp(p, "knn_monitor");
            double v, e;
            if (strcmp(ptable_str(&t, i, c[1]), "top1") != 0 || rk == 0) continue;
            if ((st = ptable_num(&t, i, c[2], PTABLE_NUM_REQUIRED, &v)) != CLFT_OK) break;
            if ((st = ptable_num(&t, i, c[3], PTABLE_NUM_OPTIONAL, &e)) != CLFT_OK) break;
            if (isnan(e)) e = -1.0;
            if (rk > *rank || (rk == *rank && e >= best_epoch)) *rank = rk, *top1 = v, best_epoch = e;
        }
    }
    ptable_free(&t);
    return st;
}

static void make_label(PlotRun *r, const char *extra)
{
    if (r->method[0])
        snprintf(r->label, sizeof r->label, "%s%s%s%s%s", r->method, extra,
                 r->seed[0] ? ", seed " : "", r->seed, r->score);
    else
        snprintf(r->label, sizeof r->label, "%s%s%s", r->name, extra, r->score);
}

/* The value of "section.key" in r's config, or NULL. */
static const char *cfg_value(const PlotRun *r, const char *key)
{
    const size_t n = strlen(key);
    for (int i = 0; i < r->n_cfg; i++)
        if (!strncmp(r->cfg[i], key, n) && r->cfg[i][n] == '=') return r->cfg[i] + n + 1;
    return NULL;
}

void pdata_distinguish(PlotRun *runs, int n)
{
    /* PAPER.md §3: MoCo (v1), ImageNet-100, linear top-1 by key momentum */
    static const struct {
        double m, top1;
    } paper[] = {{1.0, 31.2}, {0.999, 53.1}, {0.99, 56.2}, {0.9, 46.5}};
    for (int i = 0; i < n; i++) {
        PlotRun *r = &runs[i];
        if (!r->method[0]) continue;
        char extra[256] = "";
        size_t len = 0;
        int shown = 0, momentum = 0;
        for (int k = 0; k < r->n_cfg && shown < 3; k++) {
            char key[96];
            snprintf(key, sizeof key, "%.*s", (int)strcspn(r->cfg[k], "="), r->cfg[k]);
            const char *mine = r->cfg[k] + strlen(key) + 1;
            int differs = 0;
            for (int j = 0; j < n && !differs; j++) {
                if (j == i || strcmp(runs[j].method, r->method)) continue;
                const char *theirs = cfg_value(&runs[j], key);
                differs = !theirs || strcmp(theirs, mine);
            }
            if (!differs) continue;
            const char *dot = strchr(key, '.');
            int w = snprintf(extra + len, sizeof extra - len, ", %s %s", dot ? dot + 1 : key, mine);
            if (w < 0 || (size_t)w >= sizeof extra - len) break;
            len += (size_t)w, shown++;
            momentum |= !strcmp(key, "moco.m");
        }
        if (!shown) continue;
        make_label(r, extra);
        const double m = momentum ? atof(cfg_value(r, "moco.m")) : -1.0;
        for (size_t p = 0; momentum && !strcmp(r->baseline, "moco_v1") && p < 4; p++)
            if (fabs(m - paper[p].m) < 1e-9) {
                size_t l = strlen(r->label);
                snprintf(r->label + l, sizeof r->label - l, " | paper IN-100 %.1f%%",
                         paper[p].top1);
            }
    }
}

ClftStatus pdata_run_info(PlotRun *r, const char *dir)
{
    memset(r, 0, sizeof *r);
    snprintf(r->dir, sizeof r->dir, "%s", dir);
    size_t len = strlen(r->dir);
    while (len > 1 && r->dir[len - 1] == '/') r->dir[--len] = '\0';
    const char *base = strrchr(r->dir, '/');
    snprintf(r->name, sizeof r->name, "%s", base ? base + 1 : r->dir);
    char path[1100];
    snprintf(path, sizeof path, "%s/config.ini", r->dir);
    int rc = ini_parse(path, on_ini, r);
    if (rc > 0) {
        clft_set_error("%s:%d: malformed INI line", path, rc);
        return CLFT_ERR_FORMAT;
    }
    size_t k = 0;
    for (const char *p = r->name; *p && k + 1 < sizeof r->tag; p++)
        r->tag[k++] = (strchr("._-", *p) || (*p >= '0' && *p <= '9') || ((*p | 32) >= 'a' && (*p | 32) <= 'z')) ? *p : '_';
    r->tag[k] = '\0';
    snprintf(r->color, sizeof r->color, "%s", pdata_method_color(r->baseline, r->variant));
    double top1 = 0.0;
    int rank = 0;
    ClftStatus st = eval_top1(r->dir, &top1, &rank);
    if (st != CLFT_OK) return st;
    /* Legend: the method and seed when config.ini names them (short enough for two columns), else
     * the run's name; pdata_distinguish may add settings between the two. */
    if (r->baseline[0]) pdata_method_label(r->method, sizeof r->method, r->baseline, r->variant);
    if (rank)
        snprintf(r->score, sizeof r->score, " | %s top-1 %.1f%%", rank == 3 ? "linear" : "kNN",
                 top1);
    make_label(r, "");
    return CLFT_OK;
}

/* ---- scores.csv: the paper's motivating curves ---- */

ClftStatus pdata_read_table(PlotTable *t, const char *dir, const char *file)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    ClftStatus st = ptable_read(t, path);
    if (st == CLFT_OK && t->n_rows == 0) {
        clft_set_error("%s: no data rows", path);
        ptable_free(t);
        st = CLFT_ERR_FORMAT;
    }
    return st;
}

enum { SC_STEP, SC_PM, SC_PV, SC_NM, SC_NV, SC_QPM, SC_QPV, SC_QNM, SC_QNV, SC_N };

static void write_scores(FILE *f, double *const *v, int n, int w)
{
    double *s[SC_N]; /* smoothed copies, each (n) */
    for (int k = 0; k < SC_N; k++) {
        s[k] = xmalloc((size_t)n * sizeof(double));
        if (k == SC_STEP)
            memcpy(s[k], v[k], (size_t)n * sizeof(double));
        else
            smooth_series(v[k], s[k], n, w);
    }
    fprintf(f, "# step pos_mean pos_lo pos_hi neg_mean neg_var pre_pos_mean pre_lo pre_hi "
               "pre_neg_mean pre_neg_var (window %d)\n", w);
    for (int i = 0; i < n; i++) {
        double sd = sqrt(fmax(s[SC_PV][i], 0.0)), qsd = sqrt(fmax(s[SC_QPV][i], 0.0));
        fprintf(f, "%.9g %.9g %.9g %.9g %.9g %.9g %.9g %.9g %.9g %.9g %.9g\n", s[SC_STEP][i],
                s[SC_PM][i], s[SC_PM][i] - sd, s[SC_PM][i] + sd, s[SC_NM][i], s[SC_NV][i],
                s[SC_QPM][i], s[SC_QPM][i] - qsd, s[SC_QPM][i] + qsd, s[SC_QNM][i], s[SC_QNV][i]);
    }
    for (int k = 0; k < SC_N; k++) free(s[k]);
}

ClftStatus pdata_scores(PlotRun *r, int i, const char *tmp, int smooth)
{
    static const char *const names[SC_N] = {"step", "pos_mean", "pos_var", "neg_mean", "neg_var",
                                            "pre_pos_mean", "pre_pos_var", "pre_neg_mean",
                                            "pre_neg_var"};
    static const char *const need[] = {"step", "pos_mean", "pos_var", "neg_mean", "neg_var", NULL};
    PlotTable t;
    int c[SC_N];
    ClftStatus st = pdata_read_table(&t, r->dir, "scores.csv");
    if (st != CLFT_OK) return st;
    double *v[SC_N] = {0};
    st = ptable_require(&t, need, c);
    for (int k = 0; k < SC_N && st == CLFT_OK; k++) {
        c[k] = ptable_col(&t, names[k]);
        PtableNumKind kind = k == SC_STEP ? PTABLE_NUM_STEP
                             : k < SC_QPM ? PTABLE_NUM_REQUIRED
                                          : PTABLE_NUM_OPTIONAL;
        st = pdata_read_column(&t, c[k], kind, &v[k]);
    }
    if (st == CLFT_OK) {
        /* "before FT" curves only where they differ: without a variant they are the same values */
        for (int row = 0; row < t.n_rows; row++)
            for (int k = SC_QPM; k < SC_N; k++)
                r->has_pre_scores |= !isnan(v[k][row]) && v[k][row] != v[k - SC_QPM + 1][row];
        char name[64];
        snprintf(name, sizeof name, "scores_%d.dat", i);
        FILE *f = pdata_open(tmp, name);
        write_scores(f, v, t.n_rows, auto_window(smooth, t.n_rows));
        fclose(f);
    }
    for (int k = 0; k < SC_N; k++) free(v[k]);
    ptable_free(&t);
    return st;
}

/* ---- train.csv + kNN monitor ---- */

/* x = epochs completed: the k-th of n rows logged in epoch e sits at (e - e0) + (k + 1) / n. */
static void epoch_axis(const double *ep, double *x, int n, double e0)
{
    for (int i = 0; i < n;) {
        int j = i;
        while (j < n && ep[j] == ep[i]) j++;
        for (int k = i; k < j; k++) x[k] = (ep[i] - e0) + (double)(k - i + 1) / (j - i);
        i = j;
    }
}

static ClftStatus write_knn(PlotRun *r, int i, const char *tmp, double e0)
{
    char path[1100], name[64];
    snprintf(path, sizeof path, "%s/eval.csv", r->dir);
    snprintf(name, sizeof name, "knn_%d.dat", i);
    FILE *f = pdata_open(tmp, name);
    fprintf(f, "# epochs_completed knn_top1_percent\n");
    PlotTable t;
    ClftStatus st = ptable_read(&t, path);
    if (st == CLFT_ERR_IO) { /* no eval.csv: an empty series */
        fprintf(f, "NaN NaN\n");
        fclose(f);
        return CLFT_OK;
    }
    static const char *const need[] = {"protocol", "metric", "value", "epoch", NULL};
    int c[4];
    if (st == CLFT_OK) st = ptable_require(&t, need, c);
    for (int row = 0; st == CLFT_OK && row < t.n_rows; row++) {
        double v, e;
        if (strcmp(ptable_str(&t, row, c[0]), "knn_monitor") || strcmp(ptable_str(&t, row, c[1]), "top1"))
            continue;
        if ((st = ptable_num(&t, row, c[2], PTABLE_NUM_REQUIRED, &v)) != CLFT_OK) break;
        if ((st = ptable_num(&t, row, c[3], PTABLE_NUM_EPOCH, &e)) != CLFT_OK) break;
        fprintf(f, "%.9g %.9g\n", e - e0, v); /* e = epochs completed, e0 = first 0-based epoch */
        r->n_knn++;
    }
    if (r->n_knn == 0) fprintf(f, "NaN NaN\n"); /* gnuplot wants at least one line */
    fclose(f);
    ptable_free(&t);
    return st;
}

static void write_train(FILE *f, double *const *v, int n, int w)
{
    enum { EP, LR, LOSS, ACC };
    double *x = xmalloc((size_t)n * sizeof *x), *loss = xmalloc((size_t)n * sizeof *loss);
    double *acc = xmalloc((size_t)n * sizeof *acc); /* each (n) */
    double e0 = v[EP][0], amax = 0.0;
    for (int i = 0; i < n; i++) e0 = fmin(e0, v[EP][i]), amax = fmax(amax, v[ACC][i]);
    epoch_axis(v[EP], x, n, e0);
    smooth_series(v[LOSS], loss, n, w);
    smooth_series(v[ACC], acc, n, w);
    double scale = amax <= 1.0 ? 100.0 : 1.0; /* inst_acc as a fraction or already in percent */
    fprintf(f, "# epochs_completed loss inst_acc_percent lr (window %d)\n", w);
    for (int i = 0; i < n; i++)
        fprintf(f, "%.9g %.9g %.9g %.9g\n", x[i], loss[i], acc[i] * scale, v[LR][i]);
    free(x);
    free(loss);
    free(acc);
}

ClftStatus pdata_train(PlotRun *r, int i, const char *tmp, int smooth)
{
    static const char *const need[] = {"epoch", "lr", "loss", "inst_acc", "step", NULL};
    static const PtableNumKind kind[5] = {PTABLE_NUM_EPOCH, PTABLE_NUM_REQUIRED,
                                          PTABLE_NUM_REQUIRED, PTABLE_NUM_REQUIRED,
                                          PTABLE_NUM_STEP};
    PlotTable t;
    int c[5];
    ClftStatus st = pdata_read_table(&t, r->dir, "train.csv");
    if (st != CLFT_OK) return st;
    double *v[5] = {0}; /* epoch, lr, loss, inst_acc, step (checked, not drawn) */
    st = ptable_require(&t, need, c);
    for (int k = 0; k < 5 && st == CLFT_OK; k++)
        st = pdata_read_column(&t, c[k], kind[k], &v[k]);
    if (st == CLFT_OK) {
        char name[64];
        snprintf(name, sizeof name, "train_%d.dat", i);
        FILE *f = pdata_open(tmp, name);
        write_train(f, v, t.n_rows, auto_window(smooth, t.n_rows));
        fclose(f);
        double e0 = v[0][0];
        for (int row = 0; row < t.n_rows; row++) e0 = fmin(e0, v[0][row]);
        st = write_knn(r, i, tmp, e0);
    }
    for (int k = 0; k < 5; k++)
        free(v[k]);
    ptable_free(&t);
    return st;
}

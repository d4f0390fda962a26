/* plot_summary.c — results/summary.csv (baseline, variant, dataset, protocol, metric, n_seeds, mean,
 * std, ci95, ...) → the comparison chart's series: one per method, one x slot per
 * (dataset, protocol, metric), each baseline drawn beside its +FT run. */
#include "plots/plot_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ITEMS 64

typedef struct {
    const char *a, *b, *c; /* method: baseline, variant; group: dataset, protocol, metric */
} Key;

typedef struct {
    Key method[MAX_ITEMS], group[MAX_ITEMS];
    int n_methods, n_groups;
    double mean[MAX_ITEMS][MAX_ITEMS], ci[MAX_ITEMS][MAX_ITEMS]; /* (method, group) */
    double seeds_lo, seeds_hi;
} Cmp;

static int variant_rank(const char *v) { return !strcmp(v, "none") || !*v ? 0 : !strcmp(v, "ft") ? 1 : 2; }

static int by_method(const void *x, const void *y)
{
    const Key *p = x, *q = y;
    int c = strcmp(p->a, q->a);
    if (c) return c;
    int d = variant_rank(p->b) - variant_rank(q->b);
    return d ? d : strcmp(p->b, q->b);
}

static int find_key(const Key *keys, int n, Key k)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(keys[i].a, k.a) && !strcmp(keys[i].b, k.b) && !strcmp(keys[i].c ? keys[i].c : "", k.c ? k.c : ""))
            return i;
    return -1;
}

static ClftStatus add_key(Key *keys, int *n, Key k, const char *path)
{
    if (find_key(keys, *n, k) >= 0) return CLFT_OK;
    if (*n == MAX_ITEMS) {
        clft_set_error("%s: more than %d methods or result groups to draw", path, MAX_ITEMS);
        return CLFT_ERR_VALUE;
    }
    keys[(*n)++] = k;
    return CLFT_OK;
}

/* The chart compares methods: top-1 of the evaluated encoders. The floors (<protocol>_pixels,
 * <protocol>_random) and top-5 stay in summary.csv and RESULTS.md (looked at: with them the chart
 * had 12 crowded groups whose labels overlapped). */
static int charted(const PlotTable *t, int r, const int *c)
{
    const char *p = ptable_str(t, r, c[3]);
    size_t n = strlen(p);
    int floor_ = (n > 7 && !strcmp(p + n - 7, "_pixels")) || (n > 7 && !strcmp(p + n - 7, "_random"));
    return !floor_ && !strcmp(ptable_str(t, r, c[4]), "top1");
}

/* c: baseline, variant, dataset, protocol, metric, n_seeds, mean, ci95 */
static ClftStatus cmp_fill(Cmp *m, const PlotTable *t, const int *c)
{
    ClftStatus st = CLFT_OK;
    for (int r = 0; r < t->n_rows && st == CLFT_OK; r++) {
        if (!charted(t, r, c)) continue;
        Key mk = {ptable_str(t, r, c[0]), ptable_str(t, r, c[1]), NULL};
        Key gk = {ptable_str(t, r, c[2]), ptable_str(t, r, c[3]), ptable_str(t, r, c[4])};
        if ((st = add_key(m->method, &m->n_methods, mk, t->path)) == CLFT_OK)
            st = add_key(m->group, &m->n_groups, gk, t->path);
    }
    if (st != CLFT_OK) return st;
    qsort(m->method, (size_t)m->n_methods, sizeof m->method[0], by_method);
    for (int i = 0; i < MAX_ITEMS; i++)
        for (int j = 0; j < MAX_ITEMS; j++) m->mean[i][j] = m->ci[i][j] = NAN;
    m->seeds_lo = INFINITY, m->seeds_hi = -INFINITY;
    for (int r = 0; r < t->n_rows && st == CLFT_OK; r++) {
        if (!charted(t, r, c)) continue;
        Key mk = {ptable_str(t, r, c[0]), ptable_str(t, r, c[1]), NULL};
        Key gk = {ptable_str(t, r, c[2]), ptable_str(t, r, c[3]), ptable_str(t, r, c[4])};
        int i = find_key(m->method, m->n_methods, mk), j = find_key(m->group, m->n_groups, gk);
        double n_seeds, ci;
        if ((st = ptable_num(t, r, c[5], PTABLE_NUM_REQUIRED, &n_seeds)) != CLFT_OK) break;
        if ((st = ptable_num(t, r, c[6], PTABLE_NUM_REQUIRED, &m->mean[i][j])) != CLFT_OK) break;
        if ((st = ptable_num(t, r, c[7], PTABLE_NUM_OPTIONAL, &ci)) != CLFT_OK) break;
        m->ci[i][j] = isnan(ci) ? 0.0 : ci; /* one seed: no interval */
        m->seeds_lo = fmin(m->seeds_lo, n_seeds), m->seeds_hi = fmax(m->seeds_hi, n_seeds);
    }
    return st;
}

static const char *protocol_label(const char *p)
{
    static const char *const map[][2] = {{"knn", "kNN"}, {"linear", "linear probe"},
                                         {"semisup", "semi-supervised"}, {"longtail", "long-tailed"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(p, map[i][0])) return map[i][1];
    return p;
}

static void cmp_write_vars(const Cmp *m, FILE *f)
{
    char buf[256];
    int same_metric = 1, same_dataset = 1;
    for (int g = 1; g < m->n_groups; g++) {
        same_metric &= !strcmp(m->group[g].c, m->group[0].c);
        same_dataset &= !strcmp(m->group[g].a, m->group[0].a);
    }
    fprintf(f, "nmethods = %d\nngroups = %d\narray mlabel[%d]\narray mcolor[%d]\narray glabel[%d]\n",
            m->n_methods, m->n_groups, m->n_methods, m->n_methods, m->n_groups);
    for (int i = 0; i < m->n_methods; i++) {
        pdata_method_label(buf, sizeof buf, m->method[i].a, m->method[i].b);
        fprintf(f, "mlabel[%d] = ", i + 1), pdata_put_string(f, buf), fputc('\n', f);
        fprintf(f, "mcolor[%d] = \"%s\"\n", i + 1, pdata_method_color(m->method[i].a, m->method[i].b));
    }
    for (int g = 0; g < m->n_groups; g++) {
        snprintf(buf, sizeof buf, "%s%s%s%s%s", protocol_label(m->group[g].b), same_dataset ? "" : "\n",
                 same_dataset ? "" : m->group[g].a, same_metric ? "" : "\n", same_metric ? "" : m->group[g].c);
        fprintf(f, "glabel[%d] = ", g + 1), pdata_put_string(f, buf), fputc('\n', f);
    }
    if (same_metric && !strcmp(m->group[0].c, "top1"))
        snprintf(buf, sizeof buf, "top-1 accuracy (%%)");
    else
        snprintf(buf, sizeof buf, "%s (%%)", same_metric ? m->group[0].c : "score");
    fprintf(f, "ylab = "), pdata_put_string(f, buf), fputc('\n', f);
    if (m->seeds_lo == m->seeds_hi)
        snprintf(buf, sizeof buf, "mean, 95%% CI, %g seeds%s%s", m->seeds_lo,
                 same_dataset ? ", " : "", same_dataset ? m->group[0].a : "");
    else
        snprintf(buf, sizeof buf, "mean, 95%% CI, %g-%g seeds%s%s", m->seeds_lo, m->seeds_hi,
                 same_dataset ? ", " : "", same_dataset ? m->group[0].a : "");
    fprintf(f, "cmp_title = "), pdata_put_string(f, buf), fputc('\n', f);
}

static void cmp_write(const Cmp *m, const char *tmp)
{
    char name[64];
    for (int i = 0; i < m->n_methods; i++) {
        snprintf(name, sizeof name, "cmp_%d.dat", i + 1);
        FILE *f = pdata_open(tmp, name);
        /* slot of method i: baselines' groups separated by an extra half slot, so that each
         * baseline sits beside its own +FT; all slots span 0.7 of a group's width */
        double pos = 0.0, last = 0.0;
        for (int k = 0; k <= i; k++) pos += k == 0 ? 0.0 : strcmp(m->method[k].a, m->method[k - 1].a) ? 1.5 : 1.0;
        for (int k = 1; k < m->n_methods; k++) last += strcmp(m->method[k].a, m->method[k - 1].a) ? 1.5 : 1.0;
        double off = last > 0.0 ? (pos / last - 0.5) * 0.7 : 0.0;
        fprintf(f, "# x mean ci95\n");
        for (int g = 0; g < m->n_groups; g++)
            fprintf(f, "%.6g %.9g %.9g\n", g + 1 + off, m->mean[i][g], m->ci[i][g]);
        fclose(f);
    }
    FILE *f = pdata_open(tmp, "cmp_vars.gp");
    cmp_write_vars(m, f);
    fclose(f);
}

ClftStatus pdata_summary(const char *path, const char *tmp)
{
    static const char *const need[] = {"baseline", "variant", "dataset", "protocol", "metric",
                                       "n_seeds", "mean", "ci95", NULL};
    PlotTable t;
    ClftStatus st = ptable_read(&t, path);
    if (st != CLFT_OK) return st;
    int c[8];
    Cmp *m = xcalloc(1, sizeof *m);
    if (t.n_rows == 0) {
        clft_set_error("%s: no data rows", path);
        st = CLFT_ERR_FORMAT;
    }
    if (st == CLFT_OK) st = ptable_require(&t, need, c);
    if (st == CLFT_OK) st = cmp_fill(m, &t, c);
    if (st == CLFT_OK && m->n_groups == 0) {
        clft_set_error("%s: no top1 rows of an evaluated encoder to chart", path);
        st = CLFT_ERR_FORMAT;
    }
    if (st == CLFT_OK) cmp_write(m, tmp);
    free(m);
    ptable_free(&t);
    return st;
}

/* ---- the forest plot: each compared method's Δ vs its reference, with its 95% CI ----------------
 */

#define FOREST_PAPER_GAIN 2.1 /* PAPER.md §6: MoCo v2 + FT, IN-1K linear top-1, 67.5 → 69.6 */

typedef struct {
    Key arm[MAX_ITEMS];  /* baseline, variant, reference */
    const char *prot[2]; /* the main protocols drawn: knn, linear */
    double delta[2][MAX_ITEMS], ci[2][MAX_ITEMS];
    int n_arms;
} Forest;

static int forest_protocol(const char *p)
{
    return !strcmp(p, "knn") ? 0 : !strcmp(p, "linear") ? 1 : -1;
}

/* c: baseline, variant, protocol, metric, delta_vs_baseline, delta_ci95 */
static ClftStatus forest_fill(Forest *f, const PlotTable *t, const int *c)
{
    ClftStatus st = CLFT_OK;
    for (int p = 0; p < 2; p++)
        for (int a = 0; a < MAX_ITEMS; a++)
            f->delta[p][a] = f->ci[p][a] = NAN;
    for (int r = 0; r < t->n_rows && st == CLFT_OK; r++) {
        const int p = forest_protocol(ptable_str(t, r, c[2]));
        if (p < 0 || strcmp(ptable_str(t, r, c[3]), "top1") || !*ptable_str(t, r, c[4])) continue;
        Key k = {ptable_str(t, r, c[0]), ptable_str(t, r, c[1]), NULL};
        if ((st = add_key(f->arm, &f->n_arms, k, t->path)) != CLFT_OK) break;
        const int a = find_key(f->arm, f->n_arms, k);
        if ((st = ptable_num(t, r, c[4], PTABLE_NUM_OPTIONAL, &f->delta[p][a])) != CLFT_OK) break;
        st = ptable_num(t, r, c[5], PTABLE_NUM_OPTIONAL, &f->ci[p][a]);
    }
    return st;
}

static void forest_write(const Forest *f, const char *tmp)
{
    static const char *const names[2] = {"knn", "linear"};
    char buf[256], file[64];
    int show_paper = 0; /* the paper's gain is FT's: drawn only beside an FT arm */
    for (int a = 0; a < f->n_arms; a++)
        show_paper |= !strncmp(f->arm[a].b, "ft", 2);
    double lo = 0.0, hi = show_paper ? FOREST_PAPER_GAIN : 0.0;
    for (int p = 0; p < 2; p++) {
        snprintf(file, sizeof file, "forest_%s.dat", names[p]);
        FILE *d = pdata_open(tmp, file);
        fprintf(d, "# y delta ci95 (first method on top; a missing interval is drawn as 0)\n");
        for (int a = 0; a < f->n_arms; a++) {
            if (isnan(f->delta[p][a])) continue;
            const double ci = isnan(f->ci[p][a]) ? 0.0 : f->ci[p][a];
            fprintf(d, "%d %.9g %.9g\n", f->n_arms - a, f->delta[p][a], ci);
            lo = fmin(lo, f->delta[p][a] - ci), hi = fmax(hi, f->delta[p][a] + ci);
        }
        fclose(d);
    }
    FILE *v = pdata_open(tmp, "forest_vars.gp");
    fprintf(v, "narms = %d\narray alabel[%d]\narray acolor[%d]\n", f->n_arms, f->n_arms, f->n_arms);
    for (int a = 0; a < f->n_arms; a++) {
        pdata_method_label(buf, sizeof buf, f->arm[a].a, f->arm[a].b);
        fprintf(v, "alabel[%d] = ", a + 1), pdata_put_string(v, buf), fputc('\n', v);
        fprintf(v, "acolor[%d] = \"%s\"\n", a + 1, pdata_method_color(f->arm[a].a, f->arm[a].b));
    }
    fprintf(v, "xlo = %.9g\nxhi = %.9g\npaper_gain = %g\nshow_paper = %d\n", lo, hi,
            FOREST_PAPER_GAIN, show_paper);
    fclose(v);
}

ClftStatus pdata_forest(const char *path, const char *tmp, int *n_arms)
{
    static const char *const need[] = {"baseline",          "variant",    "protocol", "metric",
                                       "delta_vs_baseline", "delta_ci95", NULL};
    *n_arms = 0;
    PlotTable t;
    ClftStatus st = ptable_read(&t, path);
    if (st != CLFT_OK) return st;
    int c[6];
    /* a summary written before delta_ci95 existed has no intervals to draw: no forest plot */
    if (ptable_col(&t, "delta_ci95") < 0) {
        ptable_free(&t);
        return CLFT_OK;
    }
    Forest *f = xcalloc(1, sizeof *f);
    st = ptable_require(&t, need, c);
    if (st == CLFT_OK) st = forest_fill(f, &t, c);
    if (st == CLFT_OK && f->n_arms > 0) forest_write(f, tmp);
    if (st == CLFT_OK) *n_arms = f->n_arms;
    free(f);
    ptable_free(&t);
    return st;
}

/* plot_hist.c — score_hist.csv (epoch, kind, bin_lo, bin_hi, count) → the heat map boxes and the
 * overlaid per-epoch histogram outlines of the score-distribution figures (PAPER.md §3). */
#include "plots/plot_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { K_POS, K_NEG, K_PRE_POS, K_PRE_NEG, K_N };
static const char *const kind_names[K_N] = {"pos", "neg", "pre_pos", "pre_neg"};

typedef struct {
    int n;
    double *ep, *lo, *hi, *cnt; /* (n) each */
    int *kind;                  /* (n) */
    int *order;                 /* (n) rows sorted by (kind, epoch, bin_lo) */
    double *epochs;             /* (n_ep) distinct epochs, ascending */
    int n_ep;
} Hist;

static const Hist *sort_ctx; /* qsort has no user pointer in C11 */

static int by_kind_epoch_lo(const void *a, const void *b)
{
    const Hist *h = sort_ctx;
    int i = *(const int *)a, j = *(const int *)b;
    if (h->kind[i] != h->kind[j]) return h->kind[i] - h->kind[j];
    if (h->ep[i] != h->ep[j]) return h->ep[i] < h->ep[j] ? -1 : 1;
    return (h->lo[i] > h->lo[j]) - (h->lo[i] < h->lo[j]);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static ClftStatus check_row(const PlotTable *t, const Hist *h, int r, const int *c)
{
    const char *k = ptable_str(t, r, c[1]);
    if (h->kind[r] < 0) {
        clft_set_error("%s:%d: column 'kind': '%s' is not pos, neg, pre_pos or pre_neg", t->path,
                       t->line[r], k);
        return CLFT_ERR_VALUE;
    }
    if (!(h->hi[r] > h->lo[r]) || h->cnt[r] < 0.0) {
        clft_set_error("%s:%d: bin [%g, %g) with count %g is not a valid bin", t->path, t->line[r],
                       h->lo[r], h->hi[r], h->cnt[r]);
        return CLFT_ERR_VALUE;
    }
    return CLFT_OK;
}

static ClftStatus hist_load(Hist *h, const PlotTable *t)
{
    static const char *const need[] = {"epoch", "kind", "bin_lo", "bin_hi", "count", NULL};
    int c[5];
    memset(h, 0, sizeof *h);
    h->n = t->n_rows;
    ClftStatus st = ptable_require(t, need, c);
    if (st == CLFT_OK) st = pdata_read_column(t, c[0], PTABLE_NUM_EPOCH, &h->ep);
    if (st == CLFT_OK) st = pdata_read_column(t, c[2], PTABLE_NUM_REQUIRED, &h->lo);
    if (st == CLFT_OK) st = pdata_read_column(t, c[3], PTABLE_NUM_REQUIRED, &h->hi);
    if (st == CLFT_OK) st = pdata_read_column(t, c[4], PTABLE_NUM_REQUIRED, &h->cnt);
    if (st != CLFT_OK) return st;
    h->kind = xmalloc((size_t)h->n * sizeof *h->kind);
    h->order = xmalloc((size_t)h->n * sizeof *h->order);
    h->epochs = xmalloc((size_t)h->n * sizeof *h->epochs);
    for (int r = 0; r < h->n && st == CLFT_OK; r++) {
        h->kind[r] = -1;
        for (int k = 0; k < K_N; k++)
            if (!strcmp(ptable_str(t, r, c[1]), kind_names[k])) h->kind[r] = k;
        st = check_row(t, h, r, c);
        h->order[r] = r;
        h->epochs[r] = h->ep[r];
    }
    if (st != CLFT_OK) return st;
    sort_ctx = h;
    qsort(h->order, (size_t)h->n, sizeof *h->order, by_kind_epoch_lo);
    qsort(h->epochs, (size_t)h->n, sizeof *h->epochs, cmp_double);
    for (int r = 0; r < h->n; r++)
        if (h->n_ep == 0 || h->epochs[h->n_ep - 1] != h->epochs[r]) h->epochs[h->n_ep++] = h->epochs[r];
    return CLFT_OK;
}

static void hist_free(Hist *h)
{
    free(h->ep), free(h->lo), free(h->hi), free(h->cnt), free(h->kind), free(h->order), free(h->epochs);
}

/* Sorted-order positions [*a, *b) of the rows of (kind, epoch); empty when there are none. */
static void group(const Hist *h, int kind, double ep, int *a, int *b)
{
    int i = 0;
    while (i < h->n && (h->kind[h->order[i]] != kind || h->ep[h->order[i]] != ep)) i++;
    int j = i;
    while (j < h->n && h->kind[h->order[j]] == kind && h->ep[h->order[j]] == ep) j++;
    *a = i, *b = j;
}

/* Heat map boxes of one kind: x y xlo xhi ylo yhi density/peak-of-that-epoch. */
static void write_heat(const Hist *h, int kind, FILE *f, double *ylo, double *yhi)
{
    int any = 0;
    fprintf(f, "# x y xlo xhi ylo yhi density_over_epoch_peak (%s)\n", kind_names[kind]);
    for (int e = 0; e < h->n_ep; e++) {
        int a, b;
        group(h, kind, h->epochs[e], &a, &b);
        double peak = 0.0;
        for (int i = a; i < b; i++) {
            int r = h->order[i];
            peak = fmax(peak, h->cnt[r] / (h->hi[r] - h->lo[r]));
        }
        for (int i = a; i < b && peak > 0.0; i++) {
            int r = h->order[i];
            if (h->cnt[r] <= 0.0) continue;
            double ep = h->epochs[e], pad = 0.02 * (h->hi[r] - h->lo[r]);
            /* boxes overlap by 2% of a bin so that anti-aliasing leaves no white seams */
            fprintf(f, "%.9g %.9g %.9g %.9g %.9g %.9g %.6g\n", ep, 0.5 * (h->lo[r] + h->hi[r]),
                    ep - 0.5, ep + 0.51, h->lo[r], h->hi[r] + pad,
                    h->cnt[r] / (h->hi[r] - h->lo[r]) / peak);
            if (h->cnt[r] / (h->hi[r] - h->lo[r]) >= 0.01 * peak) /* range: skip the thinnest tails */
                *ylo = fmin(*ylo, h->lo[r]), *yhi = fmax(*yhi, h->hi[r]);
            any = 1;
        }
    }
    if (!any) fprintf(f, "NaN NaN NaN NaN NaN NaN NaN\n");
}

/* The probability density of (kind, epoch) as a step outline: (lo, d), (hi, d) per bin. */
static void write_outline(const Hist *h, int kind, double ep, FILE *f)
{
    int a, b;
    group(h, kind, ep, &a, &b);
    double total = 0.0;
    for (int i = a; i < b; i++) total += h->cnt[h->order[i]];
    fprintf(f, "# score density (%s, epoch %g)\n", kind_names[kind], ep);
    if (total <= 0.0) {
        fprintf(f, "NaN NaN\n");
        return;
    }
    fprintf(f, "%.9g 0\n", h->lo[h->order[a]]);
    for (int i = a; i < b; i++) {
        int r = h->order[i];
        double d = h->cnt[r] / total / (h->hi[r] - h->lo[r]);
        fprintf(f, "%.9g %.9g\n%.9g %.9g\n", h->lo[r], d, h->hi[r], d);
    }
    fprintf(f, "%.9g 0\n", h->hi[h->order[b - 1]]);
}

static ClftStatus pick_epochs(PlotRun *r, const Hist *h, const PlotOptions *opt, const char *path)
{
    r->n_sel = 0;
    for (int j = 0; j < opt->n_epochs; j++) {
        int found = 0;
        for (int e = 0; e < h->n_ep; e++) found |= h->epochs[e] == opt->epochs[j];
        if (!found) {
            clft_set_error("%s: no histogram for epoch %d (--epochs); it has epochs %g to %g", path,
                           opt->epochs[j], h->epochs[0], h->epochs[h->n_ep - 1]);
            return CLFT_ERR_VALUE;
        }
        r->sel[r->n_sel++] = opt->epochs[j];
    }
    if (opt->n_epochs) return CLFT_OK;
    const int want = h->n_ep < 4 ? h->n_ep : 4; /* first, two in between, last */
    for (int j = 0; j < want; j++) {
        int e = want == 1 ? 0 : (int)lround((double)j * (h->n_ep - 1) / (want - 1));
        r->sel[r->n_sel++] = (int)h->epochs[e];
    }
    return CLFT_OK;
}

static void write_hist_files(PlotRun *r, int i, const char *tmp, const Hist *h)
{
    char name[96];
    double lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY}; /* pos, neg */
    for (int k = 0; k < K_N; k++) {
        snprintf(name, sizeof name, "heat_%d_%s.dat", i, kind_names[k]);
        FILE *f = pdata_open(tmp, name);
        write_heat(h, k, f, &lo[k % 2], &hi[k % 2]);
        fclose(f);
        for (int j = 0; j < r->n_sel; j++) {
            snprintf(name, sizeof name, "hsel_%d_%s_%d.dat", i, kind_names[k], j + 1);
            f = pdata_open(tmp, name);
            write_outline(h, k, r->sel[j], f);
            fclose(f);
        }
    }
    r->pos_lo = isfinite(lo[0]) ? lo[0] : -1.0, r->pos_hi = isfinite(hi[0]) ? hi[0] : 1.0;
    r->neg_lo = isfinite(lo[1]) ? lo[1] : -1.0, r->neg_hi = isfinite(hi[1]) ? hi[1] : 1.0;
    r->ep_lo = h->epochs[0], r->ep_hi = h->epochs[h->n_ep - 1];
}

ClftStatus pdata_hist(PlotRun *r, int i, const char *tmp, const PlotOptions *opt)
{
    PlotTable t;
    ClftStatus st = pdata_read_table(&t, r->dir, "score_hist.csv");
    if (st != CLFT_OK) return st;
    Hist h;
    st = hist_load(&h, &t);
    if (st == CLFT_OK) st = pick_epochs(r, &h, opt, t.path);
    if (st == CLFT_OK) {
        for (int k = 0; k < h.n; k++) r->has_pre_hist |= h.kind[k] >= K_PRE_POS;
        write_hist_files(r, i, tmp, &h);
    }
    hist_free(&h);
    ptable_free(&t);
    return st;
}

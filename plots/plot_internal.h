/* plot_internal.h — shared between plot.c (driving gnuplot) and plot_data.c (turning CSVs into the
 * data files the .gp scripts read). Not part of the public API. */
#ifndef CLFT_PLOT_INTERNAL_H
#define CLFT_PLOT_INTERNAL_H

#include <stdio.h>

#include "plots/plot.h"
#include "plots/plot_csv.h"

#define PLOT_MAX_KEYS 96

typedef struct {
    char dir[1024];
    char name[256];     /* [run] name from config.ini, else the directory's base name */
    char tag[128];      /* name reduced to [A-Za-z0-9._-] for file names */
    char baseline[64];  /* [moco] baseline, "" when unknown */
    char variant[64];   /* [variant] name, "" when unknown */
    char seed[32];      /* [run] seed, "" when unknown */
    char label[400];    /* legend text: "MoCo v2 + FT, seed 1 | top-1 81.2%" (or the run name) */
    char method[128];   /* "MoCo v2 + FT" ("" when config.ini does not name the baseline) */
    char score[64];     /* " | top-1 81.2%", " | kNN top-1 80.1%" or "" */
    char cfg[PLOT_MAX_KEYS][96]; /* config.ini's "section.key=value" lines, bookkeeping aside */
    int n_cfg;
    char color[16];     /* "#rrggbb" */
    int has_pre_scores; /* scores.csv holds pre-transform statistics */
    int has_pre_hist;   /* score_hist.csv holds pre_pos / pre_neg rows */
    int n_knn;          /* kNN monitor points written */
    double pos_lo, pos_hi, neg_lo, neg_hi; /* score range with non-zero counts, per kind */
    double ep_lo, ep_hi;                   /* first and last epoch in score_hist.csv */
    int sel[PLOT_MAX_EPOCHS];              /* epochs drawn in the overlaid histograms */
    int n_sel;
} PlotRun;

/* Reads config.ini (optional) and eval.csv (optional) for name, method and legend label. */
ClftStatus pdata_run_info(PlotRun *r, const char *dir);
/* Runs of one method that differ in their configuration (a momentum sweep, FT started later, a
 * milder FT) get the settings that tell them apart in their legend labels ("MoCo v1, m 0.9, seed
 * 1"), and MoCo v1 runs of the momentum sweep the paper's IN-100 linear top-1 for that m
 * (PAPER.md §3). */
void pdata_distinguish(PlotRun *runs, int n);
/* scores.csv → TMP/scores_<i>.dat: step, pos mean, pos mean - std, + std, neg mean, neg var,
 * then the same five for the pre-transform statistics (NaN when absent). */
ClftStatus pdata_scores(PlotRun *r, int i, const char *tmp, int smooth);
/* train.csv + eval.csv → TMP/train_<i>.dat (epoch, loss, inst acc %, lr) and TMP/knn_<i>.dat. */
ClftStatus pdata_train(PlotRun *r, int i, const char *tmp, int smooth);
/* score_hist.csv → TMP/heat_<i>_<kind>.dat (boxes) and TMP/hsel_<i>_<kind>_<j>.dat (outlines). */
ClftStatus pdata_hist(PlotRun *r, int i, const char *tmp, const PlotOptions *opt);
/* summary.csv → TMP/cmp_<m>.dat and TMP/cmp_vars.gp for the comparison chart. */
ClftStatus pdata_summary(const char *path, const char *tmp);
/* summary.csv → TMP/forest_{knn,linear}.dat and TMP/forest_vars.gp: each compared method's top-1 Δ
 * vs its reference with the 95% CI (columns delta_vs_baseline, delta_ci95); *n_arms = 0 when the
 * summary compares nothing or predates delta_ci95 (then nothing is written). */
ClftStatus pdata_forest(const char *path, const char *tmp, int *n_arms);

/* The colour of a method, the same in every figure: MoCo v1 blues, v2 oranges; baseline light,
 * +FT dark; other variants and baselines from a fixed qualitative set. */
const char *pdata_method_color(const char *baseline, const char *variant);
/* "MoCo v2 + FT" from ("moco_v2", "ft"). */
void pdata_method_label(char *out, size_t cap, const char *baseline, const char *variant);
/* Writes `s` as a gnuplot double-quoted string literal. */
void pdata_put_string(FILE *f, const char *s);
/* Reads DIR/FILE; a table without data rows is CLFT_ERR_FORMAT. */
ClftStatus pdata_read_table(PlotTable *t, const char *dir, const char *file);
/* Numeric column `col` (-1: all NaN) of every row into a fresh (n_rows) array. */
ClftStatus pdata_read_column(const PlotTable *t, int col, PtableNumKind kind, double **out);
/* fopen of TMP/<name> for writing; dies with the path on failure (the temp dir is ours). */
FILE *pdata_open(const char *tmp, const char *name);

#endif

/* plot.h — the figures of clft (PAPER.md §3 and the comparison tables), drawn by gnuplot.
 *
 * Each figure is a pure function of the run directories' CSV files (DESIGN.md "Runs and files"):
 * plot_runs() reads the CSVs, writes the series that gnuplot needs (smoothed curves, ±1 std bands,
 * per-epoch histogram densities, legend labels) into a temporary directory, and then runs the
 * readable scripts plots/<figure>.gp on them as
 *     gnuplot -e "data='TMP'; out='FILE.tmp'; fmt='png'; plotdir='plots'; run=1" plots/<fig>.gp
 * Every image is rendered to a temporary name and renamed into place only when gnuplot succeeded,
 * so a failure never leaves an empty or partial image behind.
 *
 * Figures (at 300 dpi for PNG; sizes in inches for a two-column paper):
 *   score_curves.<fmt>        7.0 x 2.74  pos mean ± std, neg mean, neg variance vs iteration,
 *                                         all runs (2.06 + 0.17 per legend entry; 2.74 for 2
 *                                         runs + pre-FT)
 *   train_curves.<fmt>        7.0 x 4.37  loss, instance accuracy, learning rate, kNN top-1 vs
 *                                         epoch (4.03 + 0.17 per run in the legend; 4.37 for 2)
 *   score_heatmap_<run>.<fmt> 7.0 x 2.4   per-epoch pos/neg histograms as a heat map (x 4.4 with
 *                                         the pre-transform row, when a variant recorded it)
 *   score_hist_<run>.<fmt>    7.0 x 2.7   overlaid pos/neg histograms at chosen epochs (pre dashed)
 *   comparison.<fmt>          3.5 x 2.6   summary.csv means with 95% CI bars (7.0 wide for > 8)
 *   forest.<fmt>              7.0 x (1.3 + 0.22 per method)  each compared method's top-1 Δ vs
 *                                         its reference with its 95% CI, kNN and linear side by
 *                                         side, lines at 0 and at the paper's +2.1 (drawn when
 *                                         the summary compares methods)
 *
 * Conventions: `step` in scores.csv is the global iteration; train curves are drawn against epochs
 * completed (the k-th of n rows of epoch e at e - e0 + (k+1)/n, e0 the first epoch) and kNN monitor
 * rows (whose epoch is the number of epochs completed) at e - e0; inst_acc <= 1 everywhere is read
 * as a fraction and shown in percent.
 */
#ifndef CLFT_PLOT_H
#define CLFT_PLOT_H

#include "core/common.h"

typedef enum { PLOT_FORMAT_PNG, PLOT_FORMAT_PDF, PLOT_FORMAT_SVG } PlotFormat;

#define PLOT_MAX_EPOCHS 16
#define PLOT_MAX_RUNS 16
#define PLOT_DPI 300

typedef struct {
    const char *out_dir;    /* where the figures go (created if missing) */
    PlotFormat format;      /* PNG by default */
    int smooth;             /* moving-average window in rows; 0 = automatic (~100 points), 1 = off */
    int epochs[PLOT_MAX_EPOCHS]; /* epochs for the overlaid histograms; n_epochs = 0 picks up to 4 */
    int n_epochs;
    const char *summary;    /* results/summary.csv for the comparison chart; NULL = no chart */
    const char *scripts_dir; /* directory of the .gp scripts; NULL = plot_scripts_dir() */
    int quiet;              /* 0: print each figure written */
} PlotOptions;

/* Draws every figure for runs[0..n_runs) into opt->out_dir. On failure returns a non-OK status with
 * a one-line reason (file and problem) in clft_last_error(); no partial image is left. */
ClftStatus plot_runs(const char *const *runs, int n_runs, const PlotOptions *opt);

/* Finds the directory of the .gp scripts: $CLFT_PLOTS_DIR, else <executable dir>/../plots, else
 * CLFT_SOURCE_DIR/plots. CLFT_ERR_IO when none holds style.gp. */
ClftStatus plot_scripts_dir(char *out, size_t cap);

/* The file-name extension of a format ("png", "pdf", "svg"). */
const char *plot_format_ext(PlotFormat f);

#endif

/* results.h — what `clft reproduce` and `clft check` make of a matrix of runs (issue 8):
 * results/summary.csv, the generated sections of RESULTS.md, and the check of a summary against
 * accepted bands (results/expected/<preset>.csv).
 *
 * summary.csv columns: baseline, variant, dataset, protocol, metric, n_seeds, mean, std, ci95,
 * delta_vs_baseline, delta_ci95, p_value, p_holm. One row per (arm, dataset, protocol, metric)
 * found in the runs' eval.csv files, in matrix order. Per run, eval.csv rows on split "train" are
 * ignored, and of the rows for one (dataset, protocol, metric) the one with the largest epoch (the
 * last such in the file on ties) is the run's value. mean / std / ci95 are over the seeds
 * (reproduce/stats.h: sample std, Student-t half-width). delta_vs_baseline = mean over seeds of
 * (arm − reference arm), delta_ci95 the half-width of its 95% Student-t interval and p_value the
 * two-sided paired t-test, all over the seeds present in both arms. p_holm is p_value after Holm's
 * adjustment (reproduce/stats.h) across the family of arms compared with the same reference row
 * (same baseline, reference arm, dataset, protocol and metric): a preset that sets several arms
 * against one baseline reports how likely any of them is a false "difference". For the reference
 * (baseline) rows themselves these four cells are EMPTY (not applicable); "nan" means undefined
 * (e.g. n < 2).
 * Besides the evaluation, each run with an evaluation contributes its pre-training statistics over
 * its last epoch, as protocol "pretrain" under the dataset of its first eval.csv row: metric "loss"
 * (mean InfoNCE loss of train.csv's rows of that epoch), "pos_score" and "neg_score" (means of
 * scores.csv's pre_pos_mean and pre_neg_mean over that epoch's steps: the encoder's own q·k and
 * q·queue, before any variant's transformation), and the early collapse of the negative scores
 * (issue 18; results_collapse below): "collapse_peak", "collapse_iters", "collapse_recovered".
 * They are diagnostics of the training, not of an encoder's quality: RESULTS.md's tables leave
 * them out (but for a collapse table); `clft check` can gate on them (issue 20: at smoke scale a
 * frozen key encoder or a loader feeding the same view twice barely moves kNN but moves these by
 * many seed deviations; results/expected/README.md).
 *
 * RESULTS.md: each preset owns the text between the lines
 *     <!-- clft:begin preset=NAME -->  and  <!-- clft:end preset=NAME -->
 * results_md_replace() rewrites exactly that span (markers included) and leaves every other byte of
 * the file as it was; a file without the markers gets the section appended.
 *
 * Expected bands: CSV with columns baseline, variant, protocol, metric, lo, hi: the summary's mean
 * for that (baseline, variant, protocol, metric) — every dataset's row, if several — must satisfy
 * lo <= mean <= hi. A row missing from the summary fails.
 */
#ifndef CLFT_REPRODUCE_RESULTS_H
#define CLFT_REPRODUCE_RESULTS_H

#include <stdio.h>

#include "core/common.h"
#include "core/io/csv.h"

#define RESULTS_MAX_SEEDS 64
#define RESULTS_NAME 64

/* One run of the matrix: which arm (baseline, label), its reference arm's label (NULL: it is one),
 * the seed, and its directory. */
typedef struct {
    const char *baseline, *label, *reference;
    int seed;
    const char *dir;
} ResultsRun;

/* One summary row, with the per-seed values behind it. */
typedef struct {
    char baseline[RESULTS_NAME], variant[RESULTS_NAME], dataset[RESULTS_NAME];
    char protocol[RESULTS_NAME], metric[RESULTS_NAME];
    char reference[RESULTS_NAME]; /* "" for reference rows */
    int n;                        /* seeds with a value */
    int seeds[RESULTS_MAX_SEEDS]; /* (n) */
    double values[RESULTS_MAX_SEEDS]; /* (n) */
    double mean, std, ci95;
    int n_paired;                 /* seeds present in both this arm and its reference */
    double delta, delta_ci95, p_value; /* NaN for reference rows */
    double p_holm; /* p_value, Holm-adjusted over its family; NaN for reference rows */
} ResultsRow;

typedef struct {
    ResultsRow *rows;
    int n, cap;
    int n_runs_missing; /* runs with no usable eval.csv row */
} ResultsSummary;

/* The early collapse of the encoder's negative scores, from a run's scores.csv (columns epoch,
 * step, pre_neg_mean: the encoder's own mean q·queue, before any variant). FT runs at mini scale
 * show it: the mean negative cosine jumps towards 1 in the first few hundred iterations (every
 * query alike every key) and takes thousands to come back. A variant that starts late
 * (variant.start_epoch) is measured from its start: the epoch looked at is the first one logged
 * at or after from_epoch (0: the first epoch). Of the rows in step order:
 *   start_step = the last step logged before that epoch (0 for the first epoch);
 *   peak       = the largest pre_neg_mean over the rows of that epoch;
 *   back_step  = the step of the first row after the peak's with pre_neg_mean < below (0 when
 *                the peak itself is below: no collapse), or the last row's step when none is (a
 *                lower bound: the run ended collapsed); recovered = 0 then, else 1.
 * The summary's collapse_iters is back_step − start_step (0 without a collapse): the iterations
 * from the variant's start. An error naming the file when a column is missing, a cell is not a
 * number, or it has no rows. */
#define RESULTS_COLLAPSE_BELOW 0.1
typedef struct {
    double peak, peak_step, start_step, back_step;
    int recovered;
} ResultsCollapse;
ClftStatus results_collapse(const CsvTable *scores, double below, double from_epoch,
                            ResultsCollapse *c);

/* Reads every run's eval.csv and computes the summary. A missing eval.csv counts in
 * n_runs_missing; an unreadable or malformed one is an error naming the file. */
ClftStatus results_summarize(const ResultsRun *runs, int n_runs, ResultsSummary *s);
void results_summary_free(ResultsSummary *s);
/* Writes summary.csv atomically (temp + rename). */
ClftStatus results_write_summary(const ResultsSummary *s, const char *path);

/* What the generated RESULTS.md section says about how the numbers were made. */
typedef struct {
    const char *preset, *about, *data, *command;
    int n_seeds, n_runs, n_skipped, n_failed;
    double wall_s;     /* this invocation */
    double compute_s;  /* pre-training time summed over runs (train.csv elapsed_s); < 0 unknown */
    const char *machine; /* cores, CPU model, BLAS core (results_machine) */
    const char *commit, *date;
    const char *summary_path;
    const char *figures[16]; /* links, NULL-terminated */
} ResultsContext;

/* "N cores, <CPU model from /proc/cpuinfo>, OpenBLAS core <blas>" into out. */
void results_machine(char *out, size_t cap, const char *blas_core);
/* The generated section (markers included) as malloc'ed markdown; free() it. */
char *results_md_section(const ResultsSummary *s, const ResultsContext *ctx);
/* Replaces preset's section in `text` (or appends it); returns malloc'ed text. */
char *results_md_splice(const char *text, const char *preset, const char *section);
/* results_md_splice on the file at `path` (missing = empty), written atomically. */
ClftStatus results_md_replace(const char *path, const char *preset, const char *section);

/* Compares summary_path against expected_path, printing one PASS/FAIL line per expected row to
 * `out`. Returns the number of failures in *n_fail (a mean of "nan" fails); a non-OK status, naming
 * the file (and row), when a file cannot be read, lacks a column, has a mean that is not a number,
 * or has a band that is not a finite interval lo <= hi. */
ClftStatus results_check(const char *summary_path, const char *expected_path, FILE *out,
                         int *n_fail);

/* How results_derive_expected turns measured summaries into bands (results/expected/README.md
 * says which k_std, abs_tol and metrics each preset uses, and why). */
typedef struct {
    double k_std;        /* seed standard deviations on either side of each summary's mean */
    double abs_tol;      /* added on both sides of the envelope, in the metric's units */
    const char *metric_tols; /* "METRIC=T[,METRIC=T...]": abs_tol T for these metrics instead
                                (units differ: percentage points, a loss, a cosine); NULL: none */
    const char *metrics; /* comma-separated metric names to write bands for; NULL: all */
} ResultsBandRule;

#define RESULTS_MAX_SUMMARIES 32

/* Writes expected bands from n_summaries measured summaries (e.g. one per BLAS kernel set): for
 * every (baseline, variant, protocol, metric) whose metric is in rule->metrics,
 *     lo = min over summaries and datasets of (mean − k_std · std) − abs_tol,
 *     hi = max over summaries and datasets of (mean + k_std · std) + abs_tol
 * (std 0 when nan, i.e. one seed; abs_tol the metric's own from metric_tols if it has one).
 * One summary gives the old [mean − h, mean + h], h = k_std · std + abs_tol. Every summary must hold every band's row and a finite mean there,
 * else an error naming the file: a band from fewer measurements than named would be too narrow. */
ClftStatus results_derive_expected(const char *const *summary_paths, int n_summaries,
                                   const char *expected_path, const ResultsBandRule *rule);

#endif

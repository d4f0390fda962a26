/* test_plots.c — the figures (plots/plot.h): every figure is drawn from the committed fixture runs
 * (tests/fixtures/plots, written by tests/make_plot_fixtures.py) as a valid PNG of the documented
 * pixel size; the data gnuplot reads holds the hand-computed values (±1 std band, smoothing, epoch
 * axis, histogram densities); bad input (malformed CSV, missing file, failing script, no gnuplot)
 * fails with a message naming the file and leaves no image behind. */
#include "tests/test_util.h"

#include <dirent.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/common.h"
#include "plots/plot.h"
#include "plots/plot_csv.h"
#include "plots/plot_internal.h"

static const char *const two_runs[] = {"tests/fixtures/plots/moco_v2_base",
                                       "tests/fixtures/plots/moco_v2_ft"};

static void write_file(const char *dir, const char *name, const char *text)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (!f) fail_msg("cannot write %s", p);
    fputs(text, f);
    fclose(f);
}

static void rm_rf(const char *dir)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fail_msg("cannot remove %s", dir);
}

/* Number of directory entries other than . and .. (0 when the directory does not exist). */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

/* A PNG: the 8-byte signature, then the IHDR chunk with big-endian width and height. */
static void assert_png(const char *dir, const char *name, uint32_t width, uint32_t height)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "rb");
    if (!f) fail_msg("figure %s was not written", p);
    unsigned char h[24];
    size_t got = fread(h, 1, sizeof h, f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    assert_int_equal(got, sizeof h);
    assert_memory_equal(h, sig, 8);
    assert_memory_equal(h + 12, "IHDR", 4);
    uint32_t w = (uint32_t)h[16] << 24 | (uint32_t)h[17] << 16 | (uint32_t)h[18] << 8 | h[19];
    uint32_t ht = (uint32_t)h[20] << 24 | (uint32_t)h[21] << 16 | (uint32_t)h[22] << 8 | h[23];
    if (w != width || ht != height) fail_msg("%s is %ux%u, expected %ux%u", name, w, ht, width, height);
    if (size < 20000) fail_msg("%s is only %ld bytes: an empty figure?", name, size);
}

/* Sizes in inches from plot.h, at 300 dpi: 7.0 in → 2100 px, 2.74 in → 822 px, and so on. */
static void test_every_figure_is_a_png_of_the_documented_size(void **state)
{
    (void)state;
    char out[256];
    make_temp_dir(out, sizeof out);
    PlotOptions o = {.out_dir = out, .summary = "tests/fixtures/plots/summary.csv", .quiet = 1};
    if (plot_runs(two_runs, 2, &o) != CLFT_OK) fail_msg("%s", clft_last_error());
    assert_png(out, "score_curves.png", 2100, 822);
    assert_png(out, "train_curves.png", 2100, 1311);
    assert_png(out, "score_heatmap_moco_v2_base.png", 2100, 720);  /* no pre-FT row */
    assert_png(out, "score_heatmap_moco_v2_ft.png", 2100, 1320);   /* with the pre-FT row */
    assert_png(out, "score_hist_moco_v2_base.png", 2100, 810);
    assert_png(out, "score_hist_moco_v2_ft.png", 2100, 810);
    assert_png(out, "comparison.png", 2100, 780); /* 4 methods x 3 protocols > 8: full width */
    assert_int_equal(count_entries(out), 7);      /* and no temporary left beside them */
    rm_rf(out);
}

/* The forest plot, drawn when the summary holds delta_ci95: 7.0 x (1.3 + 0.22 per method) in. */
static void test_forest_plot(void **state)
{
    (void)state;
    char out[256], sum[400];
    make_temp_dir(out, sizeof out);
    snprintf(sum, sizeof sum, "%s/summary.csv", out);
    char fig[300];
    snprintf(fig, sizeof fig, "%s/figs", out);
    write_file(out, "summary.csv",
               "baseline,variant,dataset,protocol,metric,n_seeds,mean,std,ci95,delta_vs_baseline,"
               "delta_ci95,p_value,p_holm\n"
               "moco_v2,none,fashion-mnist,knn,top1,3,83.8,0.1,0.2,,,,\n"
               "moco_v2,none,fashion-mnist,linear,top1,3,86,0.4,1,,,,\n"
               "moco_v2,ft,fashion-mnist,knn,top1,3,81.7,0.6,1.4,-2.11,1.34,0.02,0.04\n"
               "moco_v2,ft,fashion-mnist,linear,top1,3,85,0.2,0.5,-1.01,1.4,0.1,0.1\n"
               "moco_v2,ft_pos,fashion-mnist,knn,top1,3,82.7,0.6,1.4,-1.1,0.9,0.02,0.04\n"
               "moco_v2,ft_pos,fashion-mnist,linear,top1,3,85.6,0.2,0.5,-0.4,nan,nan,nan\n");
    PlotOptions o = {.out_dir = fig, .summary = sum, .quiet = 1};
    if (plot_runs(two_runs, 2, &o) != CLFT_OK) fail_msg("%s", clft_last_error());
    assert_png(fig, "forest.png", 2100, 522); /* 2 methods: 1.74 in */
    /* the paper's +2.1 is FT's gain: drawn beside FT arms, not beside a precision comparison */
    for (int ft = 0; ft < 2; ft++) {
        char text[512], tmp[300], vars[340], line[128];
        snprintf(text, sizeof text,
                 "baseline,variant,dataset,protocol,metric,n_seeds,mean,std,ci95,"
                 "delta_vs_baseline,delta_ci95,p_value,p_holm\n"
                 "moco_v2,%s,fashion-mnist,knn,top1,3,81.1,0.4,1,0.04,0.57,0.8,0.8\n",
                 ft ? "ft" : "bf16");
        write_file(out, "summary.csv", text);
        snprintf(tmp, sizeof tmp, "%s/data%d", out, ft);
        assert_int_equal(mkdir(tmp, 0755), 0);
        int n = 0;
        assert_int_equal(pdata_forest(sum, tmp, &n), CLFT_OK);
        assert_int_equal(n, 1);
        snprintf(vars, sizeof vars, "%s/forest_vars.gp", tmp);
        FILE *f = fopen(vars, "r");
        assert_non_null(f);
        int show = -1;
        while (fgets(line, sizeof line, f))
            sscanf(line, "show_paper = %d", &show);
        fclose(f);
        assert_int_equal(show, ft);
    }
    rm_rf(out);
}

/* Runs of one method told apart by what differs in their config.ini: the momentum sweep, with the
 * paper's IN-100 numbers for MoCo v1 (PAPER.md §3); a setting all share is not shown. */
static void test_labels_tell_runs_apart(void **state)
{
    (void)state;
    char root[256], dir[3][400];
    make_temp_dir(root, sizeof root);
    static const char *const m[3] = {"0.9", "0.99", "0.999"};
    PlotRun runs[4];
    for (int i = 0; i < 3; i++) {
        snprintf(dir[i], sizeof dir[i], "%s/m%d", root, i);
        mkdir(dir[i], 0755);
        char ini[512];
        snprintf(ini, sizeof ini,
                 "[run]\nseed = 1\nthreads = %d\n[moco]\nbaseline = moco_v1\nK = 4096\nm = %s\n"
                 "[variant]\nname = none\n",
                 i + 1, m[i]);
        write_file(dir[i], "config.ini", ini);
        assert_int_equal(pdata_run_info(&runs[i], dir[i]), CLFT_OK);
    }
    /* a MoCo v2 run beside them is another method: its label stays as it was */
    write_file(dir[0], "config.ini", "[run]\nseed = 2\n[moco]\nbaseline = moco_v2\nm = 0.5\n");
    assert_int_equal(pdata_run_info(&runs[3], dir[0]), CLFT_OK);
    pdata_distinguish(runs, 4);
    assert_string_equal(runs[0].label, "MoCo v1, m 0.9, seed 1 | paper IN-100 46.5%");
    assert_string_equal(runs[1].label, "MoCo v1, m 0.99, seed 1 | paper IN-100 56.2%");
    assert_string_equal(runs[2].label, "MoCo v1, m 0.999, seed 1 | paper IN-100 53.1%");
    assert_string_equal(runs[3].label, "MoCo v2, seed 2");
    rm_rf(root);
}

/* A run of 3 epochs (0..2) — the mini preset's length: the heat map's epoch axis needs a tic step
 * below 1 (once an integer division that gave 0, and gnuplot stopped with "undefined value"). */
static void test_three_epoch_run_draws_every_figure(void **state)
{
    (void)state;
    char out[256], run[300], cmd[2048];
    make_temp_dir(out, sizeof out);
    snprintf(run, sizeof run, "%s/moco_v2_ft", out);
    const char *src = "tests/fixtures/plots/moco_v2_ft";
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s' && cp %s/config.ini '%s' && for f in train scores score_hist; do "
             "awk -F, 'NR == 1 || $1 <= 2' %s/$f.csv > '%s'/$f.csv || exit 1; done",
             run, src, run, src, run);
    if (system(cmd) != 0) fail_msg("cannot make the 3-epoch run in %s", run);
    const char *runs[] = {run};
    char figs[400];
    snprintf(figs, sizeof figs, "%s/figs", out);
    PlotOptions o = {.out_dir = figs, .quiet = 1};
    if (plot_runs(runs, 1, &o) != CLFT_OK) fail_msg("%s", clft_last_error());
    assert_png(figs, "score_heatmap_moco_v2_ft.png", 2100, 1320);
    assert_png(figs, "score_hist_moco_v2_ft.png", 2100, 810);
    assert_png(figs, "train_curves.png", 2100, 1260); /* no eval.csv: no kNN-monitor panel */
    rm_rf(out);
}

static void assert_starts_with(const char *dir, const char *name, const char *magic)
{
    char p[1200], head[16] = {0};
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "rb");
    if (!f) fail_msg("figure %s was not written", p);
    size_t got = fread(head, 1, strlen(magic), f);
    fclose(f);
    assert_int_equal(got, strlen(magic));
    assert_memory_equal(head, magic, strlen(magic));
}

static void test_pdf_and_svg_on_request(void **state)
{
    (void)state;
    char out[256];
    make_temp_dir(out, sizeof out);
    PlotOptions o = {.out_dir = out, .format = PLOT_FORMAT_PDF, .quiet = 1};
    if (plot_runs(two_runs + 1, 1, &o) != CLFT_OK) fail_msg("%s", clft_last_error());
    assert_starts_with(out, "score_curves.pdf", "%PDF");
    o.format = PLOT_FORMAT_SVG;
    if (plot_runs(two_runs + 1, 1, &o) != CLFT_OK) fail_msg("%s", clft_last_error());
    assert_starts_with(out, "score_heatmap_moco_v2_ft.svg", "<?xml");
    rm_rf(out);
}

/* Reads a whitespace-separated data file written for gnuplot into rows of up to 11 numbers. */
static int read_dat(const char *dir, const char *name, double rows[][11], int max_rows)
{
    char p[1200], line[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "r");
    if (!f) fail_msg("data file %s missing", p);
    int n = 0;
    while (n < max_rows && fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        char *s = line, *end;
        for (int c = 0; c < 11; c++, s = end) {
            rows[n][c] = strtod(s, &end);
            if (end == s) break;
        }
        n++;
    }
    fclose(f);
    return n;
}

/* pos band = mean ± sqrt(var); a window of 3 averages the neighbours (2 at the ends). */
static void test_scores_band_and_smoothing(void **state)
{
    (void)state;
    char run[256], tmp[256];
    make_temp_dir(run, sizeof run);
    make_temp_dir(tmp, sizeof tmp);
    write_file(run, "scores.csv", "epoch,step,pos_mean,pos_var,neg_mean,neg_var\n"
                                  "1,10,0.5,0.04,0.0,0.01\n1,20,0.6,0.09,0.1,0.02\n"
                                  "2,30,0.7,0.01,0.2,0.03\n");
    PlotRun r;
    assert_int_equal(pdata_run_info(&r, run), CLFT_OK);
    assert_int_equal(pdata_scores(&r, 1, tmp, 1), CLFT_OK);
    double d[8][11];
    assert_int_equal(read_dat(tmp, "scores_1.dat", d, 8), 3);
    const double lo[3] = {0.3, 0.3, 0.6}, hi[3] = {0.7, 0.9, 0.8};
    for (int i = 0; i < 3; i++) {
        assert_true(fabs(d[i][2] - lo[i]) < 1e-9 && fabs(d[i][3] - hi[i]) < 1e-9);
        assert_true(isnan(d[i][6])); /* no pre-transform columns: NaN, and has_pre_scores 0 */
    }
    assert_int_equal(r.has_pre_scores, 0);
    assert_int_equal(pdata_scores(&r, 2, tmp, 3), CLFT_OK);
    assert_int_equal(read_dat(tmp, "scores_2.dat", d, 8), 3);
    assert_true(fabs(d[0][1] - 0.55) < 1e-9);                          /* (0.5 + 0.6) / 2 */
    assert_true(fabs(d[0][3] - (0.55 + sqrt(0.065))) < 1e-9);          /* var (0.04 + 0.09) / 2 */
    assert_true(fabs(d[1][2] - (0.6 - sqrt(0.14 / 3.0))) < 1e-9);      /* var mean of all three */
    assert_true(fabs(d[2][5] - 0.025) < 1e-9);                         /* neg var (0.02 + 0.03) / 2 */
    /* pre-transform columns equal to the post ones (no variant): no "before FT" curve; one
     * differing value: there is one */
    const char *head = "epoch,step,pos_mean,pos_var,neg_mean,neg_var,pre_pos_mean,pre_pos_var,"
                       "pre_neg_mean,pre_neg_var\n";
    char text[512];
    for (int differs = 0; differs < 2; differs++) {
        snprintf(text, sizeof text,
                 "%s1,10,0.5,0.04,0.0,0.01,0.5,0.04,0.0,0.01\n"
                 "1,20,0.6,0.09,0.1,0.02,0.6,0.09,%s,0.02\n",
                 head, differs ? "0.3" : "0.1");
        write_file(run, "scores.csv", text);
        assert_int_equal(pdata_run_info(&r, run), CLFT_OK);
        assert_int_equal(pdata_scores(&r, 3, tmp, 1), CLFT_OK);
        assert_int_equal(r.has_pre_scores, differs);
    }
    rm_rf(run);
    rm_rf(tmp);
}

/* Two rows per epoch sit at 0.5 and 1.0 epochs completed; inst_acc 0.5 → 50%; kNN at epoch 2 → 2. */
static void test_train_epoch_axis_and_knn(void **state)
{
    (void)state;
    char run[256], tmp[256];
    make_temp_dir(run, sizeof run);
    make_temp_dir(tmp, sizeof tmp);
    write_file(run, "train.csv", "epoch,step,lr,loss,inst_acc,img_per_s,elapsed_s\n"
                                 "1,5,0.1,9,0.25,1,1\n1,10,0.1,8,0.5,1,2\n2,15,0.05,7,0.5,1,3\n"
                                 "2,20,0.05,6,0.75,1,4\n");
    write_file(run, "eval.csv", "protocol,dataset,split,metric,value,epoch\n"
                                "knn_monitor,fm,test,top1,40.5,2\nknn_monitor,fm,test,top5,90,2\n"
                                "knn_monitor,fm,test,top1,55,3\nknn,fm,test,top1,61.25,3\n");
    PlotRun r;
    assert_int_equal(pdata_run_info(&r, run), CLFT_OK);
    assert_string_equal(r.label + strlen(r.name), " | kNN top-1 61.2%"); /* knn beats the monitor */
    assert_int_equal(pdata_train(&r, 1, tmp, 1), CLFT_OK);
    double d[8][11];
    assert_int_equal(read_dat(tmp, "train_1.dat", d, 8), 4);
    const double x[4] = {0.5, 1.0, 1.5, 2.0}, acc[4] = {25, 50, 50, 75};
    for (int i = 0; i < 4; i++) assert_true(fabs(d[i][0] - x[i]) < 1e-12 && fabs(d[i][2] - acc[i]) < 1e-9);
    assert_int_equal(read_dat(tmp, "knn_1.dat", d, 8), 2);
    assert_int_equal(r.n_knn, 2);
    assert_true(d[0][0] == 1.0 && d[0][1] == 40.5 && d[1][0] == 2.0 && d[1][1] == 55.0);
    rm_rf(run);
    rm_rf(tmp);
}

/* Bins [0, 0.5) × 1 and [0.5, 1) × 3: density 0.5 and 1.5; the heat map scales to the peak. */
static void test_hist_densities(void **state)
{
    (void)state;
    char run[256], tmp[256];
    make_temp_dir(run, sizeof run);
    make_temp_dir(tmp, sizeof tmp);
    write_file(run, "score_hist.csv", "epoch,kind,bin_lo,bin_hi,count\n"
                                      "3,pos,0.5,1,3\n3,pos,0,0.5,1\n3,neg,-1,1,8\n"
                                      "3,pre_pos,0,1,2\n");
    PlotRun r;
    PlotOptions o = {.out_dir = tmp};
    assert_int_equal(pdata_run_info(&r, run), CLFT_OK);
    assert_int_equal(pdata_hist(&r, 1, tmp, &o), CLFT_OK);
    assert_int_equal(r.has_pre_hist, 1);
    assert_int_equal(r.n_sel, 1);
    assert_int_equal(r.sel[0], 3);
    double d[16][11];
    assert_int_equal(read_dat(tmp, "hsel_1_pos_1.dat", d, 16), 6); /* sorted by bin_lo */
    const double want[6][2] = {{0, 0}, {0, 0.5}, {0.5, 0.5}, {0.5, 1.5}, {1, 1.5}, {1, 0}};
    for (int i = 0; i < 6; i++) assert_true(fabs(d[i][0] - want[i][0]) < 1e-12 && fabs(d[i][1] - want[i][1]) < 1e-12);
    assert_int_equal(read_dat(tmp, "heat_1_pos.dat", d, 16), 2);
    assert_true(fabs(d[0][6] - 1.0 / 3.0) < 1e-6 && fabs(d[1][6] - 1.0) < 1e-6);
    assert_true(r.pos_lo == 0.0 && r.pos_hi == 1.0 && r.neg_lo == -1.0 && r.neg_hi == 1.0);
    o.epochs[0] = 4;
    o.n_epochs = 1;
    assert_int_not_equal(pdata_hist(&r, 1, tmp, &o), CLFT_OK);
    assert_non_null(strstr(clft_last_error(), "no histogram for epoch 4"));
    rm_rf(run);
    rm_rf(tmp);
}

/* Each malformed CSV gives its file, line and column in one message. */
static void test_csv_reader_errors(void **state)
{
    (void)state;
    char dir[256], p[400];
    make_temp_dir(dir, sizeof dir);
    PlotTable t;
    snprintf(p, sizeof p, "%s/x.csv", dir);
    write_file(dir, "x.csv", "a,b,c\n1,\"two, quoted\",3\n\n4,5\n");
    assert_int_equal(ptable_read(&t, p), CLFT_ERR_FORMAT);
    assert_non_null(strstr(clft_last_error(), "x.csv:4: row has 2 fields, header has 3"));
    write_file(dir, "x.csv", "a,b,c\n1,\"two, quoted\",3\n\n4,5,x\n");
    assert_int_equal(ptable_read(&t, p), CLFT_OK);
    assert_int_equal(t.n_rows, 2);
    assert_string_equal(ptable_str(&t, 0, 1), "two, quoted");
    double v;
    assert_int_equal(ptable_num(&t, 1, 1, PTABLE_NUM_REQUIRED, &v), CLFT_OK);
    assert_true(v == 5.0);
    assert_int_equal(ptable_num(&t, 1, 2, PTABLE_NUM_REQUIRED, &v), CLFT_ERR_VALUE);
    assert_non_null(strstr(clft_last_error(), "x.csv:4: column 'c': 'x' is not a number"));
    static const char *const need[] = {"a", "d", NULL};
    int idx[2];
    assert_int_equal(ptable_require(&t, need, idx), CLFT_ERR_FORMAT);
    assert_non_null(strstr(clft_last_error(), "header has no column 'd'"));
    ptable_free(&t);
    snprintf(p, sizeof p, "%s/none.csv", dir);
    assert_int_equal(ptable_read(&t, p), CLFT_ERR_IO);
    assert_non_null(strstr(clft_last_error(), "none.csv: cannot open"));
    rm_rf(dir);
}

/* The committed bad run: scores.csv line 5 has 'abc' for neg_var. Nothing is drawn. */
static void test_malformed_run_fails_cleanly(void **state)
{
    (void)state;
    char out[256];
    make_temp_dir(out, sizeof out);
    const char *bad[] = {"tests/fixtures/plots/moco_v2_base", "tests/fixtures/plots/bad_value"};
    PlotOptions o = {.out_dir = out, .quiet = 1};
    assert_int_not_equal(plot_runs(bad, 2, &o), CLFT_OK);
    assert_non_null(strstr(clft_last_error(), "bad_value/scores.csv:5: column 'neg_var': 'abc'"));
    assert_int_equal(count_entries(out), 0);
    const char *missing[] = {"tests/fixtures/plots/no_such_run"};
    assert_int_not_equal(plot_runs(missing, 1, &o), CLFT_OK);
    assert_non_null(strstr(clft_last_error(), "no_such_run/scores.csv: cannot open"));
    assert_int_equal(count_entries(out), 0);
    rm_rf(out);
}

/* A copy of fixture run `from` in a fresh directory with file `name` replaced by `text`. */
static void run_with_file(char *dir, size_t cap, const char *from, const char *name, const char *text)
{
    char cmd[1400];
    make_temp_dir(dir, cap);
    snprintf(cmd, sizeof cmd, "cp tests/fixtures/plots/%s/* '%s'/", from, dir);
    if (system(cmd) != 0) fail_msg("cannot copy fixture %s", from);
    write_file(dir, name, text);
}

/* Epochs and steps are non-negative integers: 'abc', 2.5, -1 and 1e300 are each a one-line error
 * naming the file, the line and the column (1e300 would overflow the int an epoch is drawn as). */
static void test_integer_columns(void **state)
{
    (void)state;
    static const struct {
        const char *file, *text, *want;
    } cases[] = {
        {"train.csv", "epoch,step,lr,loss,inst_acc,img_per_s,elapsed_s\n0,abc,0.03,8.2,0.1,800,1\n",
         "train.csv:2: column 'step': 'abc' is not an integer in [0, 9007199254740992]"},
        {"train.csv", "epoch,step,lr,loss,inst_acc,img_per_s,elapsed_s\n2.5,10,0.03,8.2,0.1,800,1\n",
         "train.csv:2: column 'epoch': '2.5' is not an integer in [0, 1000000]"},
        {"train.csv", "epoch,lr,loss,inst_acc\n0,0.03,8.2,0.1\n", "train.csv:1: header has no column 'step'"},
        {"scores.csv", "epoch,step,pos_mean,pos_var,neg_mean,neg_var\n0,-1,0.3,0.04,0,0.03\n",
         "scores.csv:2: column 'step': '-1' is not an integer"},
        {"score_hist.csv", "epoch,kind,bin_lo,bin_hi,count\n1e300,pos,-1,-0.95,0\n",
         "score_hist.csv:2: column 'epoch': '1e300' is not an integer in [0, 1000000]"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char dir[256], out[256];
        run_with_file(dir, sizeof dir, "moco_v2_base", cases[k].file, cases[k].text);
        make_temp_dir(out, sizeof out);
        const char *runs[] = {dir};
        PlotOptions o = {.out_dir = out, .quiet = 1};
        assert_int_not_equal(plot_runs(runs, 1, &o), CLFT_OK);
        if (!strstr(clft_last_error(), cases[k].want))
            fail_msg("%s: got '%s', expected '%s'", cases[k].file, clft_last_error(), cases[k].want);
        assert_int_equal(count_entries(out), 0);
    }
}

/* The command itself: non-zero exit and a one-line message naming the file. */
static void test_cli_exit_status(void **state)
{
    (void)state;
    const char *build = getenv("CLFT_BUILD_DIR");
    if (!build) skip();
    char cmd[1200], line[512] = {0};
    snprintf(cmd, sizeof cmd, "'%s/clft' plot tests/fixtures/plots/bad_value --out /nonexistent/x 2>&1",
             build);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char *got = fgets(line, sizeof line, p);
    int status = pclose(p);
    assert_non_null(got);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 1);
    assert_non_null(strstr(line, "clft: tests/fixtures/plots/bad_value/scores.csv:5:"));
}

/* A gnuplot error: the script is named, and neither the image nor its temporary remains. */
static void test_gnuplot_error_leaves_no_image(void **state)
{
    (void)state;
    char scripts[256], out[256];
    make_temp_dir(scripts, sizeof scripts);
    make_temp_dir(out, sizeof out);
    write_file(scripts, "style.gp", "set terminal pngcairo size 300,200\nset output out\n");
    write_file(scripts, "score_curves.gp",
               "load plotdir.'/style.gp'\nplot sin(x)\nplot no_such_variable\n");
    PlotOptions o = {.out_dir = out, .scripts_dir = scripts, .quiet = 1};
    assert_int_not_equal(plot_runs(two_runs, 1, &o), CLFT_OK);
    assert_non_null(strstr(clft_last_error(), "score_curves.gp: gnuplot failed"));
    assert_non_null(strstr(clft_last_error(), "no_such_variable"));
    assert_int_equal(count_entries(out), 0);
    rm_rf(scripts);
    rm_rf(out);
}

static void test_missing_gnuplot_says_how_to_install(void **state)
{
    (void)state;
    char out[256], empty[256];
    make_temp_dir(out, sizeof out);
    make_temp_dir(empty, sizeof empty);
    char *old = xstrdup(getenv("PATH") ? getenv("PATH") : "");
    setenv("PATH", empty, 1);
    PlotOptions o = {.out_dir = out, .quiet = 1};
    ClftStatus st = plot_runs(two_runs, 1, &o);
    setenv("PATH", old, 1);
    free(old);
    assert_int_not_equal(st, CLFT_OK);
    assert_non_null(strstr(clft_last_error(), "apt-get install gnuplot-nox"));
    assert_int_equal(count_entries(out), 0);
    rm_rf(out);
    rm_rf(empty);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_figure_is_a_png_of_the_documented_size),
        cmocka_unit_test(test_three_epoch_run_draws_every_figure),
        cmocka_unit_test(test_pdf_and_svg_on_request),
        cmocka_unit_test(test_scores_band_and_smoothing),
        cmocka_unit_test(test_train_epoch_axis_and_knn),
        cmocka_unit_test(test_hist_densities),
        cmocka_unit_test(test_csv_reader_errors),
        cmocka_unit_test(test_malformed_run_fails_cleanly),
        cmocka_unit_test(test_integer_columns),
        cmocka_unit_test(test_cli_exit_status),
        cmocka_unit_test(test_forest_plot),
        cmocka_unit_test(test_labels_tell_runs_apart),
        cmocka_unit_test(test_gnuplot_error_leaves_no_image),
        cmocka_unit_test(test_missing_gnuplot_says_how_to_install),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

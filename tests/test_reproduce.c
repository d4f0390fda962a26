/* test_reproduce.c — `clft reproduce` and `clft check` (issue 8): summary statistics from fake run
 * directories against hand-computed values, RESULTS.md marker replacement, check pass/fail (also
 * through the clft binary when CLFT_BUILD_DIR is set, as ctest does), the matrices, and the skipping
 * of complete runs (matrix_run_state and `clft reproduce --dry-run` on fake complete directories). */
#include "tests/test_util.h"

#include "baselines/baseline.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "core/io/csv.h"
#include "reproduce/matrix.h"
#include "reproduce/results.h"

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* A fake run directory with an eval.csv of knn top1 = value (plus rows the summary must ignore). */
static void fake_run(const char *root, const char *name, double value, char *dir, size_t cap)
{
    snprintf(dir, cap, "%s/%s", root, name);
    assert_int_equal(mkdir(dir, 0755), 0);
    char path[1024], text[1024];
    snprintf(path, sizeof path, "%s/eval.csv", dir);
    snprintf(text, sizeof text,
             "protocol,dataset,split,metric,value,epoch\n"
             "knn,fashion-mnist,test,top1,99,1\n"     /* an older checkpoint: superseded */
             "knn,fashion-mnist,train,top1,98,2\n"    /* a train split: ignored */
             "knn_monitor,fashion-mnist,test,top1,97,2\n" /* a training curve: ignored */
             "knn,fashion-mnist,test,top1,%g,2\n", value);
    write_text(path, text);
}

/* Baseline 10, 12, 14 and FT 11, 14, 15 on seeds 1, 2, 3 (FT listed out of seed order). */
static void make_summary(const char *root, ResultsSummary *s)
{
    static char dirs[7][1024];
    const double base[3] = {10, 12, 14}, ft[3] = {15, 11, 14}; /* ft seeds 3, 1, 2 */
    const int ft_seed[3] = {3, 1, 2};
    ResultsRun runs[7];
    char name[64];
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "b%d", i + 1);
        fake_run(root, name, base[i], dirs[i], sizeof dirs[i]);
        runs[i] = (ResultsRun){"moco_v2", "none", NULL, i + 1, dirs[i]};
        snprintf(name, sizeof name, "f%d", ft_seed[i]);
        fake_run(root, name, ft[i], dirs[3 + i], sizeof dirs[3 + i]);
        runs[3 + i] = (ResultsRun){"moco_v2", "ft", "none", ft_seed[i], dirs[3 + i]};
    }
    snprintf(dirs[6], sizeof dirs[6], "%s/never-evaluated", root);
    runs[6] = (ResultsRun){"moco_v2", "ft", "none", 4, dirs[6]};
    assert_int_equal(results_summarize(runs, 7, s), CLFT_OK);
}

static void test_summary_statistics(void **state)
{
    (void)state;
    char root[256], path[512];
    make_temp_dir(root, sizeof root);
    ResultsSummary s;
    make_summary(root, &s);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.n_runs_missing, 1);
    const ResultsRow *b = &s.rows[0], *f = &s.rows[1];
    assert_string_equal(b->variant, "none");
    assert_int_equal(b->n, 3);
    assert_true(fabs(b->mean - 12.0) < 1e-12);
    assert_true(fabs(b->std - 2.0) < 1e-12);
    /* t_{0.975, 2} = 4.302652729911275 (t tables); ci95 = t · 2 / sqrt(3) */
    assert_true(fabs(b->ci95 - 4.968275423687506) < 1e-9);
    assert_true(isnan(b->delta) && isnan(b->p_value));
    assert_true(fabs(f->mean - 40.0 / 3.0) < 1e-12);
    assert_true(fabs(f->std - 2.0816659994661326) < 1e-12);
    /* differences by seed: 11-10, 14-12, 15-14 = 1, 2, 1: Δ = 4/3, sd = sqrt(1/3), t = 4, ν = 2,
     * p = 1 − t / sqrt(2 + t²) (closed-form t CDF for ν = 2) */
    assert_int_equal(f->n_paired, 3);
    assert_true(fabs(f->delta - 4.0 / 3.0) < 1e-12);
    assert_true(fabs(f->delta_ci95 - 4.302652729911275 / 3.0) < 1e-9);
    assert_true(fabs(f->p_value - 0.05719095841793653) < 1e-9);

    snprintf(path, sizeof path, "%s/summary.csv", root);
    assert_int_equal(results_write_summary(&s, path), CLFT_OK);
    CsvTable t;
    assert_int_equal(csv_read(path, &t), CLFT_OK);
    assert_int_equal(t.nrow, 2);
    assert_int_equal(t.ncol, 13);
    assert_string_equal(t.header[9], "delta_vs_baseline");
    assert_string_equal(t.header[10], "delta_ci95");
    assert_string_equal(t.header[11], "p_value");
    assert_string_equal(t.header[12], "p_holm");
    for (int c = 9; c < 13; c++)
        assert_string_equal(csv_cell(&t, 0, c), "");      /* baseline rows */
    assert_string_equal(csv_cell(&t, 1, 10), "1.43422");  /* t_{0.975,2} / 3 */
    assert_string_equal(csv_cell(&t, 1, 12), "0.057191"); /* a family of one: p itself */
    assert_string_equal(csv_cell(&t, 1, 5), "3");
    assert_string_equal(csv_cell(&t, 1, 9), "1.33333");
    assert_string_equal(csv_cell(&t, 1, 11), "0.057191");
    csv_table_free(&t);
    results_summary_free(&s);
}

/* The pre-training statistics: the mean over each run's last epoch of train.csv's loss and
 * scores.csv's pre_pos_mean / pre_neg_mean, as protocol "pretrain"; RESULTS.md's tables leave
 * them out. */
static void test_summary_pretrain(void **state)
{
    (void)state;
    char root[256], dirs[2][1024], path[1200];
    make_temp_dir(root, sizeof root);
    ResultsRun runs[2];
    for (int i = 0; i < 2; i++) {
        char name[16], text[1024];
        snprintf(name, sizeof name, "s%d", i + 1);
        fake_run(root, name, 60 + i, dirs[i], sizeof dirs[i]);
        runs[i] = (ResultsRun){"moco_v2", "none", NULL, i + 1, dirs[i]};
        snprintf(path, sizeof path, "%s/train.csv", dirs[i]);
        /* last epoch (1): loss 5 and 6 + i, mean 5.5 + i/2 */
        snprintf(text, sizeof text, "epoch,step,lr,loss,inst_acc,img_per_s,elapsed_s\n"
                                    "0,2,0.1,9,0,1,1\n0,4,0.1,8,0,1,2\n1,6,0.1,5,0,1,3\n"
                                    "1,8,0.1,%d,0,1,4\n", 6 + i);
        write_text(path, text);
        snprintf(path, sizeof path, "%s/scores.csv", dirs[i]);
        /* last epoch: pre_pos 0.5, 0.7 (mean 0.6), pre_neg 0.1 + i/10 (the post-variant columns
         * pos_mean/neg_mean differ, and are not what is read) */
        snprintf(text, sizeof text,
                 "epoch,step,pos_mean,pos_var,neg_mean,neg_var,exp_pos_mean,exp_neg_mean,"
                 "pre_pos_mean,pre_pos_var,pre_neg_mean,pre_neg_var\n"
                 "0,4,9,0,9,0,0,0,0.1,0,0.9,0\n1,6,9,0,9,0,0,0,0.5,0,%g,0\n"
                 "1,8,9,0,9,0,0,0,0.7,0,%g,0\n", 0.1 + i / 10.0, 0.1 + i / 10.0);
        write_text(path, text);
    }
    ResultsSummary s;
    assert_int_equal(results_summarize(runs, 2, &s), CLFT_OK);
    assert_int_equal(s.n, 7); /* knn top1, pretrain loss, pos_score, neg_score, the collapse's 3 */
    static const char *const metrics[] = {
        "top1",          "loss",           "pos_score",         "neg_score",
        "collapse_peak", "collapse_iters", "collapse_recovered"};
    /* the collapse: peak 0.9 at step 4 (epoch 0), never back below 0.1 (0.1 and 0.2 are not):
     * iteration 8, the last, and not recovered */
    const double means[] = {60.5, 5.75, 0.6, 0.15, 0.9, 8, 0};
    for (int i = 0; i < 7; i++) {
        assert_string_equal(s.rows[i].metric, metrics[i]);
        assert_string_equal(s.rows[i].protocol, i ? "pretrain" : "knn");
        assert_string_equal(s.rows[i].dataset, "fashion-mnist");
        assert_int_equal(s.rows[i].n, 2);
        assert_true(fabs(s.rows[i].mean - means[i]) < 1e-12);
    }
    const ResultsContext ctx = {.preset = "smoke", .about = "a", .data = "d", .command = "c",
                                .n_seeds = 2, .machine = "m", .commit = "x", .date = "t",
                                .summary_path = "summary.csv"};
    char *md = results_md_section(&s, &ctx);
    assert_non_null(strstr(md, "| knn top1 |"));
    assert_null(strstr(md, "pretrain"));
    assert_non_null(strstr(md, "| moco_v2 | 0.900 ± 0.000 | 8 ± 0 | 0 of 2 |"));
    free(md);
    results_summary_free(&s);
}

static void test_results_md_markers(void **state)
{
    (void)state;
    const char *text = "# Results\nintro\n<!-- clft:begin preset=smoke -->\nS\n"
                       "<!-- clft:end preset=smoke -->\nmiddle\n<!-- clft:begin preset=mini -->\n"
                       "old\nlines\n<!-- clft:end preset=mini -->\ntail\n";
    const char *sec = "<!-- clft:begin preset=mini -->\nNEW\n<!-- clft:end preset=mini -->\n";
    char *out = results_md_splice(text, "mini", sec);
    assert_string_equal(out, "# Results\nintro\n<!-- clft:begin preset=smoke -->\nS\n"
                             "<!-- clft:end preset=smoke -->\nmiddle\n<!-- clft:begin preset=mini -->\n"
                             "NEW\n<!-- clft:end preset=mini -->\ntail\n");
    free(out);
    out = results_md_splice("no markers", "mini", sec); /* appended after a blank line */
    assert_string_equal(out, "no markers\n\n<!-- clft:begin preset=mini -->\nNEW\n"
                             "<!-- clft:end preset=mini -->\n");
    free(out);
    assert_null(results_md_splice("<!-- clft:begin preset=mini -->\nunterminated\n", "mini", sec));

    /* A generated section from the hand-checked summary, spliced into a file twice. */
    char root[256], path[512];
    make_temp_dir(root, sizeof root);
    ResultsSummary s;
    make_summary(root, &s);
    ResultsContext ctx = {.preset = "mini", .about = "test", .data = "fashion-mnist",
                          .command = "clft reproduce --preset mini", .n_seeds = 3, .n_runs = 7,
                          .machine = "2 cores", .commit = "abc", .date = "today",
                          .summary_path = "results/mini/summary.csv", .compute_s = -1,
                          .figures = {"results/mini/figures/main/comparison.png"}};
    char *md = results_md_section(&s, &ctx);
    assert_non_null(strstr(md, "| moco_v2 | 12.00 ± 2.00 (3) |"));
    assert_non_null(strstr(md, "| moco_v2 + ft | moco_v2 | knn | top1 | +1.33 | [-0.10, +2.77] |"));
    assert_non_null(strstr(md, "no detectable difference"));
    assert_non_null(strstr(md, "[comparison.png](results/mini/figures/main/comparison.png)"));
    snprintf(path, sizeof path, "%s/RESULTS.md", root);
    write_text(path, "static text\n");
    assert_int_equal(results_md_replace(path, "mini", md), CLFT_OK);
    assert_int_equal(results_md_replace(path, "mini", md), CLFT_OK); /* replaced, not appended */
    char *back = read_text(path);
    const char *head = "static text\n\n<!-- clft:begin preset=mini -->\n";
    assert_true(!strncmp(back, head, strlen(head)));
    assert_string_equal(back + strlen("static text\n\n"), md);
    free(md);
    /* One method only (the baseline's rows): its means, no comparison table. */
    s.n = 1;
    md = results_md_section(&s, &ctx);
    assert_non_null(strstr(md, "| moco_v2 | 12.00 ± 2.00 (3) |"));
    assert_null(strstr(md, "Method − baseline"));
    free(md);
    s.n = 2;
    results_summary_free(&s);
}

static int run_cmd(const char *cmd)
{
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_check_bands(void **state)
{
    (void)state;
    char root[256], sum[512], exp[512], cmd[2048];
    make_temp_dir(root, sizeof root);
    snprintf(sum, sizeof sum, "%s/summary.csv", root);
    snprintf(exp, sizeof exp, "%s/expected.csv", root);
    write_text(sum, "baseline,variant,dataset,protocol,metric,n_seeds,mean,std,ci95,"
                    "delta_vs_baseline,p_value\n"
                    "moco_v2,none,fashion-mnist,knn,top1,2,61.5,0.5,4.5,,\n"
                    "moco_v2,ft,fashion-mnist,knn,top1,2,62.25,0.25,2.2,0.75,0.2\n");
    FILE *devnull = fopen("/dev/null", "w");
    int n_fail = -1;
    write_text(exp, "baseline,variant,protocol,metric,lo,hi\nmoco_v2,none,knn,top1,61,62\n"
                    "moco_v2,ft,knn,top1,62.25,62.25\n");
    assert_int_equal(results_check(sum, exp, devnull, &n_fail), CLFT_OK);
    assert_int_equal(n_fail, 0);
    const char *bin = getenv("CLFT_BUILD_DIR");
    if (bin) {
        snprintf(cmd, sizeof cmd, "%s/clft check %s --expected %s >/dev/null", bin, sum, exp);
        assert_int_equal(run_cmd(cmd), 0);
    }
    /* one band moved past the measured value (61.5 < lo = 61.6) */
    write_text(exp, "baseline,variant,protocol,metric,lo,hi\nmoco_v2,none,knn,top1,61.6,62\n"
                    "moco_v2,ft,knn,top1,62.25,62.25\n");
    assert_int_equal(results_check(sum, exp, devnull, &n_fail), CLFT_OK);
    assert_int_equal(n_fail, 1);
    if (bin) assert_int_equal(run_cmd(cmd), 1);
    /* a row missing from the summary fails */
    write_text(exp, "baseline,variant,protocol,metric,lo,hi\nmoco_v1,ft,linear,top1,0,100\n");
    assert_int_equal(results_check(sum, exp, devnull, &n_fail), CLFT_OK);
    assert_int_equal(n_fail, 1);
    /* bands derived from the summary: [mean - (2 std + 0.1), mean + (2 std + 0.1)] */
    const char *one[] = {sum};
    const ResultsBandRule rule = {.k_std = 2.0, .abs_tol = 0.1};
    assert_int_equal(results_derive_expected(one, 1, exp, &rule), CLFT_OK);
    assert_string_equal(read_text(exp), "baseline,variant,protocol,metric,lo,hi\n"
                                        "moco_v2,none,knn,top1,60.4,62.6\nmoco_v2,ft,knn,top1,61.65,62.85\n");
    assert_int_equal(results_check(sum, exp, devnull, &n_fail), CLFT_OK);
    assert_int_equal(n_fail, 0);
    /* a malformed expected file is an error, not a pass */
    write_text(exp, "baseline,variant,protocol,metric,low,high\nmoco_v2,ft,knn,top1,0,100\n");
    assert_int_not_equal(results_check(sum, exp, devnull, &n_fail), CLFT_OK);
    fclose(devnull);
}

/* Bands from several summaries (one per kernel set): the envelope of mean ± k·std over them, plus
 * abs_tol; the --metrics filter; a summary lacking a row is an error; the one-summary CLI form. */
static void test_derive_envelope(void **state)
{
    (void)state;
    char root[256], a[512], b[512], exp[512], cmd[4096];
    make_temp_dir(root, sizeof root);
    snprintf(a, sizeof a, "%s/a.csv", root);
    snprintf(b, sizeof b, "%s/b.csv", root);
    snprintf(exp, sizeof exp, "%s/expected.csv", root);
    static const char *const head = "baseline,variant,dataset,protocol,metric,n_seeds,mean,std,"
                                    "ci95,delta_vs_baseline,p_value\n";
    char text[1024];
    /* a: knn top1 60 ± 1, top5 95 ± 0.5, ft top1 58 ± 2; b: knn top1 62 ± 0.5, top5 nan std */
    snprintf(text, sizeof text, "%smoco_v2,none,fashion-mnist,knn,top1,6,60,1,1,,\n"
                                "moco_v2,none,fashion-mnist,knn,top5,6,95,0.5,1,,\n"
                                "moco_v2,ft,fashion-mnist,knn,top1,6,58,2,1,-2,0.1\n", head);
    write_text(a, text);
    snprintf(text, sizeof text, "%smoco_v2,ft,fashion-mnist,knn,top1,6,57,1,1,-5,0.01\n"
                                "moco_v2,none,fashion-mnist,knn,top5,1,96,nan,nan,,\n"
                                "moco_v2,none,fashion-mnist,knn,top1,6,62,0.5,1,,\n", head);
    write_text(b, text);
    const char *both[] = {a, b};
    ResultsBandRule rule = {.k_std = 2.0, .abs_tol = 0.25};
    assert_int_equal(results_derive_expected(both, 2, exp, &rule), CLFT_OK);
    /* none top1: [min(58, 61) - .25, max(62, 63) + .25]; top5: [min(94, 96), max(96, 96)] ± .25;
     * ft top1: [min(54, 55), max(62, 59)] ± .25; rows in a's order */
    assert_string_equal(read_text(exp), "baseline,variant,protocol,metric,lo,hi\n"
                                        "moco_v2,none,knn,top1,57.75,63.25\n"
                                        "moco_v2,none,knn,top5,93.75,96.25\n"
                                        "moco_v2,ft,knn,top1,53.75,62.25\n");
    rule.metrics = "top1,top9";
    assert_int_equal(results_derive_expected(both, 2, exp, &rule), CLFT_OK);
    assert_null(strstr(read_text(exp), "top5"));
    assert_non_null(strstr(read_text(exp), "moco_v2,ft,knn,top1,53.75,62.25\n"));
    rule.metrics = "top9";
    assert_int_not_equal(results_derive_expected(both, 2, exp, &rule), CLFT_OK);
    rule.metrics = NULL;
    /* a metric's own abs_tol (another unit): top5 gets 0.5, the rest 0.25 */
    rule.metric_tols = "loss=0.01,top5=0.5";
    assert_int_equal(results_derive_expected(both, 2, exp, &rule), CLFT_OK);
    assert_non_null(strstr(read_text(exp), "moco_v2,none,knn,top5,93.5,96.5\n"));
    assert_non_null(strstr(read_text(exp), "moco_v2,none,knn,top1,57.75,63.25\n"));
    rule.metric_tols = "top5=x";
    assert_int_equal(results_derive_expected(both, 2, exp, &rule), CLFT_ERR_VALUE);
    assert_non_null(strstr(clft_last_error(), "top5=x"));
    rule.metric_tols = NULL;
    /* b without the ft row: an error naming b, not a band from a alone */
    snprintf(text, sizeof text, "%smoco_v2,none,fashion-mnist,knn,top1,6,62,0.5,1,,\n"
                                "moco_v2,none,fashion-mnist,knn,top5,6,96,0.1,1,,\n", head);
    write_text(b, text);
    assert_int_equal(results_derive_expected(both, 2, exp, &rule), CLFT_ERR_FORMAT);
    assert_non_null(strstr(clft_last_error(), b));
    assert_non_null(strstr(clft_last_error(), "moco_v2 ft knn top1"));
    /* a mean that is not a finite number cannot make a band */
    snprintf(text, sizeof text, "%smoco_v2,none,fashion-mnist,knn,top1,6,nan,nan,nan,,\n", head);
    write_text(b, text);
    const char *only_b[] = {b};
    assert_int_equal(results_derive_expected(only_b, 1, exp, &rule), CLFT_ERR_VALUE);
    const char *bin = getenv("CLFT_BUILD_DIR");
    if (!bin) return;
    /* the CLI: the one-summary form (summary first), several summaries, --metrics, bad usage */
    snprintf(cmd, sizeof cmd,
             "%s/clft check %s --write-expected %s --k-std 2 --abs-tol 0.25 >/dev/null", bin, a,
             exp);
    assert_int_equal(run_cmd(cmd), 0);
    assert_non_null(strstr(read_text(exp), "moco_v2,none,knn,top1,57.75,62.25\n"));
    snprintf(text, sizeof text, "%smoco_v2,ft,fashion-mnist,knn,top1,6,57,1,1,-5,0.01\n"
                                "moco_v2,none,fashion-mnist,knn,top5,1,96,nan,nan,,\n"
                                "moco_v2,none,fashion-mnist,knn,top1,6,62,0.5,1,,\n", head);
    write_text(b, text);
    snprintf(cmd, sizeof cmd, "%s/clft check --write-expected %s --k-std 2 --abs-tol 0.25 "
             "--metrics top1 %s %s >/dev/null", bin, exp, a, b);
    assert_int_equal(run_cmd(cmd), 0);
    assert_string_equal(read_text(exp), "baseline,variant,protocol,metric,lo,hi\n"
                                        "moco_v2,none,knn,top1,57.75,63.25\n"
                                        "moco_v2,ft,knn,top1,53.75,62.25\n");
    snprintf(cmd, sizeof cmd, "%s/clft check --write-expected %s --k-std 2 --abs-tol 0.25 "
             "--abs-tol top5=0.5 --metrics top5 %s %s >/dev/null", bin, exp, a, b);
    assert_int_equal(run_cmd(cmd), 0);
    assert_string_equal(read_text(exp), "baseline,variant,protocol,metric,lo,hi\n"
                                        "moco_v2,none,knn,top5,93.5,96.5\n");
    snprintf(cmd, sizeof cmd, "%s/clft check --write-expected %s --k-std 2 %s 2>/dev/null", bin,
             exp, a);
    assert_int_equal(run_cmd(cmd), 2); /* no --abs-tol: the rule must be stated */
    snprintf(cmd, sizeof cmd,
             "%s/clft check --write-expected %s --k-std x --abs-tol 1 %s 2>/dev/null", bin, exp, a);
    assert_int_equal(run_cmd(cmd), 2);
}

/* Bad input is exit status 2 with one line naming the file and row, never a pass or a plain FAIL:
 * a mean that is not a number, an inverted band (lo > hi), a band that is not a number. A mean of
 * "nan" (a run without a value) is a FAIL. */
static void test_check_bad_input(void **state)
{
    (void)state;
    char root[256], sum[512], exp[512], err[512], cmd[2048];
    make_temp_dir(root, sizeof root);
    snprintf(sum, sizeof sum, "%s/summary.csv", root);
    snprintf(exp, sizeof exp, "%s/expected.csv", root);
    snprintf(err, sizeof err, "%s/stderr.txt", root);
    static const char *const head = "baseline,variant,dataset,protocol,metric,n_seeds,mean,std,"
                                    "ci95,delta_vs_baseline,p_value\n";
    static const char *const band =
        "baseline,variant,protocol,metric,lo,hi\nmoco_v2,none,knn,top1,60,70\n";
    FILE *devnull = fopen("/dev/null", "w");
    int n_fail = -1;
    char text[1024];
    snprintf(text, sizeof text, "%smoco_v2,none,fashion-mnist,knn,top1,2,6x.5,0.5,4.5,,\n", head);
    write_text(sum, text);
    write_text(exp, band);
    assert_int_equal(results_check(sum, exp, devnull, &n_fail), CLFT_ERR_VALUE);
    assert_non_null(strstr(clft_last_error(), sum));
    assert_non_null(strstr(clft_last_error(), "data row 1"));
    const char *bin = getenv("CLFT_BUILD_DIR");
    if (bin) {
        snprintf(cmd, sizeof cmd, "%s/clft check %s --expected %s >/dev/null 2>%s", bin, sum, exp, err);
        assert_int_equal(run_cmd(cmd), 2);
        const char *msg = read_text(err); /* one line, naming the file */
        assert_non_null(strstr(msg, sum));
        assert_ptr_equal(strchr(msg, '\n'), msg + strlen(msg) - 1);
    }
    /* "nan": a fail, not bad input */
    snprintf(text, sizeof text, "%smoco_v2,none,fashion-mnist,knn,top1,0,nan,nan,nan,,\n", head);
    write_text(sum, text);
    assert_int_equal(results_check(sum, exp, devnull, &n_fail), CLFT_OK);
    assert_int_equal(n_fail, 1);
    if (bin) assert_int_equal(run_cmd(cmd), 1);
    /* bands that are not an interval */
    snprintf(text, sizeof text, "%smoco_v2,none,fashion-mnist,knn,top1,2,65,0.5,4.5,,\n", head);
    write_text(sum, text);
    static const char *const bad[] = {"70,60", "60,", "nan,70", "60,inf"};
    for (int i = 0; i < 4; i++) {
        snprintf(text, sizeof text, "baseline,variant,protocol,metric,lo,hi\nmoco_v2,ft,knn,top1,0,100\n"
                                    "moco_v2,none,knn,top1,%s\n", bad[i]);
        write_text(exp, text);
        assert_int_not_equal(results_check(sum, exp, devnull, &n_fail), CLFT_OK);
        assert_non_null(strstr(clft_last_error(), exp));
        assert_non_null(strstr(clft_last_error(), "data row 2"));
        if (bin) assert_int_equal(run_cmd(cmd), 2);
    }
    fclose(devnull);
}

static void test_matrices(void **state)
{
    (void)state;
    const MatrixPreset *mini = matrix_find("mini");
    assert_non_null(mini);
    assert_int_equal(mini->n_arms, 4);
    assert_true(mini->seeds >= 3);
    for (const MatrixPreset *const *p = matrix_all(); *p; p++)
        for (int a = 0; a < (*p)->n_arms; a++) {
            const MatrixArm *arm = &(*p)->arms[a];
            if (arm->reference) assert_non_null(matrix_arm(*p, arm->baseline, arm->reference));
        }
    const MatrixPreset *abl = matrix_find("mini-ablations");
    assert_string_equal(abl->group, mini->group); /* shares mini's baseline runs */
    assert_non_null(matrix_arm(abl, "moco_v1", "none_m0.9"));
    assert_non_null(matrix_arm(abl, "moco_v2", "ft_warmup"));
    assert_true(matrix_find("in100")->needs_imagefolder);
    /* presets of one group share run directories by (baseline, label): the same label must mean
     * the same variant and settings everywhere, or a reused run would be another experiment */
    for (const MatrixPreset *const *p = matrix_all(); *p; p++)
        for (const MatrixPreset *const *q = matrix_all(); *q; q++) {
            if (strcmp((*p)->group, (*q)->group)) continue;
            for (int a = 0; a < (*p)->n_arms; a++) {
                const MatrixArm *x = &(*p)->arms[a];
                const MatrixArm *y = matrix_arm(*q, x->baseline, x->label);
                if (!y) continue;
                assert_string_equal(x->variant, y->variant);
                for (int i = 0; i < MATRIX_MAX_SETS && (x->sets[i] || y->sets[i]); i++) {
                    assert_true(x->sets[i] && y->sets[i]);
                    assert_string_equal(x->sets[i], y->sets[i]);
                }
            }
        }
    const MatrixPreset *study = matrix_find("mini-ft-study");
    assert_string_equal(study->group, mini->group);
    assert_string_equal(matrix_arm(study, "moco_v2", "ft_T0.07")->reference, "none_T0.07");
}

static void test_expand_set(void **state)
{
    (void)state;
    char out[64];
    int deferred = -1;
    assert_int_equal(matrix_expand_set(MATRIX_SET_START_QUARTER, 9, out, sizeof out, &deferred),
                     CLFT_OK);
    assert_string_equal(out, "variant.start_epoch=2");
    assert_int_equal(deferred, 1);
    assert_int_equal(matrix_expand_set(MATRIX_SET_START_HALF, 9, out, sizeof out, &deferred),
                     CLFT_OK);
    assert_string_equal(out, "variant.start_epoch=4");
    assert_int_equal(matrix_expand_set("moco.T=0.07", 9, out, sizeof out, &deferred), CLFT_OK);
    assert_string_equal(out, "moco.T=0.07");
    assert_int_equal(deferred, 0);
    assert_int_equal(matrix_expand_set("a.b=@epochs/0", 9, out, sizeof out, &deferred),
                     CLFT_ERR_VALUE);
    assert_non_null(strstr(clft_last_error(), "a.b=@epochs/0"));
    assert_int_equal(matrix_expand_set("a.b=@epochs/2x", 9, out, sizeof out, &deferred),
                     CLFT_ERR_VALUE);
    assert_int_equal(matrix_expand_set("a.b=@epochs/", 9, out, sizeof out, &deferred),
                     CLFT_ERR_VALUE);
    assert_int_equal(matrix_expand_set("a.b=0123456789", 9, out, 8, &deferred), CLFT_ERR_VALUE);
}

/* A fake run directory of the smoke matrix: checkpoint of `epoch`, eval rows for `protocols`. */
static void fake_smoke_dir(const char *dir, int epoch, const char *eval_rows)
{
    char path[1024];
    snprintf(path, sizeof path, "mkdir -p %s/ckpt", dir);
    assert_int_equal(run_cmd(path), 0);
    snprintf(path, sizeof path, "%s/ckpt/epoch%04d-step000000064.safetensors", dir, epoch);
    write_text(path, "x");
    snprintf(path, sizeof path, "%s/eval.csv", dir);
    write_text(path, eval_rows);
}

static void test_skip_complete_runs(void **state)
{
    (void)state;
    const MatrixPreset *p = matrix_find("smoke");
    /* The CLI dry run below compares checkpoints with the smoke preset's configured epochs. */
    Config smoke;
    assert_int_equal(config_resolve(&smoke, "moco_v2", "smoke", CLFT_SOURCE_DIR "/configs"), CLFT_OK);
    const int E = smoke.optim.epochs;
    char root[256], dir[1024], cmd[2048];
    make_temp_dir(root, sizeof root);
    const char *both = "protocol,dataset,split,metric,value,epoch\nknn,fashion-mnist,test,top1,60,2\n"
                       "linear,fashion-mnist,test,top1,70,2\nlinear,fashion-mnist,test,top5,90,2\n";
    MatrixRunState st;
    assert_int_equal(matrix_run_dir(p, &p->arms[0], "fashion-mnist", 1, root, dir, sizeof dir), CLFT_OK);
    assert_true(strstr(dir, "/smoke/moco_v2_none_fashion-mnist_s1") != NULL);
    assert_int_equal(matrix_run_state(p, dir, 2, &st), CLFT_OK); /* missing directory */
    assert_false(st.pretrained || matrix_run_complete(p, &st));
    fake_smoke_dir(dir, E, both);
    assert_int_equal(matrix_run_state(p, dir, E, &st), CLFT_OK);
    assert_true(matrix_run_complete(p, &st));
    assert_int_equal(matrix_run_state(p, dir, E + 1, &st), CLFT_OK); /* more epochs configured */
    assert_false(st.pretrained || matrix_run_complete(p, &st));
    assert_int_equal(matrix_run_dir(p, &p->arms[1], "fashion-mnist", 1, root, dir, sizeof dir), CLFT_OK);
    fake_smoke_dir(dir, E, "protocol,dataset,split,metric,value,epoch\nknn,fashion-mnist,test,top1,61,2\n"
                           "linear,fashion-mnist,train,top1,75,2\n");
    assert_int_equal(matrix_run_state(p, dir, E, &st), CLFT_OK); /* linear only on train: to do */
    assert_true(st.pretrained && st.evaluated[0] && !st.evaluated[1]);
    assert_false(matrix_run_complete(p, &st));

    const char *bin = getenv("CLFT_BUILD_DIR");
    if (!bin) return;
    /* The CLI's dry run: arm 0 seed 1 complete; arm 1 seed 1 needs only the linear probe. */
    char out[512];
    snprintf(out, sizeof out, "%s/plan.txt", root);
    snprintf(cmd, sizeof cmd, "%s/clft reproduce --preset smoke --runs-dir %s --dry-run > %s", bin, root,
             out);
    assert_int_equal(run_cmd(cmd), 0);
    char *plan = read_text(out);
    assert_non_null(strstr(plan, "4 runs (1 complete, 3 to run)"));
    assert_non_null(strstr(plan, "complete  "));
    const char *ft1 = strstr(plan, "moco_v2_ft_fashion-mnist_s1");
    assert_non_null(ft1);
    const char *ft2 = strstr(ft1, "moco_v2_ft_fashion-mnist_s2");
    assert_non_null(ft2);
    char between[4096];
    snprintf(between, sizeof between, "%.*s", (int)(ft2 - ft1), ft1);
    assert_null(strstr(between, " pretrain "));
    assert_null(strstr(between, "--protocol knn"));
    assert_non_null(strstr(between, "eval --run"));
    assert_non_null(strstr(between, "--protocol linear --cached"));
    /* An arm's own optim.epochs counts: mini's 3-epoch checkpoint does not complete mini-long's
     * 15-epoch run; a 15-epoch one does. */
    const MatrixPreset *ml = matrix_find("mini-long");
    assert_non_null(ml);
    assert_string_not_equal(ml->group, matrix_find("mini")->group);
    assert_int_equal(matrix_run_dir(ml, &ml->arms[0], "fashion-mnist", 1, root, dir, sizeof dir), CLFT_OK);
    for (int epochs = 3; epochs <= 15; epochs += 12) {
        fake_smoke_dir(dir, epochs, both);
        snprintf(cmd, sizeof cmd, "%s/clft reproduce --preset mini-long --runs-dir %s --dry-run > %s", bin,
                 root, out);
        assert_int_equal(run_cmd(cmd), 0);
        plan = read_text(out);
        assert_non_null(strstr(plan, "seed 1, 15 epochs"));
        assert_non_null(strstr(plan, epochs == 15 ? "(1 complete, 5 to run)" : "(0 complete, 6 to run)"));
    }
    /* in100 without imagefolder data is refused, naming what is needed */
    snprintf(cmd, sizeof cmd, "%s/clft reproduce --preset in100 --dry-run 2>&1 | grep -q imagefolder:DIR",
             bin);
    assert_int_equal(run_cmd(cmd), 0);
}

/* results_collapse on a scores.csv of `rows` after a header with pre_neg_mean; returns its status.
 */
static ClftStatus collapse_of(const char *path, const char *rows, double from_epoch,
                              ResultsCollapse *c)
{
    char text[1024];
    snprintf(text, sizeof text, "epoch,step,neg_mean,pre_neg_mean\n%s", rows);
    write_text(path, text);
    CsvTable t;
    assert_int_equal(csv_read(path, &t), CLFT_OK);
    ClftStatus st = results_collapse(&t, 0.1, from_epoch, c);
    csv_table_free(&t);
    return st;
}

/* A summary row for the generated text: mean and, against a reference, Δ ± its CI on 3 seeds. */
static ResultsRow text_row(const char *variant, const char *reference, const char *protocol,
                           const char *metric, double mean, double delta, double ci)
{
    ResultsRow r;
    memset(&r, 0, sizeof r);
    snprintf(r.baseline, sizeof r.baseline, "moco_v2");
    snprintf(r.variant, sizeof r.variant, "%s", variant);
    snprintf(r.dataset, sizeof r.dataset, "fashion-mnist");
    snprintf(r.protocol, sizeof r.protocol, "%s", protocol);
    snprintf(r.metric, sizeof r.metric, "%s", metric);
    snprintf(r.reference, sizeof r.reference, "%s", reference ? reference : "");
    r.n = 3, r.mean = mean, r.std = 0.1, r.ci95 = 0.2;
    r.n_paired = reference ? 3 : 0;
    r.delta = reference ? delta : NAN, r.delta_ci95 = reference ? ci : NAN;
    r.p_value = r.p_holm = reference ? 0.01 : NAN;
    return r;
}

/* "When does FT help?" from a hand-made summary: FT −2 (a loss), its extrapolation alone −1.5 (a
 * loss), its interpolation alone −0.1 (none), FT after a warm-up +0.2 (none); their collapses
 * 2000, 1500, 100, 50 iterations against the reference's 0: r ≈ −1; linear Δ −1 ± 1.5. */
static void test_ft_help_text(void **state)
{
    (void)state;
    ResultsRow rows[] = {
        text_row("none", NULL, "knn", "top1", 80, 0, 0),
        text_row("ft", "none", "knn", "top1", 78, -2, 1),
        text_row("ft_pos", "none", "knn", "top1", 78.5, -1.5, 0.5),
        text_row("ft_neg", "none", "knn", "top1", 79.9, -0.1, 0.5),
        text_row("ft_warmup", "none", "knn", "top1", 80.2, 0.2, 0.5),
        text_row("ft", "none", "linear", "top1", 82, -1, 1.5),
        text_row("none", NULL, "pretrain", "collapse_iters", 0, 0, 0),
        text_row("ft", "none", "pretrain", "collapse_iters", 2000, 0, 0),
        text_row("ft_pos", "none", "pretrain", "collapse_iters", 1500, 0, 0),
        text_row("ft_neg", "none", "pretrain", "collapse_iters", 100, 0, 0),
        text_row("ft_warmup", "none", "pretrain", "collapse_iters", 50, 0, 0),
    };
    ResultsSummary s = {.rows = rows, .n = (int)(sizeof rows / sizeof rows[0])};
    const ResultsContext ctx = {.preset = "mini-ft-study",
                                .about = "a",
                                .data = "d",
                                .command = "c",
                                .n_seeds = 3,
                                .machine = "m",
                                .commit = "x",
                                .date = "t",
                                .summary_path = "summary.csv"};
    char *md = results_md_section(&s, &ctx);
    assert_non_null(strstr(md, "**When does FT help?**"));
    assert_non_null(strstr(md, "- moco_v2 + FT: -2.00 [-3.00, -1.00], a loss. Its positive "
                               "extrapolation alone (ft_pos): -1.50 [-2.00, -1.00], a loss; its "
                               "negative interpolation alone (ft_neg): -0.10 [-0.60, +0.40], no "
                               "detectable difference. The cost comes from the positive "
                               "extrapolation.\n"));
    assert_non_null(strstr(md, "over the 4 FT arms"));
    assert_non_null(strstr(md, "the longer the collapse, the larger the loss"));
    assert_non_null(strstr(md, "- Below its reference (95% CI): moco_v2 + ft (-2.00; collapse 2000 "
                               "iterations), moco_v2 + ft_pos (-1.50; collapse 1500 iterations).\n"
                               "- Not below it: moco_v2 + ft_neg (-0.10; collapse 100 iterations), "
                               "moco_v2 + ft_warmup (+0.20; collapse 50 iterations).\n"));
    assert_non_null(strstr(md, "Here: -1.00 [-2.50, +0.50], no detectable difference — the "
                               "paper's gain is not seen at this scale."));
    free(md);
    /* both halves and the warm-up below 0 too */
    rows[3].delta = rows[4].delta = -1.0;
    md = results_md_section(&s, &ctx);
    assert_non_null(strstr(md, "Both halves cost accuracy here.\n"));
    assert_non_null(strstr(md, "- Not below it: none — every FT arm here costs kNN accuracy.\n"));
    /* one seed: no interval, and no claim about which arms are below */
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        rows[i].n_paired = rows[i].reference[0] ? 1 : 0;
    free(md);
    md = results_md_section(&s, &ctx);
    assert_non_null(strstr(md, "- Too few paired seeds (fewer than 2) to tell which FT arms are "
                               "below their reference.\n"));
    assert_null(strstr(md, "Below its reference"));
    free(md);
    /* without FT arms there is no such paragraph */
    s.n = 1;
    md = results_md_section(&s, &ctx);
    assert_null(strstr(md, "When does FT help"));
    free(md);
}

/* The collapse statistic on a hand-made scores.csv (results.h): the peak is looked for in the
 * first epoch only (epoch 1's 0.95 is not it) or in the variant's start epoch, recovery only
 * after the peak (step 2's 0.05 is before it), and "back below" is strict. */
static void test_collapse_statistic(void **state)
{
    (void)state;
    char root[256], path[512];
    make_temp_dir(root, sizeof root);
    snprintf(path, sizeof path, "%s/scores.csv", root);
    ResultsCollapse c;
    /* rises to 0.8 at step 30, 0.1 at step 50 is not below, 0.09 at step 60 is */
    const char *rows = "0,1,0,0.01\n0,2,0,0.05\n0,20,9,0.6\n0,30,0,0.8\n0,40,0,0.7\n"
                       "1,50,0,0.1\n1,60,0,0.09\n1,70,0,0.95\n1,80,0,0.02\n";
    assert_int_equal(collapse_of(path, rows, 0, &c), CLFT_OK);
    assert_true(c.peak == 0.8 && c.peak_step == 30 && c.back_step == 60 && c.recovered == 1);
    assert_true(c.start_step == 0);
    /* a variant started at epoch 1: its peak is epoch 1's 0.95 (step 70), back below at step 80,
     * counted from the last step of epoch 0 (40); a start past the last epoch looks at the last */
    assert_int_equal(collapse_of(path, rows, 1, &c), CLFT_OK);
    assert_true(c.peak == 0.95 && c.peak_step == 70 && c.back_step == 80 && c.start_step == 40);
    assert_int_equal(collapse_of(path, rows, 7, &c), CLFT_OK);
    assert_true(c.peak == 0.95 && c.start_step == 40);
    /* never above the threshold: no collapse, 0 iterations, recovered */
    assert_int_equal(collapse_of(path, "0,1,0.5,0.02\n0,2,0.5,0.07\n1,3,0.5,0.03\n", 0, &c),
                     CLFT_OK);
    assert_true(c.peak == 0.07 && c.back_step == 0 && c.recovered == 1);
    /* collapsed to the end: the last step, not recovered; also when the peak is the last row */
    assert_int_equal(collapse_of(path, "0,10,0,0.9\n0,20,0,0.5\n1,30,0,0.3\n", 0, &c), CLFT_OK);
    assert_true(c.peak == 0.9 && c.back_step == 30 && c.recovered == 0);
    assert_int_equal(collapse_of(path, "0,10,0,0.2\n0,20,0,0.5\n", 0, &c), CLFT_OK);
    assert_true(c.peak == 0.5 && c.back_step == 20 && c.recovered == 0);
    /* no rows, and a missing column, are errors naming the file */
    assert_int_equal(collapse_of(path, "", 0, &c), CLFT_ERR_FORMAT);
    assert_non_null(strstr(clft_last_error(), path));
    write_text(path, "epoch,step,neg_mean\n0,1,0.5\n");
    CsvTable t;
    assert_int_equal(csv_read(path, &t), CLFT_OK);
    assert_int_equal(results_collapse(&t, 0.1, 0, &c), CLFT_ERR_FORMAT);
    assert_non_null(strstr(clft_last_error(), "pre_neg_mean"));
    assert_non_null(strstr(clft_last_error(), path));
    csv_table_free(&t);
}

/* Holm across two arms against one baseline (make_summary's 10, 12, 14): arm "ft" 11, 14, 15
 * (p 0.0571910) and arm "b" 11, 14, 17 (differences 1, 2, 3: p 0.0741799, test_stats.c). Sorted,
 * 2 · 0.0571910 = 0.114382 and 1 · 0.0741799 raised to it: both 0.114382. A third arm against
 * another reference is another family. */
static void test_summary_holm(void **state)
{
    (void)state;
    char root[256];
    make_temp_dir(root, sizeof root);
    static char dirs[9][1024];
    const double base[3] = {10, 12, 14}, ft[3] = {11, 14, 15}, b[3] = {11, 14, 17};
    ResultsRun runs[9];
    char name[64];
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "n%d", i + 1);
        fake_run(root, name, base[i], dirs[i], sizeof dirs[i]);
        runs[i] = (ResultsRun){"moco_v2", "none", NULL, i + 1, dirs[i]};
        snprintf(name, sizeof name, "f%d", i + 1);
        fake_run(root, name, ft[i], dirs[3 + i], sizeof dirs[3 + i]);
        runs[3 + i] = (ResultsRun){"moco_v2", "ft", "none", i + 1, dirs[3 + i]};
        snprintf(name, sizeof name, "b%d", i + 1);
        fake_run(root, name, b[i], dirs[6 + i], sizeof dirs[6 + i]);
        runs[6 + i] = (ResultsRun){"moco_v2", "b", "none", i + 1, dirs[6 + i]};
    }
    ResultsSummary s;
    assert_int_equal(results_summarize(runs, 9, &s), CLFT_OK);
    assert_int_equal(s.n, 3);
    assert_true(isnan(s.rows[0].p_holm));
    assert_true(fabs(s.rows[1].p_value - 0.05719095841793653) < 1e-9);
    assert_true(fabs(s.rows[2].p_value - 0.0741799002274) < 1e-9);
    assert_true(fabs(s.rows[1].p_holm - 2 * 0.05719095841793653) < 1e-9);
    assert_true(fabs(s.rows[2].p_holm - 2 * 0.05719095841793653) < 1e-9);
    results_summary_free(&s);
    /* "b" compared with "ft" instead: two families of one, each p its own */
    for (int i = 0; i < 3; i++)
        runs[6 + i].reference = "ft";
    assert_int_equal(results_summarize(runs, 9, &s), CLFT_OK);
    assert_true(s.rows[1].p_holm == s.rows[1].p_value && s.rows[2].p_holm == s.rows[2].p_value);
    results_summary_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_summary_statistics), cmocka_unit_test(test_summary_pretrain),
        cmocka_unit_test(test_collapse_statistic), cmocka_unit_test(test_ft_help_text),
        cmocka_unit_test(test_summary_holm),       cmocka_unit_test(test_results_md_markers),
        cmocka_unit_test(test_check_bands),        cmocka_unit_test(test_derive_envelope),
        cmocka_unit_test(test_check_bad_input),    cmocka_unit_test(test_matrices),
        cmocka_unit_test(test_expand_set),         cmocka_unit_test(test_skip_complete_runs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_eval.c — `clft eval` (downstream/eval.h, issue 6) on a tiny run pre-trained here on
 * synthetic data: the raw-pixel features against a hand normalisation of the images, the kNN rows
 * against a brute-force weighted kNN written out in this file, the linear rows, dataset views,
 * eval.csv rows appended with the documented columns, and the one-line errors of the built binary
 * for a run without a checkpoint, a checkpoint of another architecture and data with other
 * channels. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "core/data/augment.h"
#include "core/io/csv.h"
#include "downstream/eval.h"
#include "tests/test_util.h"

#define SPEC "synthetic:16x16x3:96:4"

static char g_dir[256];  /* temp root */
static char g_run[512];  /* the pre-trained run */
static char g_clft[512]; /* the built binary */

/* Runs a shell command; returns its exit status, its combined output in out (cap). */
static int run_cmd(const char *cmd, char *out, size_t cap)
{
    char full[4096];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p) fail_msg("popen failed: %s", cmd);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int rc = pclose(p);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int setup(void **state)
{
    (void)state;
    const char *b = getenv("CLFT_BUILD_DIR");
    snprintf(g_clft, sizeof g_clft, "%s/clft", b ? b : "build");
    make_temp_dir(g_dir, sizeof g_dir);
    snprintf(g_run, sizeof g_run, "%s/run", g_dir);
    char cmd[2048], out[8192];
    snprintf(cmd, sizeof cmd,
             "%s pretrain --baseline moco_v2 --data " SPEC " --preset smoke --out %s --quiet "
             "--set model.width=4 --set optim.batch=32 --set moco.K=64 --set moco.shuffle_groups=2 "
             "--set optim.epochs=1 --set data.train_limit=0 --set eval.knn_k=5",
             g_clft, g_run);
    if (run_cmd(cmd, out, sizeof out) != 0) fail_msg("pretrain failed: %s", out);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void open_run(EvalRun *r)
{
    EvalOptions opt = EVAL_OPTIONS_DEFAULT;
    opt.quiet = 1;
    opt.batch = 32;
    if (eval_run_open(r, g_run, &opt) != CLFT_OK) fail_msg("%s", clft_last_error());
    assert_int_equal(r->epoch, 1);
    assert_int_equal(r->in_channels, 3);
    assert_int_equal(r->size, 16);
}

/* Pixel features = (pixel / 255 − mean_c) / std_c in CHW order, computed here from dataset_get. */
static void test_pixel_features(void **state)
{
    (void)state;
    EvalRun r;
    open_run(&r);
    Dataset *test;
    assert_int_equal(eval_open_data(&r, SPLIT_TEST, NULL, 0, 0, &test), CLFT_OK);
    float *f;
    int *l, D;
    assert_int_equal(eval_features(&r, EVAL_SOURCE_PIXELS, test, &f, &l, &D), CLFT_OK);
    assert_int_equal(D, 3 * 16 * 16);
    const float mean[3] = {0.485f, 0.456f, 0.406f}, sd[3] = {0.229f, 0.224f, 0.225f};
    DataImage img = {0};
    double err = 0.0;
    for (int i = 0; i < test->n; i++) {
        assert_int_equal(dataset_get(test, i, 0, &img), CLFT_OK);
        assert_int_equal(l[i], img.label);
        for (int c = 0; c < 3; c++)
            for (int p = 0; p < 256; p++) {
                double want = (img.pixels[p * 3 + c] / 255.0 - mean[c]) / sd[c];
                double d = fabs(f[(size_t)i * D + c * 256 + p] - want);
                err = d > err ? d : err;
            }
    }
    assert_true(err < 1e-5);
    data_image_free(&img);
    free(f), free(l);
    dataset_free(test);
    eval_run_close(&r);
}

/* Brute-force InstDisc kNN top-1 (%) on features that are NOT yet normalised. */
static double brute_knn_top1(const float *tr, const int *ltr, int ntr, const float *te,
                             const int *lte, int nte, int D, int C, int k, double T)
{
    double *sim = malloc((size_t)ntr * sizeof(double)), *score = malloc((size_t)C * sizeof(double));
    char *used = malloc((size_t)ntr);
    long correct = 0;
    for (int q = 0; q < nte; q++) {
        double nq = 0.0;
        for (int d = 0; d < D; d++)
            nq += (double)te[(size_t)q * D + d] * te[(size_t)q * D + d];
        for (int i = 0; i < ntr; i++) {
            double dot = 0.0, ni = 0.0;
            for (int d = 0; d < D; d++) {
                dot += (double)te[(size_t)q * D + d] * tr[(size_t)i * D + d];
                ni += (double)tr[(size_t)i * D + d] * tr[(size_t)i * D + d];
            }
            sim[i] = dot / (sqrt(nq) * sqrt(ni));
        }
        memset(used, 0, (size_t)ntr);
        for (int c = 0; c < C; c++)
            score[c] = 0.0;
        for (int j = 0; j < k; j++) { /* j-th most similar, ties to the lower index */
            int best = -1;
            for (int i = 0; i < ntr; i++)
                if (!used[i] && (best < 0 || sim[i] > sim[best])) best = i;
            used[best] = 1;
            score[ltr[best]] += exp(sim[best] / T);
        }
        int pred = 0;
        for (int c = 1; c < C; c++)
            pred = score[c] > score[pred] ? c : pred;
        correct += pred == lte[q];
    }
    free(sim), free(score), free(used);
    return 100.0 * (double)correct / nte;
}

static const EvalRow *find_row(const EvalResults *res, const char *protocol, const char *metric)
{
    for (int i = 0; i < res->n; i++)
        if (!strcmp(res->rows[i].protocol, protocol) && !strcmp(res->rows[i].metric, metric))
            return &res->rows[i];
    fail_msg("no row %s/%s", protocol, metric);
    return NULL;
}

static void test_knn_rows_match_brute_force(void **state)
{
    (void)state;
    EvalRun r;
    open_run(&r);
    Dataset *train, *test;
    assert_int_equal(eval_open_data(&r, SPLIT_TRAIN, NULL, 0, 0, &train), CLFT_OK);
    assert_int_equal(eval_open_data(&r, SPLIT_TEST, NULL, 0, 0, &test), CLFT_OK);
    EvalResults res = {0};
    for (int s = 0; s < 3; s++) {
        assert_int_equal(eval_knn(&r, (EvalSource)s, train, test, "knn", SPEC, &res), CLFT_OK);
        float *ftr, *fte;
        int *ltr, *lte, D;
        assert_int_equal(eval_features(&r, (EvalSource)s, train, &ftr, &ltr, &D), CLFT_OK);
        assert_int_equal(eval_features(&r, (EvalSource)s, test, &fte, &lte, &D), CLFT_OK);
        double want = brute_knn_top1(ftr, ltr, train->n, fte, lte, test->n, D, 4, 5, 0.07);
        char name[32];
        eval_source_name(name, sizeof name, "knn", (EvalSource)s);
        const EvalRow *row = find_row(&res, name, "top1");
        assert_true(fabs(row->value - want) < 1e-9);
        assert_string_equal(row->dataset, SPEC);
        assert_int_equal(row->epoch, 1);
        free(ftr), free(fte), free(ltr), free(lte);
    }
    assert_int_equal(res.n, 6);
    assert_string_equal(res.rows[2].protocol, "knn_pixels");
    assert_string_equal(res.rows[4].protocol, "knn_random");
    eval_results_free(&res);
    dataset_free(train);
    dataset_free(test);
    eval_run_close(&r);
}

/* Linear probe rows for each source and mode; a view keeps the chosen samples. */
static void test_linear_rows_and_view(void **state)
{
    (void)state;
    EvalRun r;
    open_run(&r);
    Dataset *train, *test;
    assert_int_equal(eval_open_data(&r, SPLIT_TRAIN, NULL, 0, 0, &train), CLFT_OK);
    assert_int_equal(eval_open_data(&r, SPLIT_TEST, NULL, 0, 0, &test), CLFT_OK);
    int idx[3] = {1, 5, 10};
    Dataset *v = eval_view(train, idx, 3);
    assert_int_equal(v->n, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(v->labels[i], train->labels[idx[i]]);
        assert_int_equal(v->base[i], train->base[idx[i]]);
    }
    eval_view_free(v);
    EvalResults res = {0};
    EvalProbeTask t = {
        .protocol = "linear", .dataset = SPEC, .probe = EVAL_PROBE_CACHED, .epochs = 3, .lr = 1.0f};
    for (int s = 0; s < 3; s++)
        assert_int_equal(eval_linear(&r, (EvalSource)s, train, test, &t, NULL, &res), CLFT_OK);
    t.probe = EVAL_PROBE_AUGMENTED;
    assert_int_equal(eval_linear(&r, EVAL_SOURCE_ENCODER, train, test, &t, NULL, &res), CLFT_OK);
    assert_int_equal(res.n, 8);
    for (int i = 0; i < res.n; i += 2) {
        assert_string_equal(res.rows[i].metric, "top1");
        assert_string_equal(res.rows[i + 1].metric, "top5");
        assert_true(res.rows[i].value >= 0.0 && res.rows[i].value <= res.rows[i + 1].value);
    }
    /* 4 classes: every label is in the top 5 */
    assert_true(fabs(res.rows[1].value - 100.0) < 1e-9);
    /* seeded: the same probe again gives the same numbers */
    EvalResults again = {0};
    t.probe = EVAL_PROBE_CACHED;
    assert_int_equal(eval_linear(&r, EVAL_SOURCE_PIXELS, train, test, &t, NULL, &again), CLFT_OK);
    assert_true(again.rows[0].value == find_row(&res, "linear_pixels", "top1")->value);
    eval_results_free(&again);
    eval_results_free(&res);
    dataset_free(train);
    dataset_free(test);
    eval_run_close(&r);
}

/* Two CLI runs append 2 + 2 rows under one header. */
static void test_cli_appends_eval_csv(void **state)
{
    (void)state;
    char cmd[2048], out[8192], path[600];
    snprintf(cmd, sizeof cmd, "%s eval --run %s --protocol knn --no-baselines --quiet", g_clft,
             g_run);
    assert_int_equal(run_cmd(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "knn"));
    assert_int_equal(run_cmd(cmd, out, sizeof out), 0);
    snprintf(path, sizeof path, "%s/eval.csv", g_run);
    CsvTable t;
    if (csv_read(path, &t) != CLFT_OK) fail_msg("%s", clft_last_error());
    const char *cols[] = {"protocol", "dataset", "split", "metric", "value", "epoch"};
    assert_int_equal(t.ncol, 6);
    for (int c = 0; c < 6; c++)
        assert_string_equal(t.header[c], cols[c]);
    assert_int_equal(t.nrow, 4);
    for (int i = 0; i < 4; i++) {
        assert_string_equal(csv_cell(&t, i, 0), "knn");
        assert_string_equal(csv_cell(&t, i, 1), SPEC);
        assert_string_equal(csv_cell(&t, i, 2), "test");
        assert_string_equal(csv_cell(&t, i, 3), i % 2 ? "top5" : "top1");
        assert_string_equal(csv_cell(&t, i, 5), "1");
    }
    assert_string_equal(csv_cell(&t, 0, 4), csv_cell(&t, 2, 4)); /* deterministic */
    csv_table_free(&t);
}

/* Exit status 1 and exactly one line naming the mismatch. */
static void expect_error(const char *cmd, const char *needle)
{
    char out[8192];
    int rc = run_cmd(cmd, out, sizeof out);
    if (rc == 0) fail_msg("'%s' succeeded", cmd);
    if (!strstr(out, needle)) fail_msg("'%s': message lacks '%s': %s", cmd, needle, out);
    char *nl = strchr(out, '\n');
    if (nl && nl[1] != '\0') fail_msg("'%s': more than one line: %s", cmd, out);
}

static void test_cli_errors(void **state)
{
    (void)state;
    char cmd[2048];
    /* a run directory without a checkpoint */
    snprintf(cmd, sizeof cmd, "mkdir -p %s/noc && cp %s/config.ini %s/noc/", g_dir, g_run, g_dir);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s eval --run %s/noc --protocol knn --quiet", g_clft, g_dir);
    expect_error(cmd, "no checkpoint");
    /* a checkpoint of another architecture: the config says width 8, the weights are width 4 */
    snprintf(cmd, sizeof cmd, "sed 's/^width = 4/width = 8/' %s/config.ini > %s/noc/config.ini",
             g_run, g_dir);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd,
             "%s eval --run %s/noc --ckpt %s/ckpt/epoch0001-step000000003.safetensors "
             "--protocol knn --quiet",
             g_clft, g_dir, g_run);
    expect_error(cmd, "encoder_q.conv1.weight");
    /* data with another number of channels than the encoder */
    snprintf(cmd, sizeof cmd,
             "%s eval --run %s --protocol knn --data synthetic:16x16x1:64:4 --quiet", g_clft,
             g_run);
    expect_error(cmd, "has 1 channel; the encoder in");
    snprintf(cmd, sizeof cmd, "%s eval --run %s --protocol bogus", g_clft, g_run);
    expect_error(cmd, "is not knn, linear");
    snprintf(cmd, sizeof cmd, "%s eval --run %s --protocol transfer --quiet", g_clft, g_run);
    expect_error(cmd, "no held-out classes");
    snprintf(cmd, sizeof cmd, "%s eval --run %s --protocol knn --epochs -1", g_clft, g_run);
    expect_error(cmd, "clft: eval: --epochs '-1': not an integer in [1, 1000000000]");
    /* a directory where the latest checkpoint should be: named as such, not "out of memory" */
    snprintf(cmd, sizeof cmd,
             "mkdir -p %s/dirck/ckpt/epoch0009-step000000099.safetensors && cp %s/config.ini %s/dirck/",
             g_dir, g_run, g_dir);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s eval --run %s/dirck --protocol knn --quiet", g_clft, g_dir);
    expect_error(cmd, "epoch0009-step000000099.safetensors: not a regular file (a directory)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pixel_features),
        cmocka_unit_test(test_knn_rows_match_brute_force),
        cmocka_unit_test(test_linear_rows_and_view),
        cmocka_unit_test(test_cli_appends_eval_csv),
        cmocka_unit_test(test_cli_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

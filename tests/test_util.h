/* test_util.h — helpers shared by the cmocka tests: error norms, fixture loading, temp dirs.
 * Header-only (static functions) so each test is one translation unit. */
#ifndef CLFT_TEST_UTIL_H
#define CLFT_TEST_UTIL_H

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/backend/backend.h"
#include "core/io/safetensors.h"
#include "core/rng.h"

/* A test run once per host-memory backend: its state is the backend's name, e.g.
 *     TEST_ON(test_x, "cpu"), TEST_ON(test_x, "cpu-ref")
 * and the test takes its table with test_backend(state). */
#define TEST_ON(f, be) {#f " [" be "]", f, NULL, NULL, (void *)(be)}
static inline const Backend *test_backend(void **state)
{
    const Backend *be = backend_find((const char *)*state);
    if (!be) fail_msg("no backend '%s'", (const char *)*state);
    return be;
}

/* The two backends a parity test compares: argv[1] argv[2], else CLFT_PARITY="A B", else "cpu
 * cpu-ref". Returns 0; 77 (ctest's skip code) when one is not built or cannot open here (a GPU
 * test without a GPU); 2 for a malformed CLFT_PARITY. */
static inline int test_parity_backends(int argc, char **argv, const Backend *be[2])
{
    char name[2][32] = {"cpu", "cpu-ref"};
    const char *env = getenv("CLFT_PARITY");
    if (argc == 3) {
        snprintf(name[0], sizeof name[0], "%s", argv[1]);
        snprintf(name[1], sizeof name[1], "%s", argv[2]);
    } else if (env && sscanf(env, "%31s %31s", name[0], name[1]) != 2) {
        fprintf(stderr, "CLFT_PARITY='%s': expected two backend names\n", env);
        return 2;
    }
    for (int s = 0; s < 2; s++) {
        be[s] = backend_find(name[s]);
        if (!be[s]) {
            printf("skip: backend '%s' is not built (built: %s)\n", name[s], backend_names());
            return 77;
        }
        const char *prec = getenv("CLFT_PARITY_PRECISION");
        BackendOptions o = {.precision = s == 0 && prec && !strcmp(prec, "bf16")   ? PRECISION_BF16
                                         : s == 0 && prec && !strcmp(prec, "tf32") ? PRECISION_TF32
                                                                                  : PRECISION_FP32};
        if (be[s]->open && be[s]->open(&o) != CLFT_OK) {
            printf("skip: backend '%s' cannot open here: %s\n", name[s], clft_last_error());
            return 77;
        }
    }
    return 0;
}

/* The precision a parity test holds the first backend to: CLFT_PARITY_PRECISION=fp32|tf32|bf16. */
static inline const char *test_parity_precision(void)
{
    const char *p = getenv("CLFT_PARITY_PRECISION");
    return p && (!strcmp(p, "tf32") || !strcmp(p, "bf16")) ? p : "fp32";
}

/* max_i |a_i - b_i| / max(max_i |b_i|, floor): an error normalised by the reference's scale. */
static inline double rel_err(const float *a, const float *b, size_t n, double floor_)
{
    double num = 0.0, den = floor_;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > num || isnan(d)) num = isnan(d) ? INFINITY : d;
        if (fabs((double)b[i]) > den) den = fabs((double)b[i]);
    }
    return num / den;
}

/* Opens a committed fixture under tests/fixtures/ (tests run with the source dir as cwd). */
static inline void fixture_open(StFile *f, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "tests/fixtures/%s", name);
    if (st_read(f, path) != CLFT_OK) fail_msg("fixture: %s", clft_last_error());
}

/* The f32 tensor `name` of a fixture; fails the test if missing or of another size. */
static inline const float *fixture_f32(const StFile *f, const char *name, size_t numel)
{
    const StTensor *t = st_find(f, name);
    if (!t) fail_msg("fixture %s has no tensor '%s'", f->path, name);
    if (t->dtype != ST_F32 || t->nbytes != numel * sizeof(float))
        fail_msg("fixture %s: tensor '%s' has %zu bytes, expected %zu f32", f->path, name,
                 t->nbytes, numel);
    return (const float *)t->data;
}

/* Asserts rel_err(a, b) <= tol, printing the tensor name and the error on failure. */
#define ASSERT_CLOSE(what, a, b, n, tol)                                                         \
    do {                                                                                         \
        double e_ = rel_err((a), (b), (n), 1e-6);                                                \
        if (!(e_ <= (tol))) fail_msg("%s: relative error %.3g > tolerance %.3g", (what), e_, (double)(tol)); \
    } while (0)

/* x (rows, D) = rows of N(0, 1) draws scaled to unit length. */
static inline void test_unit_rows(float *x, int rows, int D, Rng *r)
{
    for (int i = 0; i < rows; i++) {
        double ss = 0.0;
        for (int d = 0; d < D; d++) {
            x[i * D + d] = (float)rng_normal(r);
            ss += (double)x[i * D + d] * x[i * D + d];
        }
        for (int d = 0; d < D; d++) x[i * D + d] /= (float)sqrt(ss);
    }
}

/* The temporary directories this test process made, removed when it exits (kept when
 * CLFT_KEEP_TEST_DIRS is set, to look at what a failing test wrote). */
#define TEST_MAX_TEMP_DIRS 256
#define TEST_TEMP_TEMPLATE "/tmp/clft-test-XXXXXX"
static char test_temp_dirs[TEST_MAX_TEMP_DIRS][sizeof TEST_TEMP_TEMPLATE];
static int test_n_temp_dirs;

static inline void remove_temp_dirs(void)
{
    if (getenv("CLFT_KEEP_TEST_DIRS")) return;
    for (int i = 0; i < test_n_temp_dirs; i++) {
        char cmd[sizeof TEST_TEMP_TEMPLATE + 16];
        snprintf(cmd, sizeof cmd, "rm -rf '%.*s'", (int)sizeof TEST_TEMP_TEMPLATE - 1, test_temp_dirs[i]);
        if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", test_temp_dirs[i]);
    }
}

/* A fresh temporary directory, removed with everything in it when the test process exits. */
static inline void make_temp_dir(char *out, size_t cap)
{
    if (cap < sizeof TEST_TEMP_TEMPLATE) fail_msg("make_temp_dir: buffer too small");
    memcpy(out, TEST_TEMP_TEMPLATE, sizeof TEST_TEMP_TEMPLATE);
    if (!mkdtemp(out)) fail_msg("mkdtemp failed");
    if (test_n_temp_dirs == 0 && atexit(remove_temp_dirs) != 0) fail_msg("atexit failed");
    if (test_n_temp_dirs == TEST_MAX_TEMP_DIRS)
        fail_msg("more than %d temporary directories", TEST_MAX_TEMP_DIRS);
    memcpy(test_temp_dirs[test_n_temp_dirs++], out, sizeof TEST_TEMP_TEMPLATE);
}

/* A temporary directory for a whole test group: cmocka_run_group_tests(tests, tmpdir_setup, NULL);
 * test_tmpdir() names it; it goes with the others when the process exits. */
static inline char *test_tmpdir(void)
{
    static char dir[256];
    return dir;
}

static inline int tmpdir_setup(void **state)
{
    (void)state;
    make_temp_dir(test_tmpdir(), 256);
    return 0;
}

#endif

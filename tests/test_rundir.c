/* test_rundir.c — run directories and checkpoint naming (core/io/rundir.c): mkdir -p, unwritable
 * paths, path_join, checkpoint names, latest-checkpoint lookup by (epoch, step), pruning. */
#include "tests/test_util.h"

#include <sys/stat.h>
#include <unistd.h>

#include "core/io/rundir.h"

#define ASSERT_ERR_HAS(substr)                                                                     \
    do {                                                                                           \
        if (!strstr(clft_last_error(), (substr)))                                                  \
            fail_msg("error '%s' does not mention '%s'", clft_last_error(), (substr));             \
    } while (0)

static void touch(const char *path)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fclose(fp);
}

static void test_path_join(void **state)
{
    (void)state;
    char out[16];
    assert_int_equal(path_join(out, sizeof out, "runs/a", "b.csv"), CLFT_OK);
    assert_string_equal(out, "runs/a/b.csv");
    assert_int_equal(path_join(out, sizeof out, "runs/", "b"), CLFT_OK);
    assert_string_equal(out, "runs/b");
    assert_int_equal(path_join(out, sizeof out, "runs/aaaaaaaa", "bbbbbb"), CLFT_ERR_VALUE);
}

static void test_create_and_ckpt(void **state)
{
    (void)state;
    char dir[256], run[512], path[1024], latest[1024];
    make_temp_dir(dir, sizeof dir);
    snprintf(run, sizeof run, "%s/runs/x/y", dir);
    assert_int_equal(rundir_create(run), CLFT_OK);
    assert_int_equal(rundir_create(run), CLFT_OK); /* idempotent */
    assert_int_equal(rundir_latest_ckpt(run, latest, sizeof latest), CLFT_OK);
    assert_string_equal(latest, ""); /* no ckpt/ yet */

    snprintf(path, sizeof path, "%s/ckpt", run);
    assert_int_equal(rundir_create(path), CLFT_OK);
    assert_int_equal(rundir_ckpt_path(run, 3, 1234, path, sizeof path), CLFT_OK);
    char want[1024];
    snprintf(want, sizeof want, "%s/ckpt/epoch0003-step000001234.safetensors", run);
    assert_string_equal(path, want);
    int e;
    long s;
    assert_int_equal(rundir_ckpt_parse("epoch0003-step000001234.safetensors", &e, &s), 1);
    assert_true(e == 3 && s == 1234);
    assert_int_equal(rundir_ckpt_parse("epoch0003-step000001234.safetensors.tmp.99", &e, &s), 0);
    assert_int_equal(rundir_ckpt_parse("latest.safetensors", &e, &s), 0);

    /* (epoch, step) order, not file-system order; temporaries and strays ignored */
    static const int eps[] = {2, 10, 9};
    static const long steps[] = {20, 100, 90};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(rundir_ckpt_path(run, eps[i], steps[i], path, sizeof path), CLFT_OK);
        touch(path);
    }
    snprintf(path, sizeof path, "%s/ckpt/epoch0011-step000000110.safetensors.tmp.42", run);
    touch(path);
    snprintf(path, sizeof path, "%s/ckpt/notes.txt", run);
    touch(path);
    assert_int_equal(rundir_latest_ckpt(run, latest, sizeof latest), CLFT_OK);
    snprintf(want, sizeof want, "%s/ckpt/epoch0010-step000000100.safetensors", run);
    assert_string_equal(latest, want);

    assert_int_equal(rundir_prune_ckpt(run, 1), CLFT_OK);
    snprintf(path, sizeof path, "%s/ckpt/epoch0009-step000000090.safetensors", run);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(access(want, F_OK), 0);

    /* a file in the way, and (when not root) an unwritable parent */
    snprintf(path, sizeof path, "%s/file", dir);
    touch(path);
    assert_int_equal(rundir_create(path), CLFT_ERR_IO);
    ASSERT_ERR_HAS(path);
    snprintf(path, sizeof path, "%s/file/sub", dir);
    assert_int_equal(rundir_create(path), CLFT_ERR_IO);
    ASSERT_ERR_HAS("file");
    if (geteuid() != 0) {
        snprintf(path, sizeof path, "%s/ro", dir);
        assert_int_equal(mkdir(path, 0555), 0);
        snprintf(path, sizeof path, "%s/ro/run", dir);
        assert_int_equal(rundir_create(path), CLFT_ERR_IO);
        ASSERT_ERR_HAS("Permission denied");
        snprintf(path, sizeof path, "%s/ro", dir);
        chmod(path, 0755);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_join),
        cmocka_unit_test(test_create_and_ckpt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

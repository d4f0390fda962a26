/* test_core.c — the foundations: RNG streams and distributions, arenas, strict parsing,
 * safetensors round trip and atomic writes. */
#include "tests/test_util.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/common.h"
#include "core/io/atomic.h"
#include "core/io/safetensors.h"
#include "core/rng.h"
#include "core/tensor.h"

static void test_rng_streams_repeat_and_differ(void **state)
{
    (void)state;
    Rng a, b, c;
    rng_init(&a, 42, RNG_STREAM_AUG, 3, 7);
    rng_init(&b, 42, RNG_STREAM_AUG, 3, 7);
    rng_init(&c, 42, RNG_STREAM_AUG, 3, 8);
    int same_c = 0;
    for (int i = 0; i < 100; i++) {
        uint64_t x = rng_u64(&a), y = rng_u64(&b), z = rng_u64(&c);
        assert_true(x == y);
        same_c += (x == z);
    }
    assert_int_equal(same_c, 0);
}

/* Saving the four state words and restoring them resumes the stream exactly. */
static void test_rng_state_resumes(void **state)
{
    (void)state;
    Rng a;
    rng_init(&a, 1, RNG_STREAM_FT, 0, 0);
    for (int i = 0; i < 10; i++) rng_beta(&a, 2.0, 2.0);
    Rng saved = a;
    double x = rng_beta(&a, 1.6, 1.6), y = rng_normal(&a);
    assert_true(rng_beta(&saved, 1.6, 1.6) == x);
    assert_true(rng_normal(&saved) == y);
}

/* Uniform mean 1/2, variance 1/12; normal mean 0, variance 1: within 5 standard errors. */
static void test_rng_moments(void **state)
{
    (void)state;
    Rng r;
    rng_init(&r, 7, RNG_STREAM_DATA, 0, 0);
    const int n = 200000;
    double su = 0, su2 = 0, sn = 0, sn2 = 0;
    for (int i = 0; i < n; i++) {
        double u = rng_uniform(&r), z = rng_normal(&r);
        assert_true(u >= 0.0 && u < 1.0);
        su += u;
        su2 += u * u;
        sn += z;
        sn2 += z * z;
    }
    double mu = su / n, vu = su2 / n - mu * mu, mz = sn / n, vz = sn2 / n - mz * mz;
    assert_true(fabs(mu - 0.5) < 5 * sqrt(1.0 / 12 / n));
    assert_true(fabs(vu - 1.0 / 12) < 5 * sqrt(1.0 / 180 / n)); /* Var(U²-ish) bound, loose */
    assert_true(fabs(mz) < 5 * sqrt(1.0 / n));
    assert_true(fabs(vz - 1.0) < 5 * sqrt(2.0 / n));
}

static void test_rng_below_and_permutation(void **state)
{
    (void)state;
    Rng r;
    rng_init(&r, 3, RNG_STREAM_ORDER, 0, 0);
    int counts[5] = {0};
    for (int i = 0; i < 50000; i++) counts[rng_below(&r, 5)]++;
    for (int k = 0; k < 5; k++) assert_true(abs(counts[k] - 10000) < 5 * 90); /* sd = sqrt(8000) */
    int perm[1000], seen[1000] = {0};
    rng_permutation(&r, perm, 1000);
    int fixed = 0;
    for (int i = 0; i < 1000; i++) {
        assert_true(perm[i] >= 0 && perm[i] < 1000);
        seen[perm[i]]++;
        fixed += perm[i] == i;
    }
    for (int i = 0; i < 1000; i++) assert_int_equal(seen[i], 1);
    assert_true(fixed < 10); /* expected 1 fixed point */
}

/* Planning pass counts, commit allocates exactly that, the second pass gets aligned pointers. */
static void test_arena_plan_commit(void **state)
{
    (void)state;
    Arena a;
    arena_init(&a, "acts", backend_find("cpu"));
    assert_null(arena_take(&a, 10));
    assert_null(arena_take(&a, 17));
    assert_int_equal(a.used, 16 + 32);
    arena_commit(&a);
    assert_int_equal(a.cap, 48);
    float *p = arena_take(&a, 10), *q = arena_take(&a, 17);
    assert_ptr_equal(q, p + 16);
    assert_int_equal(((uintptr_t)p) % 64, 0);
    assert_int_equal(((uintptr_t)q) % 64, 0);
    arena_reset(&a);
    assert_ptr_equal(arena_take(&a, 10), p);
    arena_free(&a);
}

static void test_parse_strict(void **state)
{
    (void)state;
    long v;
    double d;
    assert_int_equal(parse_int("42", 0, 100, &v), CLFT_OK);
    assert_int_equal(v, 42);
    assert_int_equal(parse_int("42x", 0, 100, &v), CLFT_ERR_VALUE);
    assert_int_equal(parse_int("", 0, 100, &v), CLFT_ERR_VALUE);
    assert_int_equal(parse_int("101", 0, 100, &v), CLFT_ERR_VALUE);
    assert_int_equal(parse_float("0.5", 0, 1, &d), CLFT_OK);
    assert_true(d == 0.5);
    assert_int_equal(parse_float("nan", -1e9, 1e9, &d), CLFT_ERR_VALUE);
    assert_int_equal(parse_float("1e", 0, 10, &d), CLFT_ERR_VALUE);
}

static void test_safetensors_round_trip_and_corruption(void **state)
{
    (void)state;
    char dir[64], path[128];
    make_temp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/x.safetensors", dir);
    float a[6] = {1, 2, 3, 4, 5, 6};
    int64_t b[2] = {-7, 1LL << 40};
    int64_t sa[2] = {2, 3}, sb[1] = {2};
    StWriter w;
    st_writer_init(&w);
    st_writer_add(&w, "layer1.0.conv1.weight", ST_F32, 2, sa, a);
    st_writer_add(&w, "step", ST_I64, 1, sb, b);
    st_writer_meta(&w, "config", "[train]\nlr = 0.03\n");
    assert_int_equal(st_write(&w, path), CLFT_OK);
    st_writer_free(&w);

    StFile f;
    assert_int_equal(st_read(&f, path), CLFT_OK);
    const StTensor *t = st_find(&f, "layer1.0.conv1.weight");
    assert_non_null(t);
    assert_int_equal(t->ndim, 2);
    assert_int_equal(t->shape[1], 3);
    assert_memory_equal(t->data, a, sizeof a);
    assert_memory_equal(st_find(&f, "step")->data, b, sizeof b);
    assert_string_equal(st_metadata(&f, "config"), "[train]\nlr = 0.03\n");
    assert_null(st_find(&f, "nope"));
    size_t full = f.size;
    st_close(&f);

    /* Truncate the file: reading must fail with a message naming the file. */
    assert_int_equal(truncate(path, (off_t)full - 4), 0);
    assert_int_equal(st_read(&f, path), CLFT_ERR_FORMAT);
    assert_non_null(strstr(clft_last_error(), path));
    assert_int_equal(st_read(&f, "/nonexistent/x.safetensors"), CLFT_ERR_IO);
    unlink(path);
    rmdir(dir);
}

/* A safetensors file of header `json` (padded to 8 bytes when pad) and `data_len` data bytes. */
static unsigned char *st_bytes(const char *json, size_t data_len, int pad, size_t *size)
{
    size_t h = strlen(json), hp = pad ? (h + 7) / 8 * 8 : h;
    *size = 8 + hp + data_len;
    unsigned char *b = calloc(*size, 1);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)hp >> (8 * i));
    memcpy(b + 8, json, h);
    memset(b + 8 + h, ' ', hp - h);
    for (size_t i = 0; i < data_len; i++) b[8 + hp + i] = (unsigned char)i;
    return b;
}

/* st_parse of (json, data_len) fails with a message holding `why`. */
static void expect_st_bad(const char *json, size_t data_len, const char *why)
{
    size_t n;
    unsigned char *b = st_bytes(json, data_len, 1, &n);
    StFile f;
    ClftStatus st = st_parse(&f, "t.safetensors", b, n);
    free(b);
    if (st == CLFT_OK) {
        st_close(&f);
        fail_msg("accepted %s", json);
    }
    assert_int_equal(st, CLFT_ERR_FORMAT);
    if (strncmp(clft_last_error(), "t.safetensors: ", 15) || !strstr(clft_last_error(), why))
        fail_msg("for %s: got '%s', expected '%s'", json, clft_last_error(), why);
    assert_null(f.bytes); /* nothing held after a failure */
}

#define E(name, dt, shape, b, e) "\"" name "\":{\"dtype\":\"" dt "\",\"shape\":" shape ",\"data_offsets\":[" b "," e "]}"

static void test_safetensors_rejects(void **state)
{
    (void)state;
    expect_st_bad("{" E("a", "F32", "[2]", "0", "8") "," E("b", "F32", "[2]", "4", "12") "}", 12,
                  "tensor 'b' [4, 12) overlaps tensor 'a' ending at 8");
    expect_st_bad("{" E("a", "F32", "[2]", "0", "8") "," E("b", "F32", "[1]", "12", "16") "}", 16,
                  "4 bytes before tensor 'b' belong to no tensor");
    expect_st_bad("{" E("a", "F32", "[2]", "0", "8") "}", 12,
                  "4 bytes after the last tensor belong to no tensor");
    /* offsets near 2^64: past 2^53 no JSON number is exact, and nothing may wrap */
    expect_st_bad("{" E("a", "F32", "[2]", "18446744073709551608", "0") "}", 8,
                  "tensor 'a' has data_offsets that are not two integers in [0, 2^53]");
    expect_st_bad("{" E("a", "F32", "[2]", "8", "0") "}", 8, "data offsets [8, 0) outside");
    /* 2^52 * 2^12 elements = 2^64: wraps to 0 elements, 0 bytes, matching offsets [0, 0] */
    expect_st_bad("{" E("a", "F32", "[4503599627370496,4096]", "0", "0") "}", 0,
                  "tensor 'a' has a shape whose byte count overflows 64 bits");
    expect_st_bad("{" E("a", "F32", "[2.5]", "0", "8") "}", 8, "not an integer in [0, 2^53]");
    expect_st_bad("{" E("a", "F32", "[-1]", "0", "8") "}", 8, "not an integer in [0, 2^53]");
    expect_st_bad("{" E("a", "F32", "[2]", "0", "8") "," E("a", "F32", "[2]", "8", "16") "}", 16,
                  "tensor 'a' appears twice in the header");
    expect_st_bad("{" E("a", "F32", "[3]", "0", "8") "}", 8, "has 8 bytes of data, its dtype and shape need 12");
    expect_st_bad("{" E("a", "BF16", "[2]", "0", "4") "}", 4, "unsupported dtype BF16");
    expect_st_bad("{\"a\":5}", 0, "tensor 'a' has a malformed header entry");
    /* damaged __metadata__ */
    expect_st_bad("{\"__metadata__\":{\"config\":5}}", 0, "__metadata__ entry 'config' is not a string");
    expect_st_bad("{\"__metadata__\":\"x\"}", 0, "__metadata__ is not a JSON object");
    expect_st_bad("{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}", 0, "__metadata__ entry 'a' appears twice");
    expect_st_bad("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "two __metadata__ entries");
    /* text JSON readers reject */
    expect_st_bad("{" E("\xff", "F32", "[2]", "0", "8") "}", 8, "the JSON header is not valid UTF-8");
    expect_st_bad("{" E("\xc0\xaf", "F32", "[2]", "0", "8") "}", 8, "not valid UTF-8"); /* overlong */
    expect_st_bad("{" E("a\\u0000b", "F32", "[2]", "0", "8") "}", 8, "holds \\u0000");
    expect_st_bad("{" E("a\tb", "F32", "[2]", "0", "8") "}", 8, "raw control character");
    expect_st_bad("{} x", 0, "header has text after its JSON object");
    expect_st_bad("[1]", 0, "header is not a JSON object");
    /* accepted: non-ASCII UTF-8, a zero-size tensor, and a header whose length is not a multiple
     * of 8 (the data is still 8-byte aligned in memory) */
    size_t n;
    unsigned char *b = st_bytes("{" E("\xc3\xa9t\xc3\xa9", "I64", "[2]", "0", "16") "," E("z", "F32", "[0]", "16", "16") "}", 16, 0, &n);
    StFile f;
    if (st_parse(&f, "ok", b, n) != CLFT_OK) fail_msg("%s", clft_last_error());
    const StTensor *t = st_find(&f, "\xc3\xa9t\xc3\xa9");
    assert_non_null(t);
    assert_int_equal((uintptr_t)t->data % 8, 0);
    assert_int_equal(((const unsigned char *)t->data)[9], 9);
    st_close(&f);
    free(b);
    /* an I64 at an offset that is not a multiple of 8 (after 3 F32) is copied to an aligned place */
    b = st_bytes("{" E("f", "F32", "[3]", "0", "12") "," E("i", "I64", "[1]", "12", "20") "}", 20, 1, &n);
    if (st_parse(&f, "ok", b, n) != CLFT_OK) fail_msg("%s", clft_last_error());
    t = st_find(&f, "i");
    assert_int_equal((uintptr_t)t->data % 8, 0);
    assert_int_equal(((const unsigned char *)t->data)[0], 12);
    assert_int_equal((uintptr_t)st_find(&f, "f")->data % 8, 0);
    st_close(&f);
    free(b);
    b = st_bytes("{" E("\xc3\xa9t\xc3\xa9", "I64", "[2]", "0", "16") "," E("z", "F32", "[0]", "16", "16") "}", 16, 0, &n);
    assert_int_equal(st_parse(&f, "ok", b, n), CLFT_OK);
    /* st_check names dtype and shape mismatches */
    assert_int_equal(st_check(&f, "\xc3\xa9t\xc3\xa9", ST_F32, 1, (int64_t[]){2}, &t), CLFT_ERR_FORMAT);
    assert_string_equal(clft_last_error(), "ok: tensor '\xc3\xa9t\xc3\xa9' has dtype I64, expected F32");
    assert_int_equal(st_check(&f, "z", ST_F32, 2, (int64_t[]){0, 3}, &t), CLFT_ERR_FORMAT);
    assert_string_equal(clft_last_error(), "ok: tensor 'z' has shape (0), expected (0, 3)");
    assert_int_equal(st_check(&f, "z", ST_F32, 1, (int64_t[]){0}, &t), CLFT_OK);
    assert_int_equal(st_check(&f, "y", ST_F32, 1, (int64_t[]){0}, &t), CLFT_ERR_FORMAT);
    assert_string_equal(clft_last_error(), "ok: no tensor 'y'");
    st_close(&f);
    free(b);
}

/* A directory, or metadata that is not UTF-8, is a one-line error (not an allocation of 2^63). */
static void test_safetensors_files(void **state)
{
    (void)state;
    char dir[64], path[128];
    make_temp_dir(dir, sizeof dir);
    StFile f;
    assert_int_equal(st_read(&f, dir), CLFT_ERR_IO);
    char want[160];
    snprintf(want, sizeof want, "%s: not a regular file (a directory)", dir);
    assert_string_equal(clft_last_error(), want);
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    StWriter w;
    char want2[300];
    st_writer_init(&w);
    st_writer_meta(&w, "config", "[run]\nname = caf\xe9\n"); /* Latin-1 */
    assert_int_equal(st_write(&w, path), CLFT_ERR_VALUE);
    snprintf(want2, sizeof want2,
             "%s: the value of metadata 'config' is not valid UTF-8 (a safetensors header is UTF-8 JSON)",
             path);
    assert_string_equal(clft_last_error(), want2);
    assert_int_equal(access(path, F_OK), -1); /* nothing written */
    st_writer_free(&w);
}

static void hang_at_exit(void)
{
    for (;;) pause();
}

/* clft_die runs no exit handlers or library destructors: with exit(), OpenBLAS's (pthread build)
 * destructor joined threads still starting under a memory limit and hung (> 60 s; 0.06 s with
 * _exit). Here a handler that never returns stands for any such destructor. */
static void test_die_runs_no_exit_handlers(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stderr)) _exit(3);
        atexit(hang_at_exit);
        clft_die("test: dying past an exit handler that never returns");
    }
    int status = 0;
    double t0 = clft_now();
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (clft_now() - t0 > 30) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fail_msg("clft_die did not exit within 30 s (hung in OpenBLAS's thread shutdown?)");
        }
        usleep(10000);
    }
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);
}

/* A failed atomic write leaves the previous file intact and no temporary behind. */
static void test_atomic_write_failure_keeps_previous(void **state)
{
    (void)state;
    char dir[64], path[128];
    make_temp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/result.csv", dir);
    AtomicFile af;
    assert_int_equal(atomic_open(&af, path), CLFT_OK);
    fputs("old\n", af.fp);
    assert_int_equal(atomic_commit(&af), CLFT_OK);
    /* /dev/full makes every write fail with ENOSPC: emulate it by writing through a full stream. */
    assert_int_equal(atomic_open(&af, path), CLFT_OK);
    fclose(af.fp);
    af.fp = fopen("/dev/full", "w");
    assert_non_null(af.fp);
    setvbuf(af.fp, NULL, _IONBF, 0);
    fputs("new\n", af.fp);
    assert_int_equal(atomic_commit(&af), CLFT_ERR_IO);
    FILE *f = fopen(path, "r");
    char buf[16] = {0};
    assert_non_null(fgets(buf, sizeof buf, f));
    fclose(f);
    assert_string_equal(buf, "old\n");
    assert_int_equal(access(af.tmp, F_OK), -1);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng_streams_repeat_and_differ),
        cmocka_unit_test(test_rng_state_resumes),
        cmocka_unit_test(test_rng_moments),
        cmocka_unit_test(test_rng_below_and_permutation),
        cmocka_unit_test(test_arena_plan_commit),
        cmocka_unit_test(test_parse_strict),
        cmocka_unit_test(test_safetensors_round_trip_and_corruption),
        cmocka_unit_test(test_safetensors_rejects),
        cmocka_unit_test(test_safetensors_files),
        cmocka_unit_test(test_die_runs_no_exit_handlers),
        cmocka_unit_test(test_atomic_write_failure_keeps_previous),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

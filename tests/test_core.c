/* test_core.c — the foundations: RNG streams and distributions, arenas, strict parsing,
 * safetensors round trip and atomic writes. */
#include "tests/test_util.h"

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
        cmocka_unit_test(test_atomic_write_failure_keeps_previous),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

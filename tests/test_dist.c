/* test_dist.c — what core/dist/dist.h promises without a second process (the 2-rank runs are
 * tests/test_dist.sh, under mpirun):
 *   - dist_combine_moments: R ranks' means and unbiased variances give the mean and unbiased
 *     variance of all their values (against the direct two-pass formula over the values);
 *   - a process that mpirun did not start has no communicator: rank 0 of 1, and the host
 *     collectives are copies or nothing;
 *   - the loader's shards: with R shards, shard r's batches are rows r·N/R ... of the unsharded
 *     batches, bit for bit (views, labels, indices), across two epochs and after a seek — the
 *     property that makes the data-parallel step the single process's (dist.h). */
#include "tests/test_util.h"

#include "baselines/baseline.h"
#include "core/data/augment.h"
#include "core/data/dataset.h"
#include "core/data/loader.h"
#include "core/dist/dist.h"

static void test_combine_moments(void **state)
{
    (void)state;
    enum { R = 3, n = 5 };
    Rng rng;
    rng_init(&rng, 7, 99, 0, 0);
    double x[R][n], mean[R], var[R];
    for (int r = 0; r < R; r++) {
        double m = 0, ss = 0;
        for (int i = 0; i < n; i++) m += (x[r][i] = rng_normal(&rng) * (r + 1) + r);
        m /= n;
        for (int i = 0; i < n; i++) ss += (x[r][i] - m) * (x[r][i] - m);
        mean[r] = m, var[r] = ss / (n - 1);
    }
    double all_m = 0, all_ss = 0;
    for (int r = 0; r < R; r++)
        for (int i = 0; i < n; i++) all_m += x[r][i];
    all_m /= R * n;
    for (int r = 0; r < R; r++)
        for (int i = 0; i < n; i++) all_ss += (x[r][i] - all_m) * (x[r][i] - all_m);
    double got_m, got_v;
    dist_combine_moments(mean, var, R, n, &got_m, &got_v);
    /* the same sums in another order: a few ulps of values of size ~10 */
    assert_true(fabs(got_m - all_m) < 1e-12);
    assert_true(fabs(got_v - all_ss / (R * n - 1)) < 1e-12);
}

static void test_single_process(void **state)
{
    (void)state;
    unsetenv("OMPI_COMM_WORLD_SIZE");
    Dist *d = (Dist *)1;
    assert_int_equal(dist_init(&d, NULL), CLFT_OK);
    assert_null(d);
    assert_int_equal(dist_rank(d), 0);
    assert_int_equal(dist_world(d), 1);
    assert_string_equal(dist_transport(d), "none");
    assert_int_equal(dist_all_ok(d, 1, "test"), 1);
    assert_int_equal(dist_all_ok(d, 0, "test"), 0);
    int in = 42, out = 0;
    dist_host_allgather(d, &out, &in, sizeof in, "test");
    assert_int_equal(out, 42);
    float x[2] = {1.5f, -2.0f};
    dist_allreduce_mean(d, x, 2, "test"); /* the mean over one rank */
    assert_true(x[0] == 1.5f && x[1] == -2.0f);
    /* -np 1 is one process too */
    setenv("OMPI_COMM_WORLD_SIZE", "1", 1);
    assert_int_equal(dist_init(&d, NULL), CLFT_OK);
    assert_null(d);
    unsetenv("OMPI_COMM_WORLD_SIZE");
    dist_finalize(d);
}

#define NB 8
#define S 16

/* `steps` batches of shard `shard` of `shards` (0: unsharded) from (epoch, step), into out. */
static void load(const Dataset *ds, int shards, int shard, int epoch, int step, int steps,
                 float *out, int *labels, int *indices)
{
    AugConfig a1 = aug_moco_v2(S, 3), a2 = aug_moco_v1(S, 3);
    LoaderOptions o = {.batch = NB, .threads = 2, .seed = 5, .views = 2, .aug1 = &a1, .aug2 = &a2,
                       .order = LOADER_SHUFFLE, .tail = LOADER_DROP_LAST, .shards = shards,
                       .shard = shard};
    Loader *l;
    assert_int_equal(loader_init(&l, ds, &o), CLFT_OK);
    loader_seek(l, epoch, step);
    const int n = shards > 1 ? NB / shards : NB;
    const size_t img = 3 * S * S;
    for (int k = 0; k < steps; k++) {
        LoaderBatch b;
        assert_int_equal(loader_next(l, &b), CLFT_OK);
        assert_int_equal(b.n, n);
        memcpy(out + (size_t)k * 2 * n * img, b.x1, n * img * sizeof(float));
        memcpy(out + ((size_t)k * 2 + 1) * n * img, b.x2, n * img * sizeof(float));
        memcpy(labels + k * n, b.labels, n * sizeof(int));
        memcpy(indices + k * n, b.indices, n * sizeof(int));
    }
    loader_free(l);
}

static void test_loader_shards(void **state)
{
    (void)state;
    Dataset *ds;
    assert_int_equal(dataset_open(&ds, "synthetic:24x20x3:60:6", SPLIT_TRAIN, NULL), CLFT_OK);
    enum { R = 4, STEPS = 9 }; /* 7 steps an epoch: 9 cross into the next epoch */
    const size_t img = 3 * S * S, n = NB / R;
    float *whole = calloc((size_t)STEPS * 2 * NB * img, sizeof(float));
    float *part = calloc((size_t)STEPS * 2 * n * img, sizeof(float));
    int lw[STEPS * NB], iw[STEPS * NB], lp[STEPS * NB], ip[STEPS * NB];
    load(ds, 0, 0, 0, 3, STEPS, whole, lw, iw);
    for (int r = 0; r < R; r++) {
        load(ds, R, r, 0, 3, STEPS, part, lp, ip);
        for (int k = 0; k < STEPS; k++)
            for (int v = 0; v < 2; v++) {
                const float *w = whole + ((size_t)k * 2 + v) * NB * img + r * n * img;
                const float *p = part + ((size_t)k * 2 + v) * n * img;
                assert_memory_equal(w, p, n * img * sizeof(float));
            }
        for (int k = 0; k < STEPS; k++) {
            assert_memory_equal(lw + k * NB + r * n, lp + k * n, n * sizeof(int));
            assert_memory_equal(iw + k * NB + r * n, ip + k * n, n * sizeof(int));
        }
    }
    /* shards that do not divide the batch, or with a short last batch, are refused */
    AugConfig a = aug_moco_v2(S, 3);
    Loader *l;
    LoaderOptions bad = {.batch = NB, .threads = 1, .seed = 5, .views = 1, .aug1 = &a,
                         .order = LOADER_SHUFFLE, .tail = LOADER_DROP_LAST, .shards = 3};
    assert_int_equal(loader_init(&l, ds, &bad), CLFT_ERR_VALUE);
    bad.shards = 2, bad.tail = LOADER_KEEP_LAST;
    assert_int_equal(loader_init(&l, ds, &bad), CLFT_ERR_VALUE);
    free(whole), free(part);
    dataset_free(ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_combine_moments),
        cmocka_unit_test(test_single_process),
        cmocka_unit_test(test_loader_shards),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

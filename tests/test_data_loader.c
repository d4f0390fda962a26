/* test_data_loader.c — the threaded loader (core/data/loader.c): batches are bit-identical with 1,
 * 2 and 4 worker threads, over two epochs; a seek to a mid-epoch step gives the same batches as the
 * uninterrupted run; each epoch visits every sample once; a sample's views match a direct call of
 * aug_apply with the (seed, epoch, index) stream; the short last batch with LOADER_KEEP_LAST. */
#include "tests/test_util.h"

#include "baselines/baseline.h"
#include "core/data/augment.h"
#include "core/data/dataset.h"
#include "core/data/loader.h"

#define NB 8
#define S 16

typedef struct {
    Dataset *ds;
    AugConfig a1, a2;
} Fix;

static int setup(void **state)
{
    Fix *f = calloc(1, sizeof *f);
    assert_int_equal(dataset_open(&f->ds, "synthetic:24x20x3:60:6", SPLIT_TRAIN, NULL), CLFT_OK);
    f->a1 = aug_moco_v2(S, 3);
    f->a2 = aug_moco_v1(S, 3);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fix *f = *state;
    dataset_free(f->ds);
    free(f);
    return 0;
}

static LoaderOptions opts(Fix *f, int threads)
{
    return (LoaderOptions){.batch = NB, .threads = threads, .seed = 11, .views = 2, .aug1 = &f->a1,
                           .aug2 = &f->a2, .order = LOADER_SHUFFLE, .tail = LOADER_DROP_LAST};
}

/* Runs `steps` batches and returns their concatenated x1, x2, labels, indices as floats. */
static float *run(Fix *f, int threads, int seek_epoch, int seek_step, int steps)
{
    Loader *l;
    LoaderOptions o = opts(f, threads);
    assert_int_equal(loader_init(&l, f->ds, &o), CLFT_OK);
    if (seek_epoch >= 0) loader_seek(l, seek_epoch, seek_step);
    size_t per = (size_t)NB * (2 * 3 * S * S + 2);
    float *out = calloc((size_t)steps * per, sizeof(float));
    for (int k = 0; k < steps; k++) {
        LoaderBatch b;
        assert_int_equal(loader_next(l, &b), CLFT_OK);
        assert_int_equal(b.n, NB);
        float *o_ = out + k * per;
        memcpy(o_, b.x1, sizeof(float) * NB * 3 * S * S);
        memcpy(o_ + NB * 3 * S * S, b.x2, sizeof(float) * NB * 3 * S * S);
        for (int j = 0; j < NB; j++) {
            o_[2 * NB * 3 * S * S + j] = (float)b.labels[j];
            o_[2 * NB * 3 * S * S + NB + j] = (float)b.indices[j];
        }
    }
    loader_free(l);
    return out;
}

static void test_thread_count_invariance_and_seek(void **state)
{
    Fix *f = *state;
    int steps = 2 * 7; /* 60 / 8 = 7 steps per epoch, two epochs */
    size_t per = (size_t)NB * (2 * 3 * S * S + 2);
    float *r1 = run(f, 1, -1, 0, steps), *r2 = run(f, 2, -1, 0, steps), *r4 = run(f, 4, -1, 0, steps);
    assert_memory_equal(r1, r2, steps * per * sizeof(float));
    assert_memory_equal(r1, r4, steps * per * sizeof(float));
    /* resume at epoch 0 step 4: the next 10 batches equal batches 4..13 */
    float *rs = run(f, 3, 0, 4, 10);
    assert_memory_equal(rs, r1 + 4 * per, 10 * per * sizeof(float));
    /* each epoch's 56 indices are distinct; the two epochs' orders differ */
    for (int e = 0; e < 2; e++) {
        int seen[60] = {0};
        for (int k = 0; k < 7; k++)
            for (int j = 0; j < NB; j++) {
                int idx = (int)r1[(e * 7 + k) * per + 2 * NB * 3 * S * S + NB + j];
                assert_true(idx >= 0 && idx < 60 && !seen[idx]);
                seen[idx] = 1;
            }
    }
    assert_memory_not_equal(r1 + 2 * NB * 3 * S * S + NB, r1 + 7 * per + 2 * NB * 3 * S * S + NB,
                            NB * sizeof(float));
    free(r1), free(r2), free(r4), free(rs);
}

/* The loader's views of sample i in epoch e are aug_apply(view 1) then aug_apply(view 2) from
 * rng_init(seed, RNG_STREAM_AUG, e, i). */
static void test_views_follow_sample_stream(void **state)
{
    Fix *f = *state;
    Loader *l;
    LoaderOptions o = opts(f, 2);
    assert_int_equal(loader_init(&l, f->ds, &o), CLFT_OK);
    loader_seek(l, 3, 2);
    LoaderBatch b;
    assert_int_equal(loader_next(l, &b), CLFT_OK);
    assert_int_equal(b.epoch, 3);
    assert_int_equal(b.step, 2);
    DataImage img = {0};
    AugScratch s = {0};
    float v1[3 * S * S], v2[3 * S * S];
    for (int j = 0; j < NB; j++) {
        assert_int_equal(dataset_get(f->ds, b.indices[j], 0, &img), CLFT_OK);
        assert_int_equal(b.labels[j], img.label);
        Rng r;
        rng_init(&r, 11, RNG_STREAM_AUG, 3, (uint64_t)b.indices[j]);
        aug_apply(&f->a1, &r, img.pixels, img.H, img.W, 3, v1, &s);
        aug_apply(&f->a2, &r, img.pixels, img.H, img.W, 3, v2, &s);
        assert_memory_equal(v1, b.x1 + (size_t)j * 3 * S * S, sizeof v1);
        assert_memory_equal(v2, b.x2 + (size_t)j * 3 * S * S, sizeof v2);
        assert_memory_not_equal(v1, v2, sizeof v1);
    }
    data_image_free(&img);
    aug_scratch_free(&s);
    loader_free(l);
}

static void test_keep_last_and_sequential(void **state)
{
    Fix *f = *state;
    Loader *l;
    LoaderOptions o = opts(f, 2);
    o.tail = LOADER_KEEP_LAST, o.order = LOADER_SEQUENTIAL, o.views = 1, o.batch = 25;
    assert_int_equal(loader_init(&l, f->ds, &o), CLFT_OK);
    assert_int_equal(loader_steps_per_epoch(l), 3);
    LoaderBatch b;
    int sizes[4] = {25, 25, 10, 25};
    for (int k = 0; k < 4; k++) {
        assert_int_equal(loader_next(l, &b), CLFT_OK);
        assert_int_equal(b.n, sizes[k]);
        assert_null(b.x2);
        assert_int_equal(b.indices[0], (k % 3) * 25);
        assert_int_equal(b.epoch, k / 3);
    }
    loader_free(l);
    o.tail = LOADER_DROP_LAST, o.batch = 61;
    assert_int_equal(loader_init(&l, f->ds, &o), CLFT_ERR_VALUE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thread_count_invariance_and_seek),
        cmocka_unit_test(test_views_follow_sample_stream),
        cmocka_unit_test(test_keep_last_and_sequential),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

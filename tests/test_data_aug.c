/* test_data_aug.c — the augmentations (core/data/augment.c): golden values from torchvision 0.14 +
 * Pillow with fixed parameters (tests/gen_golden_aug.py -> tests/fixtures/aug_golden.safetensors),
 * and distribution tests of the random parameters.
 *
 * Tolerances: the uint8 operations reproduce Pillow's integer/float arithmetic, so resize (22-bit
 * fixed point), brightness/contrast/saturation (float blend + truncation), hue (Pillow's HSV) and
 * grayscale (L24) must match exactly (0 grey levels). Blur is separable in float here and one 2-D
 * float conv in torchvision: sums differ in the last bits, so a value near .5 may round the other
 * way — at most 1 grey level. Normalised outputs: 1e-6 relative without blur; with blur 1 grey
 * level = 1/255/std ~ 0.0175 absolute, i.e. 0.0075 of the outputs' scale (~2.6). */
#include "tests/test_util.h"

#include "baselines/baseline.h"
#include "core/data/augment.h"
#include "core/rng.h"

static StFile golden;

static int setup(void **state)
{
    (void)state;
    fixture_open(&golden, "aug_golden.safetensors");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    st_close(&golden);
    return 0;
}

/* Copies a golden F32 tensor holding uint8 values into a fresh uint8 buffer. */
static uint8_t *golden_u8(const char *name, size_t n)
{
    const float *f = fixture_f32(&golden, name, n);
    uint8_t *u = malloc(n);
    for (size_t i = 0; i < n; i++)
        u[i] = (uint8_t)f[i];
    return u;
}

static void expect_u8(const char *what, const uint8_t *got, const char *golden_name, size_t n,
                      int max_levels)
{
    const float *want = fixture_f32(&golden, golden_name, n);
    int worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)got[i] - (int)want[i]);
        if (d > worst) worst = d, at = i;
    }
    if (worst > max_levels)
        fail_msg("%s: %d grey levels off at %zu (got %d, torchvision %d), tolerance %d", what,
                 worst, at, got[at], (int)want[at], max_levels);
}

#define RH 23
#define RW 31
#define GW 28

static void test_resize_matches_pil(void **state)
{
    (void)state;
    uint8_t *rgb = golden_u8("in_rgb", RH * RW * 3), *grey = golden_u8("in_grey", RH * GW);
    AugScratch s = {0};
    uint8_t out[20 * 20 * 3];
    aug_resize(rgb, RH, RW, 3, (AugBox){3, 5, 17, 22}, out, 9, 9, &s);
    expect_u8("resize down", out, "resize_down", 9 * 9 * 3, 0);
    aug_resize(rgb, RH, RW, 3, (AugBox){2, 1, 9, 7}, out, 20, 20, &s);
    expect_u8("resize up", out, "resize_up", 20 * 20 * 3, 0);
    aug_resize(grey, RH, GW, 1, (AugBox){0, 2, 20, 25}, out, 14, 14, &s);
    expect_u8("resize grey", out, "resize_grey", 14 * 14, 0);
    aug_scratch_free(&s);
    free(rgb), free(grey);
}

typedef void (*ColourOp)(uint8_t *, int, int, int, float);

static void check_colour(const char *name, ColourOp op, const float *factors, int with_grey)
{
    char key[64];
    uint8_t *rgb = golden_u8("in_rgb", RH * RW * 3), *grey = golden_u8("in_grey", RH * GW);
    uint8_t buf[RH * RW * 3];
    for (int k = 0; k < 2; k++) {
        memcpy(buf, rgb, sizeof buf);
        op(buf, RH, RW, 3, factors[k]);
        snprintf(key, sizeof key, "%s_%d", name, k);
        expect_u8(key, buf, key, RH * RW * 3, 0);
        if (!with_grey) continue;
        memcpy(buf, grey, RH * GW);
        op(buf, RH, GW, 1, factors[k]);
        snprintf(key, sizeof key, "%s_grey_%d", name, k);
        expect_u8(key, buf, key, RH * GW, 0);
    }
    free(rgb), free(grey);
}

static void test_colour_ops_match_pil(void **state)
{
    (void)state;
    check_colour("brightness", aug_brightness, (const float[]){1.3f, 0.7f}, 1);
    check_colour("contrast", aug_contrast, (const float[]){1.25f, 0.625f}, 1);
    check_colour("saturation", aug_saturation, (const float[]){1.375f, 0.75f}, 0);
    check_colour("hue", aug_hue, (const float[]){0.0625f, -0.09375f}, 0);
    const float *neg = fixture_f32(&golden, "hue_shift_neg", 1);
    assert_int_equal((uint8_t)(int)(-0.09375f * 255.0), (int)neg[0]); /* numpy's uint8 cast */
    uint8_t *rgb = golden_u8("in_rgb", RH * RW * 3);
    aug_grayscale(rgb, RH, RW, 3);
    expect_u8("grayscale", rgb, "grayscale", RH * RW * 3, 0);
    free(rgb);
}

/* Grey images: saturation, hue and grayscale leave them unchanged (skipped, not faked). */
static void test_grey_skips_colour_ops(void **state)
{
    (void)state;
    uint8_t *grey = golden_u8("in_grey", RH * GW), buf[RH * GW];
    memcpy(buf, grey, sizeof buf);
    aug_saturation(buf, RH, GW, 1, 0.2f);
    aug_hue(buf, RH, GW, 1, 0.3f);
    aug_grayscale(buf, RH, GW, 1);
    assert_memory_equal(buf, grey, sizeof buf);
    free(grey);
}

static void test_blur_matches_torchvision(void **state)
{
    (void)state;
    uint8_t *rgb = golden_u8("in_rgb", RH * RW * 3), *grey = golden_u8("in_grey", RH * GW);
    uint8_t buf[RH * RW * 3];
    AugScratch s = {0};
    memcpy(buf, rgb, sizeof buf);
    aug_blur(buf, RH, RW, 3, 1.5f, 7, &s);
    expect_u8("blur sigma 1.5 k 7", buf, "blur_a", RH * RW * 3, 1);
    memcpy(buf, rgb, sizeof buf);
    aug_blur(buf, RH, RW, 3, 0.5f, 3, &s);
    expect_u8("blur sigma 0.5 k 3", buf, "blur_b", RH * RW * 3, 1);
    memcpy(buf, grey, RH * GW);
    aug_blur(buf, RH, GW, 1, 1.0f, 5, &s);
    expect_u8("blur grey", buf, "blur_grey", RH * GW, 1);
    aug_scratch_free(&s);
    free(rgb), free(grey);
}

static void test_normalize_and_eval(void **state)
{
    (void)state;
    uint8_t *rgb = golden_u8("in_rgb", RH * RW * 3);
    AugConfig ev = aug_eval(20, 16, 3);
    float out[3 * RH * RW];
    aug_normalize(rgb, RH, RW, 3, ev.mean, ev.std, 1, out);
    ASSERT_CLOSE("ToTensor+Normalize+hflip", out,
                 fixture_f32(&golden, "normalize_flip", 3 * RH * RW), 3 * RH * RW, 1e-6);
    AugScratch s = {0};
    Rng r;
    rng_init(&r, 1, RNG_STREAM_AUG, 0, 0);
    aug_apply(&ev, &r, rgb, RH, RW, 3, out, &s);
    ASSERT_CLOSE("Resize(20)+CenterCrop(16)", out, fixture_f32(&golden, "eval_rgb", 3 * 16 * 16),
                 3 * 16 * 16, 1e-6);
    aug_scratch_free(&s);
    free(rgb);
}

/* Whole pipelines with fixed parameters: checks the order of the operations. */
static void test_pipelines_fixed_params(void **state)
{
    (void)state;
    uint8_t *rgb = golden_u8("in_rgb", RH * RW * 3);
    AugScratch s = {0};
    float out[3 * 16 * 16];
    AugConfig v2 = aug_moco_v2(16, 3);
    v2.blur_kernel = AUG_BLUR_KERNEL_FIXED, v2.blur_kernel_size = 5;
    AugParams p = {.box = {1, 2, 20, 26},
                   .jitter = 1,
                   .gray = 0,
                   .blur = 1,
                   .flip = 1,
                   .sigma = 0.8f,
                   .order = {AUG_JITTER_CONTRAST, AUG_JITTER_HUE, AUG_JITTER_BRIGHTNESS,
                             AUG_JITTER_SATURATION},
                   .factor = {1.125f, 0.75f, 1.25f, 0.03125f}};
    aug_apply_params(&v2, &p, rgb, RH, RW, 3, out, &s);
    /* blur allows 1 grey level: 1/255/0.224 = 0.0175 absolute; scale of the outputs ~2.6 */
    ASSERT_CLOSE("v2 fixed", out, fixture_f32(&golden, "v2_fixed", 3 * 16 * 16), 3 * 16 * 16,
                 0.0075);
    AugConfig v1 = aug_moco_v1(12, 3);
    AugParams q = {.box = {0, 0, 23, 31},
                   .jitter = 1,
                   .gray = 1,
                   .order = {AUG_JITTER_BRIGHTNESS, AUG_JITTER_CONTRAST, AUG_JITTER_SATURATION,
                             AUG_JITTER_HUE},
                   .factor = {0.875f, 1.375f, 1.0f, 0.0f}};
    aug_apply_params(&v1, &q, rgb, RH, RW, 3, out, &s);
    ASSERT_CLOSE("v1 fixed", out, fixture_f32(&golden, "v1_fixed", 3 * 12 * 12), 3 * 12 * 12, 1e-6);
    aug_scratch_free(&s);
    free(rgb);
}

/* Crop scale and log-ratio: within bounds, the scale mean as torchvision's get_params gives on a
 * 224x224 image (0.539 measured with torch over 20000 draws), log-ratio mean ~0, and the fallback.
 */
static void test_crop_distribution(void **state)
{
    (void)state;
    const float scale[2] = {0.2f, 1.0f}, ratio[2] = {3.0f / 4.0f, 4.0f / 3.0f};
    Rng r;
    rng_init(&r, 3, RNG_STREAM_AUG, 0, 0);
    int n = 20000;
    double sum_s = 0, sum_lr = 0;
    for (int i = 0; i < n; i++) {
        AugBox b;
        aug_crop_box(&r, 224, 224, scale, ratio, &b);
        assert_true(b.top >= 0 && b.left >= 0 && b.top + b.h <= 224 && b.left + b.w <= 224);
        double s = (double)b.h * b.w / (224.0 * 224.0), lr = log((double)b.w / b.h);
        assert_true(s > 0.19 && s <= 1.0);
        assert_true(lr > log(0.74) && lr < log(1.35));
        sum_s += s, sum_lr += lr;
    }
    /* mean of U(0.2, 1) is 0.6; on a square image an area s with ratio r fits only if s r <= 1 and
     * s / r <= 1, so large areas are often rejected and the mean falls */
    assert_true(sum_s / n > 0.52 && sum_s / n < 0.56); /* torchvision: 0.539 over 20000 draws */
    assert_true(fabs(sum_lr / n) < 0.01);
    /* a 10x1000 strip: no attempt fits the ratio range, so the fallback is the ratio-clamped centre
     */
    AugBox b;
    aug_crop_box(&r, 10, 1000, scale, ratio, &b);
    assert_int_equal(b.h, 10);
    assert_int_equal(b.w, 13); /* round(10 * 4/3) */
    assert_int_equal(b.left, (1000 - 13) / 2);
}

/* Probabilities of the v2 draws: flip 0.5, jitter 0.8, gray 0.2, blur 0.5 within 4 sigma; jitter
 * factors within their ranges with the right means; sigma ~ U(0.1, 2.0). */
static void test_draw_probabilities(void **state)
{
    (void)state;
    AugConfig c = aug_moco_v2(224, 3);
    Rng r;
    int n = 20000, flip = 0, jit = 0, gray = 0, blur = 0;
    double fsum[4] = {0}, sig = 0;
    for (int i = 0; i < n; i++) {
        rng_init(&r, 9, RNG_STREAM_AUG, 0, (uint64_t)i);
        AugParams p;
        aug_draw(&c, &r, 300, 400, &p);
        flip += p.flip, jit += p.jitter, gray += p.gray, blur += p.blur;
        for (int k = 0; k < 4; k++)
            fsum[k] += p.factor[k];
        assert_true(p.factor[0] >= 0.6f && p.factor[0] <= 1.4f);
        assert_true(p.factor[3] >= -0.1f && p.factor[3] <= 0.1f);
        assert_true(p.sigma >= 0.1f && p.sigma <= 2.0f);
        sig += p.sigma;
    }
    double tol = 4.0 * sqrt(0.25 / n);
    assert_true(fabs(flip / (double)n - 0.5) < tol);
    assert_true(fabs(jit / (double)n - 0.8) < tol);
    assert_true(fabs(gray / (double)n - 0.2) < tol);
    assert_true(fabs(blur / (double)n - 0.5) < tol);
    for (int k = 0; k < 3; k++)
        assert_true(fabs(fsum[k] / n - 1.0) < 0.01);
    assert_true(fabs(fsum[3] / n) < 0.003);
    assert_true(fabs(sig / n - 1.05) < 0.02);
    AugConfig v1 = aug_moco_v1(224, 3);
    AugParams p;
    aug_draw(&v1, &r, 300, 400, &p);
    assert_int_equal(p.jitter, 1); /* v1: jitter always */
    assert_int_equal(p.blur, 0);   /* v1: no blur */
}

/* Fills n bytes from a seeded stream. */
static void fill_random(uint8_t *p, size_t n, uint64_t seed)
{
    Rng r;
    rng_init(&r, seed, RNG_STREAM_DATA, 0, 0);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rng_below(&r, 256);
}

/* The optimised resize, normalisation and blur against their plain twins (augment_ref.c):
 * identical bytes/floats on random images, crop boxes and output sizes (down, up, one axis only,
 * copy), RGB and grey, flipped or not, blur sigma ~ U(0.1, 2). */
static void test_resize_normalize_match_reference(void **state)
{
    (void)state;
    enum { MAXS = 160 };
    uint8_t *src = malloc(MAXS * MAXS * 3), *a = malloc(MAXS * MAXS * 3),
            *b = malloc(MAXS * MAXS * 3);
    float *fa = malloc(sizeof(float) * MAXS * MAXS * 3),
          *fb = malloc(sizeof(float) * MAXS * MAXS * 3);
    const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    AugScratch s = {0};
    Rng r;
    rng_init(&r, 4, RNG_STREAM_AUG, 0, 0);
    for (int t = 0; t < 300; t++) {
        int C = t % 4 == 0 ? 1 : 3, H = 1 + (int)rng_below(&r, MAXS),
            W = 1 + (int)rng_below(&r, MAXS);
        fill_random(src, (size_t)H * W * C, (uint64_t)t);
        AugBox box = {.h = 1 + (int)rng_below(&r, (uint32_t)H),
                      .w = 1 + (int)rng_below(&r, (uint32_t)W)};
        box.top = (int)rng_below(&r, (uint32_t)(H - box.h + 1));
        box.left = (int)rng_below(&r, (uint32_t)(W - box.w + 1));
        int oh = 1 + (int)rng_below(&r, MAXS), ow = t % 3 ? oh : 1 + (int)rng_below(&r, MAXS);
        if (t % 5 == 1) ow = box.w;
        if (t % 7 == 2) oh = box.h;
        aug_resize(src, H, W, C, box, a, oh, ow, &s);
        aug_resize_ref(src, H, W, C, box, b, oh, ow);
        assert_memory_equal(a, b, (size_t)oh * ow * C);
        aug_normalize(src, H, W, C, mean, std, t & 1, fa);
        aug_normalize_ref(src, H, W, C, mean, std, t & 1, fb);
        assert_memory_equal(fa, fb, sizeof(float) * H * W * C);
        if (t % 10 || H < 14 || W < 14) continue;
        float sigma = 0.1f + 1.9f * (float)rng_uniform(&r);
        int ks = 2 * (int)ceilf(3.0f * sigma) + 1;
        memcpy(a, src, (size_t)H * W * C), memcpy(b, src, (size_t)H * W * C);
        aug_blur(a, H, W, C, sigma, ks, &s);
        aug_blur_ref(b, H, W, C, sigma, ks);
        assert_memory_equal(a, b, (size_t)H * W * C);
    }
    aug_scratch_free(&s);
    free(src), free(a), free(b), free(fa), free(fb);
}

/* The optimised colour operations against their plain twins: hue on every one of the 2^24 RGB
 * colours for one shift and on 2^20 random pixels for shifts across [-0.5, 0.5] (each tabulated
 * and branch-free step of aug_hue is exact, so the bytes must be identical), brightness /
 * contrast / saturation on random pixels with factors inside and outside [0, 1]. */
static void test_colour_ops_match_reference(void **state)
{
    (void)state;
    size_t n = (size_t)1 << 24;
    uint8_t *base = malloc(3 * n), *a = malloc(3 * n), *b = malloc(3 * n);
    for (size_t i = 0; i < n; i++)
        base[3 * i] = (uint8_t)(i >> 16), base[3 * i + 1] = (uint8_t)(i >> 8),
                 base[3 * i + 2] = (uint8_t)i;
    memcpy(a, base, 3 * n), memcpy(b, base, 3 * n);
    aug_hue(a, 4096, 4096, 3, 0.1f);
    aug_hue_ref(b, 4096, 4096, 3, 0.1f);
    assert_memory_equal(a, b, 3 * n);
    size_t m = (size_t)1 << 20;
    fill_random(base, 3 * m, 11);
    const float shifts[] = {-0.5f, -0.37f, -0.1f, -0.003f, 0.0f, 0.0027f, 0.0625f, 0.25f, 0.5f};
    for (int k = 0; k < (int)(sizeof shifts / sizeof *shifts); k++) {
        memcpy(a, base, 3 * m), memcpy(b, base, 3 * m);
        aug_hue(a, 1024, 1024, 3, shifts[k]);
        aug_hue_ref(b, 1024, 1024, 3, shifts[k]);
        assert_memory_equal(a, b, 3 * m);
    }
    typedef void (*PixelOp)(uint8_t *, int, int, int, float);
    const PixelOp fast[3] = {aug_brightness, aug_contrast, aug_saturation};
    const PixelOp ref[3] = {aug_brightness_ref, aug_contrast_ref, aug_saturation_ref};
    const float factors[] = {0.0f, 0.6f, 0.8137f, 1.0f, 1.2345f, 1.4f};
    for (int op = 0; op < 3; op++)
        for (int k = 0; k < (int)(sizeof factors / sizeof *factors); k++)
            for (int C = 1; C <= 3; C += 2) {
                memcpy(a, base, 3 * m), memcpy(b, base, 3 * m);
                fast[op](a, 512, 512, C, factors[k]);
                ref[op](b, 512, 512, C, factors[k]);
                assert_memory_equal(a, b, 3 * m);
            }
    free(base), free(a), free(b);
}

/* Fashion-MNIST eval (resize = crop = 28) is the identity + normalisation. */
static void test_eval_identity_28(void **state)
{
    (void)state;
    uint8_t img[28 * 28];
    for (int i = 0; i < 28 * 28; i++)
        img[i] = (uint8_t)(i * 7);
    AugConfig ev = aug_eval(28, 28, 1);
    AugScratch s = {0};
    Rng r;
    rng_init(&r, 0, 0, 0, 0);
    float out[28 * 28];
    aug_apply(&ev, &r, img, 28, 28, 1, out, &s);
    for (int i = 0; i < 28 * 28; i++)
        assert_true(fabsf(out[i] - (img[i] / 255.0f - 0.2860f) / 0.3530f) < 1e-6f);
    aug_scratch_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resize_matches_pil),
        cmocka_unit_test(test_colour_ops_match_pil),
        cmocka_unit_test(test_grey_skips_colour_ops),
        cmocka_unit_test(test_blur_matches_torchvision),
        cmocka_unit_test(test_normalize_and_eval),
        cmocka_unit_test(test_pipelines_fixed_params),
        cmocka_unit_test(test_crop_distribution),
        cmocka_unit_test(test_draw_probabilities),
        cmocka_unit_test(test_eval_identity_28),
        cmocka_unit_test(test_resize_normalize_match_reference),
        cmocka_unit_test(test_colour_ops_match_reference),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

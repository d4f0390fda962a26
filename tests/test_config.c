/* test_config.c — the run configuration (core/io/config.c) and its resolution from the baselines
 * and presets (baselines/moco.c, configs/<preset>.ini): defaults, INI loading, --set, error
 * messages that name the file, line, key and value, cross-field validation, write/load round trip.
 * Expected values are the paper's (PAPER.md §4-5) and the preset files', typed in by hand. */
#include "tests/test_util.h"

#include <stddef.h>
#include <unistd.h>

#include "baselines/baseline.h"
#include "core/io/config.h"

/* Writes `text` to test_tmpdir()/name and returns the path (static buffer). */
static const char *write_file(const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", test_tmpdir(), name);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    return path;
}

#define ASSERT_ERR_HAS(substr)                                                                     \
    do {                                                                                           \
        if (!strstr(clft_last_error(), (substr)))                                                  \
            fail_msg("error '%s' does not mention '%s'", clft_last_error(), (substr));             \
    } while (0)

/* MoCo v1's recipe on the schema's defaults, no preset: the configuration these tests start from.
 */
static void moco_v1_config(Config *c)
{
    if (config_resolve(c, "moco_v1", NULL, NULL) != CLFT_OK) fail_msg("%s", clft_last_error());
}

/* The schema has no value for the keys a recipe owns: the numbers live in baselines/ alone, and a
 * configuration without a recipe does not validate; with one it does. */
static void test_recipe_keys(void **state)
{
    (void)state;
    Config c;
    config_defaults(&c);
    assert_int_equal(c.eval.knn_k, 200); /* not a recipe's */
    assert_int_equal(config_validate(&c), CLFT_ERR_VALUE);
    assert_string_equal(clft_last_error(), "config: head.type has no value: a baseline's recipe "
                                           "sets it (config_resolve, --baseline)");
    char v[64];
    assert_int_equal(config_get(&c, "moco", "K", v, sizeof v), CLFT_OK);
    assert_string_equal(v, "(unset)");
    assert_int_equal(config_set(&c, "head.type=mlp"), CLFT_OK);
    assert_int_equal(config_validate(&c), CLFT_ERR_VALUE);
    ASSERT_ERR_HAS("head.dim has no value");
    for (int b = 0; b < 2; b++) {
        assert_int_equal(config_resolve(&c, b ? "moco_v2" : "moco_v1", NULL, NULL), CLFT_OK);
        assert_int_equal(config_validate(&c), CLFT_OK);
    }
}

static void test_defaults(void **state)
{
    (void)state;
    Config c;
    moco_v1_config(&c);
    assert_int_equal(c.moco.K, 65536);
    assert_int_equal(c.moco.shuffle_groups, 8);
    assert_int_equal(c.head.dim, 128);
    assert_int_equal(c.eval.knn_k, 200);
    assert_true(c.eval.knn_t == 0.07);
    assert_true(c.eval.linear_lr == 30.0);
    assert_int_equal(c.eval.linear_batch, 256);
    assert_int_equal(c.eval.longtail_rho, 100);
    assert_int_equal(c.optim.milestones.n, 2);
    assert_int_equal(c.optim.milestones.v[0], 120);
    assert_int_equal(c.optim.milestones.v[1], 160);
    assert_int_equal(c.data.classes.n, 0);
    assert_int_equal(c.eval.semisup_fractions.n, 2);
    assert_true(c.eval.semisup_fractions.v[0] == 0.01);
    assert_string_equal(c.variant.name, "none");
    assert_int_equal(c.variant.n, 0);
    assert_int_equal(c.model.arch, ARCH_RESNET50);
    assert_int_equal(config_validate(&c), CLFT_OK);
}

static void test_load_ini(void **state)
{
    (void)state;
    const char *path = write_file("a.ini", "# comment\n"
                                           "[model]\n"
                                           "arch = resnet_small\n"
                                           "width = 16 ; inline comment\n"
                                           "[optim]\n"
                                           "lr=0.5\n"
                                           "milestones = 3, 7 ,9\n"
                                           "[data]\n"
                                           "spec = imagefolder:/some dir/x\n"
                                           "classes =\n"
                                           "[variant]\n"
                                           "name = ft\n"
                                           "alpha_ex = 2.0\n"
                                           "alpha_in = 1.6\n"
                                           "[moco_v2.optim]\n"
                                           "lr = 9\n"
                                           "[moco_v1.moco]\n"
                                           "T = 0.5\n");
    Config c;
    config_defaults(&c); /* baseline moco_v1: [moco_v1.*] applies, [moco_v2.*] does not */
    snprintf(c.moco.baseline, sizeof c.moco.baseline, "moco_v1");
    c.data.classes = (ConfigIntList){.n = 1, .v = {4}};
    assert_int_equal(config_load_ini(&c, path), CLFT_OK);
    assert_int_equal(c.model.arch, ARCH_RESNET_SMALL);
    assert_int_equal(c.model.width, 16);
    assert_true(c.optim.lr == 0.5);
    assert_true(c.moco.T == 0.5);
    assert_int_equal(c.optim.milestones.n, 3);
    assert_int_equal(c.optim.milestones.v[2], 9);
    assert_string_equal(c.data.spec, "imagefolder:/some dir/x");
    assert_int_equal(c.data.classes.n, 0);
    assert_string_equal(c.variant.name, "ft");
    assert_int_equal(c.variant.n, 2);
    assert_string_equal(c.variant.pairs[0].key, "alpha_ex");
    assert_string_equal(c.variant.pairs[1].value, "1.6");
    assert_string_equal(config_variant_get(&c, "alpha_ex"), "2.0");
    assert_null(config_variant_get(&c, "lambda"));
}

/* Loads `text` from a file; expects `want` and an error mentioning each of the substrings. */
static void expect_load_error(const char *text, ClftStatus want, const char *const *subs)
{
    const char *path = write_file("bad.ini", text);
    Config c, before;
    config_defaults(&c);
    before = c;
    assert_int_equal(config_load_ini(&c, path), want);
    ASSERT_ERR_HAS(path);
    for (int i = 0; subs[i]; i++)
        ASSERT_ERR_HAS(subs[i]);
    assert_memory_equal(&c, &before, sizeof c); /* all or nothing */
}

static void test_load_errors(void **state)
{
    (void)state;
    expect_load_error("[optim]\nlr = 0.1\nlrr = 0.2\n", CLFT_ERR_VALUE,
                      (const char *[]){":3:", "lrr", "optim", NULL});
    expect_load_error("[optm]\nlr = 0.1\n", CLFT_ERR_VALUE,
                      (const char *[]){":2:", "optm", "unknown section", NULL});
    expect_load_error("[optim]\n\nlr = abc\n", CLFT_ERR_VALUE,
                      (const char *[]){":3:", "lr", "'abc'", "not a finite number", NULL});
    expect_load_error("[moco]\nm = 1.5\n", CLFT_ERR_VALUE,
                      (const char *[]){":2:", "m", "1.5", "out of range", "[0, 1]", NULL});
    expect_load_error("[optim]\nbatch = 12.5\n", CLFT_ERR_VALUE,
                      (const char *[]){"batch", "12.5", "not an integer", NULL});
    expect_load_error("[model]\narch = resnet19\n", CLFT_ERR_VALUE,
                      (const char *[]){"arch", "resnet19", "resnet_small", NULL});
    expect_load_error("[optim]\nmilestones = 3,x\n", CLFT_ERR_VALUE,
                      (const char *[]){"milestones", "3,x", NULL});
    expect_load_error("[optim]\nthis line has no equals sign\n", CLFT_ERR_FORMAT,
                      (const char *[]){":2:", NULL});
    expect_load_error("lr = 1\n", CLFT_ERR_VALUE, (const char *[]){":1:", "outside", NULL});
    /* an unterminated header is named as such, not as "a key outside any [section]" */
    expect_load_error("[optim\nlr = 0.1\n", CLFT_ERR_FORMAT,
                      (const char *[]){":1: unterminated section header '[optim' (no closing ']')", NULL});
    expect_load_error("[run]\nseed = 1\n  [optim\nlr = 0.1\n", CLFT_ERR_FORMAT,
                      (const char *[]){":3: unterminated section header '[optim'", NULL});
    /* text that is not UTF-8 (it would be written raw into every checkpoint's JSON header) */
    expect_load_error("[run]\nname = caf\xe9\n", CLFT_ERR_VALUE,
                      (const char *[]){":2:", "[run] name", "not valid UTF-8 text", NULL});
    expect_load_error("[variant]\nname = ft\nalpha = \xff\n", CLFT_ERR_VALUE,
                      (const char *[]){":3:", "alpha", "not valid UTF-8", NULL});
    expect_load_error("[.optim]\nlr = 1\n", CLFT_ERR_VALUE,
                      (const char *[]){".optim", "baseline name before the dot", NULL});
    /* an inactive per-baseline section is still checked */
    expect_load_error("[moco_v2.optim]\nlrr = 1\n", CLFT_ERR_VALUE,
                      (const char *[]){":2:", "lrr", NULL});
    char longline[400];
    snprintf(longline, sizeof longline, "[run]\nname = %0300d\n", 7);
    expect_load_error(longline, CLFT_ERR_FORMAT, (const char *[]){":2:", "longer", NULL});

    Config c;
    config_defaults(&c);
    assert_int_equal(config_load_ini(&c, "/nonexistent/x.ini"), CLFT_ERR_IO);
    ASSERT_ERR_HAS("/nonexistent/x.ini");
    /* a directory is not an empty config */
    assert_int_equal(config_load_ini(&c, test_tmpdir()), CLFT_ERR_IO);
    ASSERT_ERR_HAS("not a regular file (a directory)");
}

static void test_set(void **state)
{
    (void)state;
    Config c;
    moco_v1_config(&c);
    assert_int_equal(config_set(&c, "optim.lr=0.125"), CLFT_OK);
    assert_true(c.optim.lr == 0.125);
    /* head.type's words are HeadKind's (none is MoCo's to refuse: test_train.c) */
    assert_int_equal(c.head.type, HEAD_LINEAR);
    assert_int_equal(config_set(&c, "head.type=mlp"), CLFT_OK);
    assert_int_equal(c.head.type, HEAD_MLP);
    assert_int_equal(config_set(&c, "head.type=none"), CLFT_OK);
    assert_int_equal(c.head.type, HEAD_NONE);
    assert_int_equal(config_set(&c, "data.classes=1,2,3"), CLFT_OK);
    assert_int_equal(c.data.classes.n, 3);
    assert_int_equal(config_set(&c, "variant.lambda=0.5"), CLFT_OK);
    assert_int_equal(config_set(&c, "variant.lambda=0.25"), CLFT_OK); /* replaces, keeps order */
    assert_int_equal(c.variant.n, 1);
    assert_string_equal(c.variant.pairs[0].value, "0.25");
    assert_int_equal(config_set(&c, "optim.lrr=1"), CLFT_ERR_VALUE);
    ASSERT_ERR_HAS("--set optim.lrr=1");
    ASSERT_ERR_HAS("lrr");
    assert_int_equal(config_set(&c, "moco.K=-5"), CLFT_ERR_VALUE);
    ASSERT_ERR_HAS("out of range");
    ASSERT_ERR_HAS("-5");
    assert_int_equal(config_set(&c, "optim.lr"), CLFT_ERR_VALUE);
    ASSERT_ERR_HAS("section.key=value");
    assert_int_equal(config_set(&c, "lr=3"), CLFT_ERR_VALUE);
    assert_int_equal(config_set(&c, "run.name=a;b"), CLFT_ERR_VALUE);
    assert_int_equal(config_set(&c, "variant.bad-key=1"), CLFT_ERR_VALUE);
    assert_int_equal(config_set(&c, "run.name=caf\xc3\xa9"), CLFT_OK); /* UTF-8 is fine */
    assert_int_equal(config_set(&c, "run.name=caf\xe9"), CLFT_ERR_VALUE); /* Latin-1 is not */
    assert_string_equal(clft_last_error(),
                        "--set run.name=caf\xe9: [run] name = 'caf\xe9': not valid UTF-8 text");
    assert_int_equal(config_set(&c, "data.spec=a\x01b"), CLFT_ERR_VALUE);
    ASSERT_ERR_HAS("control characters");
    assert_true(c.optim.lr == 0.125);
}

static void test_validate(void **state)
{
    (void)state;
    static const char *const bad[][2] = {
        {"optim.batch=100", "shuffle_groups"}, /* 100 % 8 != 0 */
        {"moco.K=128", "moco.K"},              /* K < batch 256 */
        {"optim.warmup_epochs=200", "warmup"}, /* warm-up >= epochs */
        {"optim.milestones=160,120", "increasing"},
        {"optim.milestones=120,200", "below"},
        {"aug.scale_min=0.9", "scale"}, /* with scale_max 0.5 below */
        {"data.classes=1,2,1", "twice"},
        {"eval.semisup_fractions=0,0.1", "semisup"},
        {"run.threads=1024", "run.threads 1024 is more than 4 x the"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        Config c;
        moco_v1_config(&c);
        assert_int_equal(config_set(&c, bad[i][0]), CLFT_OK);
        if (i == 5) assert_int_equal(config_set(&c, "aug.scale_max=0.5"), CLFT_OK);
        if (config_validate(&c) == CLFT_OK) fail_msg("'%s' should not validate", bad[i][0]);
        ASSERT_ERR_HAS(bad[i][1]);
    }
    /* milestones at or past the end are harmless when the schedule is not step */
    Config c;
    moco_v1_config(&c);
    assert_int_equal(config_set(&c, "optim.milestones=300"), CLFT_OK);
    assert_int_equal(config_set(&c, "optim.schedule=cosine"), CLFT_OK);
    assert_int_equal(config_validate(&c), CLFT_OK);
    /* ... but they must still increase, as the help says, whatever the schedule */
    assert_int_equal(config_set(&c, "optim.milestones=5,3"), CLFT_OK);
    assert_int_equal(config_validate(&c), CLFT_ERR_VALUE);
    assert_string_equal(clft_last_error(), "config: optim.milestones must be strictly increasing (epochs 200)");
    /* run.threads up to 4 x the online CPUs */
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    char set[64];
    snprintf(set, sizeof set, "run.threads=%ld", 4 * cpus < 1024 ? 4 * cpus : 1024);
    moco_v1_config(&c);
    assert_int_equal(config_set(&c, set), CLFT_OK);
    assert_int_equal(config_validate(&c), CLFT_OK);
}

static void test_round_trip(void **state)
{
    (void)state;
    static const char *const sets[] = {
        "run.name=my run, v2",
        "run.seed=12345",
        "run.out=runs/x y",
        "run.device=cuda",
        "model.arch=resnet_small",
        "model.stem=small",
        "head.type=mlp",
        "head.hidden=512",
        "moco.m=0.99",
        "moco.T=0.123456789012345",
        "optim.lr=0.1",
        "optim.weight_decay=5e-5",
        "optim.milestones=",
        "optim.schedule=cosine",
        "data.classes=0,3,9",
        "data.subset=imagenet100",
        "aug.preset=none",
        "aug.blur_p=0.3",
        "eval.semisup_fractions=0.001,0.25,1",
        "eval.knn_t=0.1",
        "variant.name=ft",
        "variant.alpha_ex=2.0",
        "variant.mode=a b",
        "variant.zeta=1e-3",
    };
    Config a, b;
    moco_v1_config(&a);
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        if (config_set(&a, sets[i]) != CLFT_OK) fail_msg("%s", clft_last_error());
    a.moco.m = 1.0 / 3.0; /* a double that needs 17 digits */
    char path[512];
    snprintf(path, sizeof path, "%s/config.ini", test_tmpdir());
    char extra[400];
    snprintf(extra, sizeof extra, "BLAS core: Haswell\nthreads: 2\nmachine: %0250d", 0);
    assert_int_equal(config_write(&a, path, extra), CLFT_OK); /* a long comment line is fine */
    config_defaults(&b);
    if (config_load_ini(&b, path) != CLFT_OK) fail_msg("%s", clft_last_error());
    /* The value is every byte before variant_origin (which records where keys came from). */
    assert_memory_equal(&a, &b, offsetof(Config, variant_origin));
    assert_true(b.moco.m == 1.0 / 3.0);
    assert_string_equal(b.variant.pairs[1].key, "mode");
    assert_string_equal(b.variant.pairs[1].value, "a b");
    assert_string_equal(b.run.name, "my run, v2");

    FILE *fp = fopen(path, "r");
    char text[8192] = "";
    size_t n = fread(text, 1, sizeof text - 1, fp);
    fclose(fp);
    text[n] = '\0';
    assert_non_null(strstr(text, "# clft " CLFT_VERSION " (commit " CLFT_GIT_COMMIT ")"));
    assert_non_null(strstr(text, "# BLAS core: Haswell\n# threads: 2\n"));
    char *s = config_to_string(&a);
    assert_non_null(strstr(s, "[moco]\n"));
    assert_non_null(strstr(s, "\nmilestones = \n"));
    assert_non_null(strstr(s, "\nclasses = 0,3,9\n"));
    assert_non_null(strstr(s, "\nsemisup_fractions = 0.001,0.25,1\n"));
    assert_non_null(strstr(s, "\nname = ft\nalpha_ex = 2.0\nmode = a b\nzeta = 1e-3\n"));
    free(s);
}

static ClftStatus record_variant(void *opts, const char *key, const char *value)
{
    char *log = opts;
    if (!strcmp(key, "bogus")) {
        clft_set_error("unknown option");
        return CLFT_ERR_VALUE;
    }
    strcat(log, key);
    strcat(log, "=");
    strcat(log, value);
    strcat(log, ";");
    return CLFT_OK;
}

static void test_apply_variant(void **state)
{
    (void)state;
    const char *path = write_file("v.ini", "[variant]\nname = ft\nb = 2\na = 1\n\nbogus = 3\n");
    Config c;
    config_defaults(&c);
    assert_int_equal(config_load_ini(&c, path), CLFT_OK);
    char log[256] = "";
    assert_int_equal(config_apply_variant(&c, record_variant, log), CLFT_ERR_VALUE);
    assert_string_equal(log, "b=2;a=1;");
    ASSERT_ERR_HAS(path);
    ASSERT_ERR_HAS(":6:");
    ASSERT_ERR_HAS("bogus");
    ASSERT_ERR_HAS("unknown option");
}

static void test_aug_resolve_and_help(void **state)
{
    (void)state;
    Config c;
    ConfigAug a;
    moco_v1_config(&c);
    assert_int_equal(config_set(&c, "aug.preset=moco_v2"), CLFT_OK);
    assert_int_equal(baseline_aug_resolve(&c, &a), CLFT_OK);
    assert_true(a.jitter_p == 0.8f && a.blur_p == 0.5f && a.gray_p == 0.2f); /* augment.c's */
    assert_true(a.scale_min == 0.2f && a.scale_max == 1.0f && a.flip_p == 0.5f);
    assert_int_equal(config_set(&c, "aug.preset=moco_v1"), CLFT_OK);
    assert_int_equal(baseline_aug_resolve(&c, &a), CLFT_OK);
    assert_true(a.jitter_p == 1.0f && a.blur_p == 0.0f);
    assert_int_equal(config_set(&c, "aug.preset=moco_v2"), CLFT_OK);
    assert_int_equal(config_set(&c, "aug.flip_p=0"), CLFT_OK);
    assert_int_equal(baseline_aug_resolve(&c, &a), CLFT_OK);
    assert_true(a.flip_p == 0.0);
    /* the recipes are baselines/'s: an unknown name, and a scale range empty only with the
     * recipe's own end (0.2), are refused by baseline_validate, not by core's config_validate */
    assert_int_equal(baseline_validate(&c), CLFT_OK);
    assert_int_equal(config_set(&c, "aug.scale_max=0.1"), CLFT_OK);
    assert_int_equal(config_validate(&c), CLFT_OK);
    assert_int_equal(baseline_validate(&c), CLFT_ERR_VALUE);
    ASSERT_ERR_HAS("[0.2, 0.1]");
    assert_int_equal(config_set(&c, "aug.preset=mocov3"), CLFT_OK);
    assert_int_equal(baseline_validate(&c), CLFT_ERR_VALUE);
    ASSERT_ERR_HAS("aug.preset 'mocov3'");
    AugConfig t;
    assert_int_equal(baseline_train_aug(&c, 28, 1, &t), CLFT_ERR_VALUE);
    assert_int_equal(config_set(&c, "aug.preset=none"), CLFT_OK);
    assert_int_equal(baseline_train_aug(&c, 28, 1, &t), CLFT_OK);
    assert_int_equal(t.order, AUG_ORDER_EVAL);
    assert_string_equal(config_enum_name("model", "arch", ARCH_RESNET_SMALL), "resnet_small");

    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    Config v1, v2;
    moco_v1_config(&v1);
    assert_int_equal(config_resolve(&v2, "moco_v2", NULL, NULL), CLFT_OK);
    config_print_help(fp, (const Config *[]){&v1, &v2}, (const char *[]){"moco_v1", "moco_v2"}, 2);
    fclose(fp);
    int n;
    const ConfigKey *k = config_schema(&n);
    assert_true(n > 50);
    for (int i = 0; i < n; i++)
        assert_non_null(strstr(buf, k[i].key));
    assert_non_null(strstr(buf, "shuffle_groups"));
    assert_non_null(strstr(buf, "resnet18|resnet34|resnet50|resnet_small"));
    assert_non_null(strstr(buf, "moco_v1 '0.07', moco_v2 '0.2'")); /* moco.T: the recipes' */
    assert_non_null(strstr(buf, "moco_v1 '120,160', moco_v2 ''"));
    free(buf);
}

/* Every preset resolves and validates for both baselines, with the documented values. */
static void test_presets(void **state)
{
    (void)state;
    static const char *const presets[] = {"smoke", "mini", "in100", "in1k"};
    static const char *const names[] = {"moco_v1", "moco_v2"};
    for (int p = 0; p < 4; p++)
        for (int b = 0; b < 2; b++) {
            Config c;
            if (config_resolve(&c, names[b], presets[p], "configs") != CLFT_OK)
                fail_msg("%s/%s: %s", presets[p], names[b], clft_last_error());
            if (config_validate(&c) != CLFT_OK)
                fail_msg("%s/%s: %s", presets[p], names[b], clft_last_error());
            assert_string_equal(c.moco.baseline, names[b]);
            /* PAPER.md §4: the baseline's recipe survives every preset */
            assert_true(c.moco.T == (b ? 0.2 : 0.07));
            assert_int_equal(c.head.type, b ? HEAD_MLP : HEAD_LINEAR); /* model.h's own enum */
            assert_string_equal(c.aug.preset, names[b]);
            assert_int_equal(c.optim.schedule, b ? SCHEDULE_COSINE : SCHEDULE_STEP);
            assert_true(c.optim.momentum == 0.9 && c.optim.weight_decay == 1e-4);
            if (p >= 2) { /* in100, in1k: the paper's exact protocol */
                assert_int_equal(c.model.arch, ARCH_RESNET50);
                assert_int_equal(c.model.stem, STEM_IMAGENET);
                assert_int_equal(c.data.size, 224);
                assert_int_equal(c.moco.K, 65536);
                assert_int_equal(c.optim.batch, 256);
                assert_int_equal(c.optim.epochs, 200);
                assert_true(c.optim.lr == 0.03);
                assert_true(c.moco.m == (p == 2 ? 0.99 : 0.999));
                assert_int_equal(c.data.subset,
                                 p == 2 ? CONFIG_SUBSET_IMAGENET100 : CONFIG_SUBSET_NONE);
                if (b == 0) assert_int_equal(c.optim.milestones.v[1], 160);
            } else {
                assert_int_equal(c.model.arch, ARCH_RESNET_SMALL);
                assert_int_equal(c.model.stem, STEM_SMALL);
                assert_string_equal(c.data.spec, "fashion-mnist");
            }
        }
    Config c;
    assert_int_equal(config_resolve(&c, "moco_v1", "mini", "configs"), CLFT_OK);
    assert_int_equal(c.model.width, 16);
    assert_int_equal(c.model.stages, 4);
    assert_int_equal(c.optim.batch, 128);
    assert_int_equal(c.moco.K, 4096);
    assert_int_equal(c.data.train_limit, 0);
    assert_int_equal(c.optim.epochs, 9);
    assert_int_equal(c.optim.milestones.n, 2); /* the [moco_v1.optim] section applied */
    assert_int_equal(c.optim.milestones.v[0], 5);
    assert_int_equal(c.optim.milestones.v[1], 7);
    assert_int_equal(config_resolve(&c, "moco_v1", "smoke", "configs"), CLFT_OK);
    assert_int_equal(c.optim.milestones.n, 0);
    assert_true(c.data.train_limit > 0 && c.data.train_limit <= 8192);
    assert_int_equal(config_resolve(&c, "moco_v2", NULL, "configs"), CLFT_OK);
    assert_int_equal(c.head.hidden, 0);
    assert_int_equal(config_resolve(&c, "moco_v3", "mini", "configs"), CLFT_ERR_VALUE);
    ASSERT_ERR_HAS("moco_v3");
    assert_int_equal(config_resolve(&c, "moco_v2", "huge", "configs"), CLFT_ERR_IO);
    ASSERT_ERR_HAS("configs/huge.ini");
    /* the baseline names are baselines/'s: a preset naming another, in a section or in [moco],
     * is refused there, naming the file and what it named */
    const char *bad = write_file("typo.ini", "[optim]\nlr = 1\n[moco_v3.optim]\nlr = 2\n");
    assert_int_equal(config_resolve(&c, "moco_v2", bad, "configs"), CLFT_ERR_VALUE);
    ASSERT_ERR_HAS(bad);
    ASSERT_ERR_HAS("[moco_v3.optim]");
    ASSERT_ERR_HAS("known: moco_v1, moco_v2");
    bad = write_file("other.ini", "[moco]\nbaseline = simclr\n");
    assert_int_equal(config_resolve(&c, "moco_v2", bad, "configs"), CLFT_ERR_VALUE);
    ASSERT_ERR_HAS(bad);
    ASSERT_ERR_HAS("'simclr'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recipe_keys),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_load_ini),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_set),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_apply_variant),
        cmocka_unit_test(test_aug_resolve_and_help),
        cmocka_unit_test(test_presets),
    };
    return cmocka_run_group_tests(tests, tmpdir_setup, NULL);
}

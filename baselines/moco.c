/* moco.c — MoCo v1 and MoCo v2 (PAPER.md §4; He et al. 2020, Chen et al. 2020) as Config defaults,
 * the baseline registry and config_resolve.
 *
 * MoCo v1's schedule: the MoCo paper steps the lr ×0.1 at epochs 120 and 160; the FT authors' code
 * uses cosine. We follow the MoCo paper (it produced the published MoCo v1 baseline, 60.6); use
 * --set optim.schedule=cosine for the FT code's choice.
 */
#include "baselines/baseline.h"

#include <ini.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Keys shared by both recipes: SGD lr 0.03, momentum 0.9, wd 1e-4, batch 256, K 65536, D 128,
 * 200 epochs, m 0.999 (IN-1K), 8 split-BN groups (one per GPU of the paper's 8-GPU runs). The
 * config schema has no value for these keys (config.c RECIPE): they are written here only. */
static void moco_common(Config *c)
{
    c->moco.K = 65536;
    c->moco.m = 0.999;
    c->moco.shuffle_groups = 8;
    c->head.dim = 128;
    c->optim.lr = 0.03;
    c->optim.momentum = 0.9;
    c->optim.weight_decay = 1e-4;
    c->optim.batch = 256;
    c->optim.epochs = 200;
}

/* MoCo v1: Linear(feat→128) head, T 0.07, v1 augmentation, lr ×0.1 at 120 and 160. */
static void moco_v1_defaults(Config *c)
{
    moco_common(c);
    snprintf(c->moco.baseline, sizeof c->moco.baseline, "moco_v1");
    snprintf(c->aug.preset, sizeof c->aug.preset, "moco_v1");
    c->moco.T = 0.07;
    c->head.type = HEAD_LINEAR;
    c->optim.schedule = SCHEDULE_STEP;
    c->optim.milestones = (ConfigIntList){.n = 2, .v = {120, 160}};
    c->optim.gamma = 0.1;
}

/* MoCo v2: Linear(feat→feat)–ReLU–Linear(feat→128) head (hidden = feature dim), T 0.2, v2
 * augmentation (blur, weaker jitter with p 0.8), cosine schedule. */
static void moco_v2_defaults(Config *c)
{
    moco_common(c);
    snprintf(c->moco.baseline, sizeof c->moco.baseline, "moco_v2");
    snprintf(c->aug.preset, sizeof c->aug.preset, "moco_v2");
    c->moco.T = 0.2;
    c->head.type = HEAD_MLP; /* head.hidden's 0 = the backbone's feature dim (2048 for ResNet-50) */
    c->optim.schedule = SCHEDULE_COSINE;
    c->optim.milestones = (ConfigIntList){0};
    c->optim.gamma = 0.1;
}

static const Baseline moco_v1 = {
    "moco_v1", "MoCo v1: linear head, T 0.07, v1 augmentation, step lr at 120/160",
    moco_v1_defaults};
static const Baseline moco_v2 = {
    "moco_v2", "MoCo v2: MLP head, T 0.2, v2 augmentation (blur), cosine lr", moco_v2_defaults};
static const Baseline *const registry[] = {&moco_v1, &moco_v2, NULL};

const Baseline *baseline_find(const char *name)
{
    for (int i = 0; registry[i]; i++)
        if (!strcmp(registry[i]->name, name)) return registry[i];
    return NULL;
}

const Baseline *const *baseline_all(void)
{
    return registry;
}

/* "moco_v1, moco_v2": the registry's names, for messages. */
static const char *known_names(void)
{
    static char out[256];
    size_t len = 0;
    for (int i = 0; registry[i] && len < sizeof out; i++)
        len +=
            (size_t)snprintf(out + len, sizeof out - len, "%s%s", i ? ", " : "", registry[i]->name);
    return out;
}

/* A preset's "[<baseline>.<section>]" must name a baseline here: core applies such a section by
 * the name alone and cannot tell another recipe from a typo. */
typedef struct {
    char bad[64];
} SectionCheck;

static int check_section(void *user, const char *section, const char *name, const char *value)
{
    (void)name, (void)value;
    SectionCheck *sc = user;
    const char *dot = strchr(section, '.');
    if (!dot || *sc->bad) return 1;
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%.*s", (int)(dot - section), section);
    if (!baseline_find(prefix)) snprintf(sc->bad, sizeof sc->bad, "%s", section);
    return 1;
}

ClftStatus config_resolve(Config *c, const char *baseline, const char *preset,
                          const char *configs_dir)
{
    const Baseline *b = baseline_find(baseline ? baseline : "");
    if (!b) {
        clft_set_error("unknown baseline '%s' (known: %s)", baseline ? baseline : "",
                       known_names());
        return CLFT_ERR_VALUE;
    }
    config_defaults(c);
    b->defaults(c);
    if (!preset || !*preset) return CLFT_OK;
    char path[4096];
    size_t n = strlen(preset);
    if (strchr(preset, '/') || (n > 4 && !strcmp(preset + n - 4, ".ini")))
        snprintf(path, sizeof path, "%s", preset);
    else
        snprintf(path, sizeof path, "%s/%s.ini", configs_dir ? configs_dir : "configs", preset);
    ClftStatus st = config_load_ini(c, path);
    if (st == CLFT_ERR_IO && access(path, F_OK) != 0)
        clft_set_error("unknown preset '%s': %s does not exist (presets: smoke, mini, in100, in1k)",
                       preset, path);
    if (st != CLFT_OK) return st;
    SectionCheck sc = {""};
    if (ini_parse(path, check_section, &sc) == 0 && *sc.bad) {
        clft_set_error("%s: [%s]: a section '<baseline>.<section>' needs a baseline before the dot "
                       "(known: %s)",
                       path, sc.bad, known_names());
        return CLFT_ERR_VALUE;
    }
    if (!baseline_find(c->moco.baseline)) {
        clft_set_error("%s: [moco] baseline = '%s': unknown baseline (known: %s)", path,
                       c->moco.baseline, known_names());
        return CLFT_ERR_VALUE;
    }
    return CLFT_OK;
}

/* ---- the augmentation recipes (PAPER.md §4) ----------------------------------------------------
 */

AugConfig aug_moco_v1(int size, int channels)
{
    AugConfig c = {.order = AUG_ORDER_GRAY_JITTER,
                   .size = size,
                   .scale_lo = 0.2f,
                   .scale_hi = 1.0f,
                   .ratio_lo = 3.0f / 4.0f,
                   .ratio_hi = 4.0f / 3.0f,
                   .flip_p = 0.5f,
                   .jitter_b = 0.4f,
                   .jitter_c = 0.4f,
                   .jitter_s = 0.4f,
                   .jitter_h = 0.4f,
                   .jitter_p = 1.0f,
                   .gray_p = 0.2f,
                   .blur_p = 0.0f,
                   .blur_sigma_lo = 0.1f,
                   .blur_sigma_hi = 2.0f,
                   .blur_kernel = AUG_BLUR_KERNEL_3SIGMA};
    aug_set_norm(&c, channels);
    return c;
}

AugConfig aug_moco_v2(int size, int channels)
{
    AugConfig c = aug_moco_v1(size, channels);
    c.order = AUG_ORDER_JITTER_GRAY;
    c.jitter_h = 0.1f;
    c.jitter_p = 0.8f;
    c.blur_p = 0.5f;
    return c;
}

typedef struct {
    const char *name;
    AugConfig (*recipe)(int size, int channels); /* NULL: the evaluation transform */
} AugRecipe;
static const AugRecipe aug_recipes[] = {
    {"moco_v1", aug_moco_v1}, {"moco_v2", aug_moco_v2}, {"none", NULL}, {NULL, NULL}};

static const AugRecipe *find_aug(const Config *c)
{
    char known[128];
    size_t len = 0;
    for (int i = 0; aug_recipes[i].name; i++) {
        if (!strcmp(aug_recipes[i].name, c->aug.preset)) return &aug_recipes[i];
        len += (size_t)snprintf(known + len, sizeof known - len, "%s%s", i ? ", " : "",
                                aug_recipes[i].name);
    }
    clft_set_error("config: aug.preset '%s': no such augmentation recipe (%s)", c->aug.preset,
                   known);
    return NULL;
}

ClftStatus baseline_aug_resolve(const Config *c, ConfigAug *a)
{
    const AugRecipe *r = find_aug(c);
    if (!r) return CLFT_ERR_VALUE;
    /* "none" trains on the evaluation transform: the whole image, no flip, no colour */
    if (!r->recipe) {
        *a = (ConfigAug){1.0, 1.0, 0.0, 0.0, 0.0, 0.0};
    } else {
        const AugConfig p = r->recipe(32, 3);
        *a = (ConfigAug){p.scale_lo, p.scale_hi, p.flip_p, p.jitter_p, p.gray_p, p.blur_p};
    }
    if (c->aug.scale_min >= 0) a->scale_min = c->aug.scale_min;
    if (c->aug.scale_max >= 0) a->scale_max = c->aug.scale_max;
    if (c->aug.jitter_p >= 0) a->jitter_p = c->aug.jitter_p;
    if (c->aug.blur_p >= 0) a->blur_p = c->aug.blur_p;
    if (c->aug.gray_p >= 0) a->gray_p = c->aug.gray_p;
    if (c->aug.flip_p >= 0) a->flip_p = c->aug.flip_p;
    return CLFT_OK;
}

ClftStatus baseline_train_aug(const Config *c, int size, int channels, AugConfig *out)
{
    const AugRecipe *r = find_aug(c);
    if (!r) return CLFT_ERR_VALUE;
    if (!r->recipe) {
        *out = aug_eval(size, size, channels);
        return CLFT_OK;
    }
    ConfigAug n;
    baseline_aug_resolve(c, &n); /* found above: cannot fail */
    *out = r->recipe(size, channels);
    out->scale_lo = (float)n.scale_min;
    out->scale_hi = (float)n.scale_max;
    out->flip_p = (float)n.flip_p;
    out->jitter_p = (float)n.jitter_p;
    out->gray_p = (float)n.gray_p;
    out->blur_p = (float)n.blur_p;
    return CLFT_OK;
}

ClftStatus baseline_validate(const Config *c)
{
    ConfigAug a;
    ClftStatus st = baseline_aug_resolve(c, &a);
    if (st != CLFT_OK) return st;
    if (a.scale_min > a.scale_max || a.scale_min <= 0) {
        clft_set_error("config: aug scale range [%g, %g] is empty or not positive", a.scale_min,
                       a.scale_max);
        return CLFT_ERR_VALUE;
    }
    return CLFT_OK;
}

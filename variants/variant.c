/* variant.c — the registry of variants (looked up by name once per run) and the [variant] config
 * options shared by them (PAPER.md §2 for ft, Kalantidis et al. NeurIPS 2020 for mochi). */
#include "variants/variant.h"

#include <string.h>

extern const Variant variant_none;
extern const Variant variant_ft, variant_ft_pos, variant_ft_neg, variant_ft_pos_interp,
    variant_ft_uniform, variant_ft_dimwise;
extern const Variant variant_mochi;

static const Variant *const registry[] = {
    &variant_none,          &variant_ft,         &variant_ft_pos,     &variant_ft_neg,
    &variant_ft_pos_interp, &variant_ft_uniform, &variant_ft_dimwise, &variant_mochi,
    NULL,
};

const Variant *variant_find(const char *name)
{
    for (int i = 0; registry[i]; i++)
        if (!strcmp(registry[i]->name, name)) return registry[i];
    return NULL;
}

const Variant *const *variant_all(void) { return registry; }

void variant_options_default(VariantOptions *opt)
{
    *opt = (VariantOptions){
        .target = FT_TARGET_BOTH,
        .pos_mode = FT_POS_EXTRAPOLATE,
        .dist = FT_DIST_BETA,
        .alpha_ex = 2.0,
        .alpha_in = 1.6,
        .ex_scale = 1.0,
        .dimwise = FT_DIMWISE_NONE,
        .postmix_norm = FT_NORM_OFF,
        .start_epoch = 0,
        .mochi_n_hard = -1, /* auto: scaled with K (variants/mochi.h) */
        .mochi_s = -1,
        .mochi_s_prime = -1,
        .mochi_beta_max = 0.5,
    };
}

void variant_options_preset(VariantOptions *opt, const char *name)
{
    const Variant *v = variant_find(name);
    if (v && v->preset) v->preset(opt);
}

/* One keyword → enum value table per enum option. */
typedef struct {
    const char *word;
    int value;
} Word;

static const Word targets[] = {{"pos", FT_TARGET_POS}, {"neg", FT_TARGET_NEG},
                               {"both", FT_TARGET_BOTH}, {"posneg", FT_TARGET_BOTH}, {NULL, 0}};
static const Word pos_modes[] = {{"extrapolate", FT_POS_EXTRAPOLATE},
                                 {"interpolate", FT_POS_INTERPOLATE}, {NULL, 0}};
static const Word dists[] = {{"beta", FT_DIST_BETA}, {"uniform", FT_DIST_UNIFORM}, {NULL, 0}};
static const Word dimwises[] = {{"none", FT_DIMWISE_NONE}, {"pos", FT_DIMWISE_POS},
                                {"neg", FT_DIMWISE_NEG},   {"both", FT_DIMWISE_BOTH}, {NULL, 0}};
static const Word norms[] = {{"off", FT_NORM_OFF}, {"none", FT_NORM_OFF}, {"false", FT_NORM_OFF},
                             {"on", FT_NORM_POS},  {"true", FT_NORM_POS}, {"pos", FT_NORM_POS},
                             {"neg", FT_NORM_NEG}, {"both", FT_NORM_BOTH}, {NULL, 0}};

static ClftStatus parse_word(const Word *w, const char *key, const char *value, int *out)
{
    for (int i = 0; w[i].word; i++)
        if (!strcmp(w[i].word, value)) {
            *out = w[i].value;
            return CLFT_OK;
        }
    char allowed[256] = "";
    for (int i = 0; w[i].word; i++) {
        if (i) strncat(allowed, "|", sizeof allowed - strlen(allowed) - 1);
        strncat(allowed, w[i].word, sizeof allowed - strlen(allowed) - 1);
    }
    clft_set_error("variant.%s = '%s': expected one of %s", key, value, allowed);
    return CLFT_ERR_VALUE;
}

static ClftStatus parse_real(const char *key, const char *value, double lo, double hi, double *out)
{
    if (parse_float(value, lo, hi, out) == CLFT_OK && *out > lo) return CLFT_OK;
    clft_set_error("variant.%s = '%s': expected a number in (%g, %g]", key, value, lo, hi);
    return CLFT_ERR_VALUE;
}

typedef enum { COUNT_PLAIN, COUNT_OR_AUTO } CountKind;

/* An integer in [lo, hi], or with COUNT_OR_AUTO also "auto" (stored as −1). */
static ClftStatus parse_count(const char *key, const char *value, long lo, long hi,
                              CountKind kind, int *out)
{
    long v;
    if (kind == COUNT_OR_AUTO && !strcmp(value, "auto")) {
        *out = -1;
        return CLFT_OK;
    }
    if (parse_int(value, lo, hi, &v) == CLFT_OK) {
        *out = (int)v;
        return CLFT_OK;
    }
    clft_set_error("variant.%s = '%s': expected an integer in [%ld, %ld]%s", key, value, lo, hi,
                   kind == COUNT_OR_AUTO ? " or auto" : "");
    return CLFT_ERR_VALUE;
}

ClftStatus variant_options_set(VariantOptions *opt, const char *key, const char *value)
{
    int e;
    ClftStatus st;
#define ENUM_KEY(k, table, field)                                                                  \
    if (!strcmp(key, k)) {                                                                         \
        if ((st = parse_word(table, key, value, &e)) == CLFT_OK) opt->field = e;                   \
        return st;                                                                                 \
    }
    ENUM_KEY("target", targets, target)
    ENUM_KEY("pos_mode", pos_modes, pos_mode)
    ENUM_KEY("dist", dists, dist)
    ENUM_KEY("dimwise", dimwises, dimwise)
    ENUM_KEY("postmix_norm", norms, postmix_norm)
#undef ENUM_KEY
    if (!strcmp(key, "alpha_ex")) return parse_real(key, value, 0.0, 1e6, &opt->alpha_ex);
    if (!strcmp(key, "alpha_in")) return parse_real(key, value, 0.0, 1e6, &opt->alpha_in);
    if (!strcmp(key, "ex_scale")) return parse_real(key, value, 0.0, 1e6, &opt->ex_scale);
    if (!strcmp(key, "start_epoch")) return parse_count(key, value, 0, 1000000, COUNT_PLAIN, &opt->start_epoch);
    if (!strcmp(key, "mochi_n_hard")) return parse_count(key, value, 0, 1 << 24, COUNT_OR_AUTO, &opt->mochi_n_hard);
    if (!strcmp(key, "mochi_s")) return parse_count(key, value, 0, 1 << 24, COUNT_OR_AUTO, &opt->mochi_s);
    if (!strcmp(key, "mochi_s_prime"))
        return parse_count(key, value, 0, 1 << 24, COUNT_OR_AUTO, &opt->mochi_s_prime);
    if (!strcmp(key, "mochi_beta_max")) {
        if (parse_float(value, 0.0, 0.5, &opt->mochi_beta_max) == CLFT_OK) return CLFT_OK;
        clft_set_error("variant.mochi_beta_max = '%s': expected a number in [0, 0.5]", value);
        return CLFT_ERR_VALUE;
    }
    clft_set_error("variant.%s = '%s': unknown key (known: target pos_mode dist alpha_ex alpha_in "
                   "ex_scale dimwise postmix_norm start_epoch mochi_n_hard mochi_s mochi_s_prime "
                   "mochi_beta_max)",
                   key, value);
    return CLFT_ERR_VALUE;
}

VariantHook variant_instantiate(const Variant *v, const VariantOptions *opt, const Backend *be,
                                int N, int D, int K)
{
    VariantHook h = {.name = v->name, .forward = v->forward, .backward = v->backward};
    h.self = v->create(opt, be, N, D, K);
    h.n_extra = v->n_extra ? v->n_extra(h.self) : 0;
    h.is_identity = !strcmp(v->name, "none");
    return h;
}

void variant_release(const Variant *v, VariantHook *hook)
{
    v->destroy(hook->self);
    hook->self = NULL;
}

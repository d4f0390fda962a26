/* config.h — every setting of a run in ONE typed struct, described by a schema table (section, key,
 * type, default, range, help, offset into Config) so that defaults, INI loading (inih), --set
 * overrides, validation, help and writing are each one loop over the table.
 *
 * Where a run's settings come from, in order (later wins; see baselines/baseline.h config_resolve):
 *   config_defaults  →  baseline->defaults (PAPER.md §4)  →  configs/<preset>.ini  →  --set s.k=v
 * Unknown sections/keys and unparsable or out-of-range values are errors that name the source
 * (file:line or "--set"), the key and the value (STYLE.md rule 17).
 *
 * The [variant] section holds `name` plus free keys that config does not know: they are kept in
 * order as strings and handed to the variants module through config_apply_variant().
 *
 * Per-baseline sections: in a file, a section "[<baseline>.<section>]" (e.g. "[moco_v1.optim]")
 * applies only when [moco] baseline is that baseline; its keys are still checked otherwise.
 */
#ifndef CLFT_CONFIG_H
#define CLFT_CONFIG_H

#include <stddef.h>

#include "core/backend/backend.h"
#include "core/common.h"
#include "core/model/model.h"
#include "core/optim/optim.h"

#define CONFIG_STR 160        /* capacity of a string setting (an INI line must fit in 200 chars) */
#define CONFIG_LIST_MAX 32    /* entries of an int/float list */
#define CONFIG_VARIANT_MAX 32 /* free [variant] keys */
#define CONFIG_VKEY 48        /* capacity of a free [variant] key */

typedef enum {
    CONFIG_DEVICE_CPU,
    CONFIG_DEVICE_CPU_IM2COL,
    CONFIG_DEVICE_CPU_REF,
    CONFIG_DEVICE_CUDA
} ConfigDevice;
typedef enum { CONFIG_SUBSET_NONE, CONFIG_SUBSET_IMAGENET100 } ConfigSubset;

typedef struct {
    int n;
    int v[CONFIG_LIST_MAX];
} ConfigIntList;

typedef struct {
    int n;
    double v[CONFIG_LIST_MAX];
} ConfigFloatList;

typedef struct {
    char key[CONFIG_VKEY];
    char value[CONFIG_STR];
} ConfigPair;

typedef struct {
    struct {
        char name[CONFIG_STR]; /* "" = derived by the caller */
        int seed;
        char out[CONFIG_STR]; /* run directory; "" = runs/<name> */
        ConfigDevice device;
        Precision precision; /* core/backend's enum: the key's words are in its order */
        int deterministic;
        int threads;    /* BLAS/compute threads; 0 = all cores */
        int log_every;  /* steps between train.csv/scores.csv rows and progress lines */
        int ckpt_every; /* epochs between checkpoints */
        int keep_ckpt;  /* checkpoints kept on disk; 0 = all */
        int knn_every;  /* epochs between kNN monitor evaluations; 0 = off */
    } run;
    struct {
        ResNetArch arch; /* core/model's enums: the keys' words are in their order */
        StemKind stem;   /* imagenet: 7x7/2 conv + 3x3/2 max-pool; small: 3x3/1, no pool */
        int width;       /* base channels; 64 = torchvision */
        int stages;      /* resnet_small: number of stages (width, 2w, 4w, ...) */
        int blocks;      /* resnet_small: basic blocks per stage */
        int in_channels; /* 0 = from the data */
    } model;
    struct {
        HeadKind type; /* core/model's enum: the key's words are in its order */
        int hidden; /* mlp hidden width; 0 = the backbone's feature dim */
        int dim;    /* D, the embedding dim */
    } head;
    struct {
        int K;
        double m;
        double T;
        int shuffle_groups; /* split-BN groups G for the key encoder */
        char baseline[CONFIG_STR]; /* the recipe (baselines/ owns the names); "" = none */
    } moco;
    struct {
        double lr, momentum, weight_decay;
        int batch, epochs;
        ScheduleKind schedule;    /* core/optim's enum: the key's words are in its order */
        ConfigIntList milestones; /* epochs where lr *= gamma (schedule = step) */
        double gamma;
        int warmup_epochs;
    } optim;
    struct {
        char spec[CONFIG_STR];
        ConfigSubset subset;
        ConfigIntList classes; /* empty = all */
        int train_limit;       /* 0 = all */
        int max_pixels;        /* imagefolder: JPEG width x height cap; 0 = the build's default */
        int size;              /* crop size; 0 = native */
        int workers;
    } data;
    struct {
        char preset[CONFIG_STR]; /* the recipe (baselines/ owns the names: baseline_train_aug) */
        /* Overrides of the preset; -1 = the preset's value (see baseline_aug_resolve). */
        double scale_min, scale_max, jitter_p, blur_p, gray_p, flip_p;
    } aug;
    struct {
        char name[CONFIG_STR];
        int n; /* free keys held, in the order first set */
        ConfigPair pairs[CONFIG_VARIANT_MAX];
    } variant;
    struct {
        int knn_k;
        double knn_t;
        int linear_epochs;
        double linear_lr, linear_momentum, linear_wd;
        int linear_batch;
        ConfigIntList linear_milestones;
        int linear_cached; /* 1 = train the probe on cached (un-augmented) features */
        ConfigFloatList semisup_fractions;
        int longtail_rho;
    } eval;
    /* Where each free [variant] key was set ("file:line" or "--set"), for error messages. Not part
     * of the configuration's value: kept last so the value is the bytes before it. */
    char variant_origin[CONFIG_VARIANT_MAX][CONFIG_STR];
} Config;

typedef enum {
    CONFIG_T_INT,
    CONFIG_T_FLOAT,
    CONFIG_T_STRING,
    CONFIG_T_ENUM,
    CONFIG_T_INT_LIST,
    CONFIG_T_FLOAT_LIST
} ConfigType;

/* One schema row. Defaults are text, parsed by the same code as files, so they are checked too. */
typedef struct {
    const char *section;
    const char *key;
    ConfigType type;
    size_t offset;              /* offsetof(Config, ...) */
    const char *def;            /* default value as text; NULL = the baseline's recipe sets it */
    double min, max;            /* range of numbers (each element of a list) */
    const char *const *choices; /* CONFIG_T_ENUM: NULL-terminated names, index = enum value */
    const char *help;
} ConfigKey;

/* The schema, n rows, in the order they are printed and written. */
const ConfigKey *config_schema(int *n);

/* All defaults (memset 0 first, so equal configs are equal bytes). The keys a baseline's recipe
 * owns (MoCo's K, m, T, head, SGD and schedule: baselines/) are left unset, and config_validate
 * refuses them so; config_resolve fills them. Loading a complete config.ini on top needs none. */
void config_defaults(Config *c);
/* Loads an INI file on top of *c. CLFT_ERR_IO if unreadable, CLFT_ERR_VALUE/FORMAT otherwise; the
 * message names the file, line, key and value. Stops at the first error. */
ClftStatus config_load_ini(Config *c, const char *path);
/* The same, from text (`origin` names it in messages). */
ClftStatus config_load_string(Config *c, const char *text, const char *origin);
/* "section.key=value" (a --set argument), with the same checks. */
ClftStatus config_set(Config *c, const char *assignment);
/* Sets one key from text; `origin` names the source in messages. */
ClftStatus config_set_kv(Config *c, const char *section, const char *key, const char *value,
                         const char *origin);
/* Cross-field checks (batch % shuffle_groups, K >= batch, milestones increasing, ...). */
ClftStatus config_validate(const Config *c);

/* The value of one key as text, as written to files (NULL if no such key). */
ClftStatus config_get(const Config *c, const char *section, const char *key, char *out, size_t cap);
/* The fully resolved config as INI text (with each key's help as a comment); free() it. */
char *config_to_string(const Config *c);
/* Writes config_to_string atomically, after a header naming clft's version and commit and each line
 * of `extra_comment` (may be NULL; '\n'-separated, e.g. BLAS core, threads, machine). */
ClftStatus config_write(const Config *c, const char *path, const char *extra_comment);
/* The keys whose values differ between a and b (free [variant] keys included), except those named
 * "section.key" in the NULL-terminated `ignore`: written to out as "section.key (a -> b), ...";
 * returns how many. */
int config_diff(const Config *a, const Config *b, const char *const *ignore, char *out, size_t cap);

/* A listing of every section and key: type, default, range or choices, help. A key a recipe owns
 * shows its value in each of recipes[0..n_recipes) (configurations named names[]). */
void config_print_help(FILE *fp, const Config *const *recipes, const char *const *names,
                       int n_recipes);

/* Hands each free [variant] key to the variants module, in order; a non-OK status from `set`
 * becomes an error naming where the key was set. */
typedef ClftStatus (*ConfigVariantSetFn)(void *opts, const char *key, const char *value);
ClftStatus config_apply_variant(const Config *c, ConfigVariantSetFn set, void *opts);
/* The value of free [variant] key `key`, or NULL. */
const char *config_variant_get(const Config *c, const char *key);

/* Name of an enum value of section.key (e.g. config_enum_name("model", "arch", c->model.arch)). */
const char *config_enum_name(const char *section, const char *key, int value);

#endif

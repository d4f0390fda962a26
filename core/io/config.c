/* config.c — the run configuration: schema table, INI loading through inih, --set, validation,
 * writing. See config.h; the hyperparameters' meaning is PAPER.md §4-5 and DESIGN.md "Runs and
 * files".
 */
#include "core/io/config.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ini.h>

#include "core/io/atomic.h"

static void format_double(double x, char *out, size_t cap);

_Static_assert(sizeof(ResNetArch) == sizeof(int) && sizeof(HeadKind) == sizeof(int),
               "enum settings are stored through int *");

static const char *const devices[] = {"cpu", "cpu-im2col", "cpu-ref", "cuda", NULL};
static const char *const precisions[] = {"fp32", "tf32", "bf16", NULL}; /* Precision's order */
_Static_assert(PRECISION_FP32 == 0 && PRECISION_TF32 == 1 && PRECISION_BF16 == 2,
               "run.precision's words follow the Precision enum");
static const char *const archs[] = {"resnet18", "resnet34", "resnet50", "resnet_small", NULL};
_Static_assert(ARCH_RESNET18 == 0 && ARCH_RESNET34 == 1 && ARCH_RESNET50 == 2 &&
                   ARCH_RESNET_SMALL == 3,
               "model.arch's words follow the ResNetArch enum");
static const char *const stems[] = {"imagenet", "small", NULL};
_Static_assert(STEM_IMAGENET == 0 && STEM_SMALL == 1, "model.stem's words follow StemKind");
static const char *const heads[] = {"none", "linear", "mlp", NULL};
_Static_assert(HEAD_NONE == 0 && HEAD_LINEAR == 1 && HEAD_MLP == 2,
               "head.type's words follow HeadKind (MoCo refuses none)");
static const char *const schedules[] = {"constant", "step", "cosine", NULL};
_Static_assert(SCHEDULE_CONSTANT == 0 && SCHEDULE_STEP == 1 && SCHEDULE_COSINE == 2,
               "optim.schedule's words follow ScheduleKind");
static const char *const subsets[] = {"none", "imagenet100", NULL};

#define I_ CONFIG_T_INT
#define F_ CONFIG_T_FLOAT
#define S_ CONFIG_T_STRING
#define E_ CONFIG_T_ENUM
#define IL_ CONFIG_T_INT_LIST
#define FL_ CONFIG_T_FLOAT_LIST
/* clang-format off */
#define ROW(sec, field, type, def, lo, hi, ch, help) \
    {#sec, #field, type, offsetof(Config, sec.field), def, lo, hi, ch, help}
/* clang-format on */
#define BIG 2147483647.0
/* A key the baseline's recipe sets (baselines/, config_resolve): the schema has no value for it,
 * so a method's numbers live in one place. config_defaults leaves it unset; config_validate
 * refuses a configuration where it still is. */
#define RECIPE NULL

static const ConfigKey schema[] = {
    ROW(run, name, S_, "", 0, 0, NULL,
        "run name; empty = derived from baseline, variant, data, seed"),
    ROW(run, seed, I_, "0", 0, BIG, NULL, "seed of every RNG stream (init, data order, aug, FT)"),
    ROW(run, out, S_, "", 0, 0, NULL, "run directory; empty = runs/<name>"),
    ROW(run, device, E_, "cpu", 0, 0, devices,
        "compute backend (--device); clft --version lists the ones built"),
    ROW(run, precision, E_, "fp32", 0, 0, precisions,
        "convolutions and GEMMs: fp32, tf32 (GPU) or bf16 (fp32 accumulation, fp32 master "
        "weights)"),
    ROW(run, deterministic, I_, "0", 0, 1, NULL,
        "1 = deterministic algorithms only (GPU convolutions): bit-reproducible runs"),
    ROW(run, threads, I_, "0", 0, 1024, NULL,
        "compute (BLAS) threads; 0 = all cores; at most 4 x the online CPUs"),
    ROW(run, log_every, I_, "10", 1, BIG, NULL,
        "steps between train.csv/scores.csv rows and progress lines"),
    ROW(run, ckpt_every, I_, "1", 1, BIG, NULL,
        "epochs between checkpoints (the last epoch always saves)"),
    ROW(run, keep_ckpt, I_, "3", 0, BIG, NULL, "checkpoints kept in ckpt/; 0 = all"),
    ROW(run, knn_every, I_, "0", 0, BIG, NULL, "epochs between kNN monitor evaluations; 0 = off"),
    ROW(model, arch, E_, "resnet50", 0, 0, archs, "backbone"),
    ROW(model, stem, E_, "imagenet", 0, 0, stems,
        "imagenet = 7x7/2 conv + max-pool; small = 3x3/1 conv, no pool (small images)"),
    ROW(model, width, I_, "64", 1, 4096, NULL, "base channels (64 = torchvision)"),
    ROW(model, stages, I_, "3", 1, 4, NULL, "resnet_small: stages of widths w, 2w, 4w, 8w"),
    ROW(model, blocks, I_, "1", 1, 16, NULL, "resnet_small: basic blocks per stage"),
    ROW(model, in_channels, I_, "0", 0, 64, NULL, "input channels; 0 = from the data"),
    ROW(head, type, E_, RECIPE, 0, 0, heads, "projection head: linear (MoCo v1) or mlp (MoCo v2)"),
    ROW(head, hidden, I_, "0", 0, 65536, NULL, "mlp hidden width; 0 = the backbone's feature dim"),
    ROW(head, dim, I_, RECIPE, 1, 65536, NULL, "embedding dim D"),
    ROW(moco, K, I_, RECIPE, 1, BIG, NULL, "queue length (negatives)"),
    ROW(moco, m, F_, RECIPE, 0, 1, NULL,
        "key encoder momentum: theta_k <- m theta_k + (1-m) theta_q"),
    ROW(moco, T, F_, RECIPE, 1e-6, 100, NULL, "softmax temperature"),
    ROW(moco, shuffle_groups, I_, RECIPE, 1, 4096, NULL,
        "split-BN groups for the shuffled key batch"),
    ROW(moco, baseline, S_, "", 0, 0, NULL,
        "the recipe these defaults came from (set by --baseline; informational)"),
    ROW(optim, lr, F_, RECIPE, 0, 1e4, NULL, "base learning rate (SGD)"),
    ROW(optim, momentum, F_, RECIPE, 0, 1, NULL, "SGD momentum"),
    ROW(optim, weight_decay, F_, RECIPE, 0, 1, NULL, "weight decay"),
    ROW(optim, batch, I_, RECIPE, 1, BIG, NULL, "batch size N"),
    ROW(optim, epochs, I_, RECIPE, 1, 1000000, NULL, "pre-training epochs"),
    ROW(optim, schedule, E_, RECIPE, 0, 0, schedules, "learning-rate schedule"),
    ROW(optim, milestones, IL_, RECIPE, 0, 1000000, NULL,
        "step schedule: epochs where lr *= gamma (comma-separated, increasing)"),
    ROW(optim, gamma, F_, RECIPE, 0, 1, NULL, "step schedule factor"),
    ROW(optim, warmup_epochs, I_, "0", 0, 1000000, NULL, "linear warm-up epochs"),
    ROW(data, spec, S_, "fashion-mnist", 0, 0, NULL,
        "dataset: fashion-mnist | cifar10 | imagefolder:DIR | synthetic"),
    ROW(data, subset, E_, "none", 0, 0, subsets, "class subset (imagenet100 = PAPER.md §4's list)"),
    ROW(data, classes, IL_, "", 0, 1000000, NULL, "keep only these class ids; empty = all"),
    ROW(data, train_limit, I_, "0", 0, BIG, NULL, "use the first N training images; 0 = all"),
    ROW(data, max_pixels, I_, "0", 0, BIG, NULL,
        "imagefolder: a JPEG of more pixels (width x height) is an error; 0 = the build's cap"),
    ROW(data, size, I_, "0", 0, 4096, NULL, "crop size in pixels; 0 = the native size"),
    ROW(data, workers, I_, "2", 0, 256, NULL, "loader threads; 0 = load in the training thread"),
    ROW(aug, preset, S_, "", 0, 0, NULL, "augmentation recipe (PAPER.md §4)"),
    ROW(aug, scale_min, F_, "-1", -1, 1, NULL, "RandomResizedCrop min scale; -1 = the preset's"),
    ROW(aug, scale_max, F_, "-1", -1, 1, NULL, "RandomResizedCrop max scale; -1 = the preset's"),
    ROW(aug, jitter_p, F_, "-1", -1, 1, NULL, "ColorJitter probability; -1 = the preset's"),
    ROW(aug, blur_p, F_, "-1", -1, 1, NULL, "GaussianBlur probability; -1 = the preset's"),
    ROW(aug, gray_p, F_, "-1", -1, 1, NULL, "RandomGrayscale probability; -1 = the preset's"),
    ROW(aug, flip_p, F_, "-1", -1, 1, NULL, "horizontal flip probability; -1 = the preset's"),
    ROW(variant, name, S_, "none", 0, 0, NULL,
        "feature-level variant (variants/); other keys in [variant] belong to it"),
    ROW(eval, knn_k, I_, "200", 1, BIG, NULL, "kNN neighbours"),
    ROW(eval, knn_t, F_, "0.07", 1e-6, 100, NULL, "kNN similarity temperature"),
    ROW(eval, linear_epochs, I_, "100", 1, 1000000, NULL, "linear probe epochs"),
    ROW(eval, linear_lr, F_, "30", 0, 1e6, NULL, "linear probe learning rate"),
    ROW(eval, linear_momentum, F_, "0.9", 0, 1, NULL, "linear probe SGD momentum"),
    ROW(eval, linear_wd, F_, "0", 0, 1, NULL, "linear probe weight decay"),
    ROW(eval, linear_batch, I_, "256", 1, BIG, NULL, "linear probe batch size"),
    ROW(eval, linear_milestones, IL_, "60,80", 0, 1000000, NULL,
        "linear probe: epochs where lr *= 0.1; empty = constant"),
    ROW(eval, linear_cached, I_, "0", 0, 1, NULL,
        "1 = train the probe on cached centre-crop features (fast, no augmentation)"),
    ROW(eval, semisup_fractions, FL_, "0.01,0.1", 0, 1, NULL, "semi-supervised label fractions"),
    ROW(eval, longtail_rho, I_, "100", 1, BIG, NULL,
        "long-tailed imbalance ratio (max/min class count)"),
};
static const int n_schema = (int)(sizeof schema / sizeof schema[0]);

const ConfigKey *config_schema(int *n)
{
    *n = n_schema;
    return schema;
}

static const ConfigKey *find_key(const char *section, const char *key)
{
    for (int i = 0; i < n_schema; i++)
        if (!strcmp(schema[i].section, section) && !strcmp(schema[i].key, key)) return &schema[i];
    return NULL;
}

static int known_section(const char *section)
{
    for (int i = 0; i < n_schema; i++)
        if (!strcmp(schema[i].section, section)) return 1;
    return 0;
}

/* "a, b, c": the keys of a section (or the sections), for "unknown ..." messages. */
static void list_names(const char *section, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < n_schema; i++) {
        const char *name = section ? schema[i].key : schema[i].section;
        if (section && strcmp(schema[i].section, section)) continue;
        if (!section && i > 0 && !strcmp(schema[i - 1].section, schema[i].section)) continue;
        int w = snprintf(out + len, cap - len, "%s%s", len ? ", " : "", name);
        if (w < 0 || (size_t)w >= cap - len) break;
        len += (size_t)w;
    }
}

/* ---- parsing one value ---- */

/* A string setting must survive an INI round trip: no ';' (inline comment), no newline, no leading
 * or trailing blank (inih strips them), and it must fit; and it must be UTF-8 text, since it is
 * written into config.ini and into each checkpoint's JSON header (run.name, paths, ...). */
static const char *check_string(const char *v, size_t cap)
{
    size_t n = strlen(v);
    if (n >= cap) return "too long";
    if (!clft_utf8_valid(v, n)) return "not valid UTF-8 text";
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 && v[i] != '\t' && v[i] != '\n' && v[i] != '\r')
            return "must not contain control characters";
    if (strpbrk(v, ";\n\r")) return "must not contain ';' or a newline";
    if (n && (isspace((unsigned char)v[0]) || isspace((unsigned char)v[n - 1])))
        return "must not start or end with a blank";
    return NULL;
}

static const char *parse_number(const ConfigKey *k, const char *s, int is_int, double *out)
{
    if (is_int) {
        long v;
        if (parse_int(s, LONG_MIN, LONG_MAX, &v) != CLFT_OK) return "not an integer";
        *out = (double)v;
    } else if (parse_float(s, -DBL_MAX, DBL_MAX, out) != CLFT_OK) {
        return "not a finite number";
    }
    if (*out < k->min || *out > k->max) return "out of range";
    return NULL;
}

/* Parses "a,b,c" (blanks allowed around entries; "" = empty list) into v[0..*n). */
static const char *parse_list(const ConfigKey *k, const char *s, int is_int, double *v, int *n)
{
    *n = 0;
    while (isspace((unsigned char)*s))
        s++;
    if (!*s) return NULL;
    for (;;) {
        char item[64];
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        while (len && isspace((unsigned char)s[len - 1]))
            len--;
        while (len && isspace((unsigned char)*s))
            s++, len--;
        if (len == 0 || len >= sizeof item) return "bad list entry";
        if (*n == CONFIG_LIST_MAX) return "too many entries";
        memcpy(item, s, len);
        item[len] = '\0';
        const char *why = parse_number(k, item, is_int, &v[*n]);
        if (why) return why;
        (*n)++;
        if (!comma) return NULL;
        s = comma + 1;
    }
}

static const char *parse_enum(const ConfigKey *k, const char *s, int *out)
{
    for (int i = 0; k->choices[i]; i++)
        if (!strcmp(k->choices[i], s)) {
            *out = i;
            return NULL;
        }
    return "not one of the choices";
}

/* Parses `value` for key `k` and stores it into c; on failure stores nothing and returns why. */
static const char *store_value(Config *c, const ConfigKey *k, const char *value)
{
    char *field = (char *)c + k->offset;
    double v[CONFIG_LIST_MAX], x;
    int n, e;
    const char *why = NULL;
    switch (k->type) {
    case CONFIG_T_INT:
        if (!(why = parse_number(k, value, 1, &x))) *(int *)field = (int)x;
        break;
    case CONFIG_T_FLOAT:
        if (!(why = parse_number(k, value, 0, &x))) *(double *)field = x;
        break;
    case CONFIG_T_STRING:
        if (!(why = check_string(value, CONFIG_STR))) strncpy(field, value, CONFIG_STR);
        break;
    case CONFIG_T_ENUM:
        if (!(why = parse_enum(k, value, &e))) *(int *)field = e;
        break;
    case CONFIG_T_INT_LIST:
    case CONFIG_T_FLOAT_LIST: {
        int is_int = k->type == CONFIG_T_INT_LIST;
        if ((why = parse_list(k, value, is_int, v, &n))) break;
        if (is_int) {
            ConfigIntList *l = (ConfigIntList *)field;
            memset(l, 0, sizeof *l);
            for (l->n = n; n-- > 0;)
                l->v[n] = (int)v[n];
        } else {
            ConfigFloatList *l = (ConfigFloatList *)field;
            memset(l, 0, sizeof *l);
            for (l->n = n; n-- > 0;)
                l->v[n] = v[n];
        }
        break;
    }
    }
    return why;
}

/* Error text for a bad value: the reason plus the accepted range or choices. */
static void set_value_error(const char *origin, const ConfigKey *k, const char *value,
                            const char *why)
{
    char expect[256] = "";
    if (k->type == CONFIG_T_ENUM) {
        size_t len = 0;
        for (int i = 0; k->choices[i] && len < sizeof expect - 1; i++)
            len += (size_t)snprintf(expect + len, sizeof expect - len, "%s%s", i ? "|" : "",
                                    k->choices[i]);
    } else if (k->type != CONFIG_T_STRING) {
        int is_list = k->type == CONFIG_T_INT_LIST || k->type == CONFIG_T_FLOAT_LIST;
        int is_int = k->type == CONFIG_T_INT || k->type == CONFIG_T_INT_LIST;
        char lo[32], hi[32];
        format_double(k->min, lo, sizeof lo);
        format_double(k->max, hi, sizeof hi);
        snprintf(expect, sizeof expect, "%s %s in [%s, %s]",
                 is_list ? "a list of" : (is_int ? "an" : "a"),
                 is_int ? (is_list ? "integers" : "integer") : (is_list ? "numbers" : "number"), lo,
                 hi);
    }
    clft_set_error("%s: [%s] %s = '%s': %s%s%s", origin, k->section, k->key, value, why,
                   expect[0] ? "; expected " : "", expect);
}

static int valid_vkey(const char *key)
{
    size_t n = strlen(key);
    if (n == 0 || n >= CONFIG_VKEY) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)key[i]) && key[i] != '_') return 0;
    return 1;
}

/* A free [variant] key: replaces the value if already held, else appends. */
static ClftStatus set_variant_pair(Config *c, const char *key, const char *value,
                                   const char *origin)
{
    const char *why = check_string(value, CONFIG_STR);
    if (!valid_vkey(key)) why = "a variant key must be letters, digits or '_' (at most 47)";
    if (why) {
        clft_set_error("%s: [variant] %s = '%s': %s", origin, key, value, why);
        return CLFT_ERR_VALUE;
    }
    int i = 0;
    while (i < c->variant.n && strcmp(c->variant.pairs[i].key, key))
        i++;
    if (i == CONFIG_VARIANT_MAX) {
        clft_set_error("%s: [variant] %s: more than %d variant keys", origin, key,
                       CONFIG_VARIANT_MAX);
        return CLFT_ERR_VALUE;
    }
    if (i == c->variant.n) c->variant.n++;
    ConfigPair *p = &c->variant.pairs[i];
    memset(p, 0, sizeof *p);
    strncpy(p->key, key, CONFIG_VKEY - 1);
    strncpy(p->value, value, CONFIG_STR - 1);
    memset(c->variant_origin[i], 0, CONFIG_STR);
    strncpy(c->variant_origin[i], origin, CONFIG_STR - 1);
    return CLFT_OK;
}

ClftStatus config_set_kv(Config *c, const char *section, const char *key, const char *value,
                         const char *origin)
{
    const ConfigKey *k = find_key(section, key);
    if (!k && !strcmp(section, "variant")) return set_variant_pair(c, key, value, origin);
    if (!k) {
        char names[512];
        int sec_ok = known_section(section);
        list_names(sec_ok ? section : NULL, names, sizeof names);
        if (sec_ok)
            clft_set_error("%s: unknown key '%s' in [%s] (known: %s)", origin, key, section, names);
        else
            clft_set_error("%s: unknown section [%s] (key '%s'; sections: %s)", origin, section,
                           key, names);
        return CLFT_ERR_VALUE;
    }
    const char *why = store_value(c, k, value);
    if (why) {
        set_value_error(origin, k, value, why);
        return CLFT_ERR_VALUE;
    }
    return CLFT_OK;
}

/* The value of a RECIPE key before the recipe sets it: one no file can hold. */
static void store_unset(Config *c, const ConfigKey *k)
{
    char *field = (char *)c + k->offset;
    switch (k->type) {
    case CONFIG_T_INT:
    case CONFIG_T_ENUM:
        *(int *)field = INT_MIN;
        break;
    case CONFIG_T_FLOAT:
        *(double *)field = NAN;
        break;
    case CONFIG_T_INT_LIST:
        ((ConfigIntList *)field)->n = -1;
        break;
    case CONFIG_T_FLOAT_LIST:
        ((ConfigFloatList *)field)->n = -1;
        break;
    case CONFIG_T_STRING:
        break; /* "" */
    }
}

static int is_unset(const Config *c, const ConfigKey *k)
{
    const char *field = (const char *)c + k->offset;
    switch (k->type) {
    case CONFIG_T_INT:
    case CONFIG_T_ENUM:
        return *(const int *)field == INT_MIN;
    case CONFIG_T_FLOAT:
        return isnan(*(const double *)field);
    case CONFIG_T_INT_LIST:
        return ((const ConfigIntList *)field)->n < 0;
    case CONFIG_T_FLOAT_LIST:
        return ((const ConfigFloatList *)field)->n < 0;
    case CONFIG_T_STRING:
        return 0;
    }
    return 0;
}

void config_defaults(Config *c)
{
    memset(c, 0, sizeof *c);
    for (int i = 0; i < n_schema; i++) {
        if (!schema[i].def) {
            store_unset(c, &schema[i]);
            continue;
        }
        const char *why = store_value(c, &schema[i], schema[i].def);
        if (why)
            clft_die("config schema: default of [%s] %s: %s", schema[i].section, schema[i].key,
                     why);
    }
}

ClftStatus config_set(Config *c, const char *assignment)
{
    char buf[512];
    const char *origin = "--set";
    char where[600];
    snprintf(where, sizeof where, "--set %s", assignment);
    if (strlen(assignment) >= sizeof buf) {
        clft_set_error("%s: too long", origin);
        return CLFT_ERR_VALUE;
    }
    strcpy(buf, assignment);
    char *eq = strchr(buf, '=');
    char *dot = eq ? memchr(buf, '.', (size_t)(eq - buf)) : NULL;
    if (!eq || !dot || dot == buf || dot + 1 == eq) {
        clft_set_error("%s: expected section.key=value", where);
        return CLFT_ERR_VALUE;
    }
    *eq = '\0';
    *dot = '\0';
    return config_set_kv(c, buf, dot + 1, eq + 1, where);
}

/* ---- INI loading: inih calls `handler` per key; `reader` feeds it lines and counts them ---- */

typedef struct {
    Config *c;
    const char *name; /* file name (or origin) for messages */
    FILE *fp;         /* source: a file ... */
    const char *text; /* ... or a string */
    int line;         /* the line inih is working on */
    int too_long;     /* line number of the first over-long line, 0 = none */
    int failed;       /* a handler call failed; clft_last_error() has why */
    int bad_header;   /* failed on a malformed [section] line (a format error) */
} IniLoad;

/* "[optim" without its ']': inih would report the line but keep the previous section, so the keys
 * after it would be misfiled (or called "outside any [section]"); name the line instead. */
static void note_section_line(IniLoad *ld, const char *str)
{
    while (isspace((unsigned char)*str))
        str++;
    if (*str != '[' || strchr(str, ']') || ld->failed) return;
    size_t n = strcspn(str, "\r\n");
    clft_set_error("%s:%d: unterminated section header '%.*s' (no closing ']')", ld->name,
                   ld->line + 1, (int)(n > 64 ? 64 : n), str);
    ld->failed = ld->bad_header = 1;
}

/* An over-long comment line is harmless (its tail is skipped); any other is an error. */
static void note_too_long(IniLoad *ld, const char *str)
{
    while (isspace((unsigned char)*str))
        str++;
    if (*str != '#' && *str != ';' && !ld->too_long) ld->too_long = ld->line + 1;
}

static char *ini_reader_fn(char *str, int num, void *stream)
{
    IniLoad *ld = stream;
    int len = 0;
    if (ld->fp) {
        if (!fgets(str, num, ld->fp)) return NULL;
        len = (int)strlen(str);
        if (len == num - 1 && str[len - 1] != '\n' && !feof(ld->fp)) {
            int ch;
            while ((ch = fgetc(ld->fp)) != EOF && ch != '\n') {
            } /* skip the rest of the line */
            note_too_long(ld, str);
        }
    } else {
        if (!*ld->text) return NULL;
        while (len < num - 1 && ld->text[len] && ld->text[len] != '\n')
            len++;
        if (ld->text[len] == '\n' && len < num - 1) len++;
        memcpy(str, ld->text, (size_t)len);
        str[len] = '\0';
        ld->text += len;
        if (len && str[len - 1] != '\n' && *ld->text) {
            while (*ld->text && *ld->text != '\n')
                ld->text++;
            note_too_long(ld, str);
        }
    }
    note_section_line(ld, str);
    ld->line++;
    return str;
}

/* "[<baseline>.optim]": applies only when [moco] baseline is that name (baselines/ owns the names;
 * config_resolve refuses a file that names an unknown one). *active says whether it applies. */
static const char *split_baseline_section(const Config *c, const char *section, int *active,
                                          char *out, size_t cap)
{
    const char *dot = strchr(section, '.');
    *active = 1;
    snprintf(out, cap, "%s", dot ? dot + 1 : section);
    if (!dot) return NULL;
    const size_t n = (size_t)(dot - section);
    if (n == 0) return "a section '<baseline>.<section>' needs a baseline name before the dot";
    *active = strlen(c->moco.baseline) == n && !strncmp(c->moco.baseline, section, n);
    return NULL;
}

static int ini_handler_fn(void *user, const char *section, const char *name, const char *value)
{
    IniLoad *ld = user;
    char origin[CONFIG_STR + 32], sec[64];
    int active;
    if (ld->failed) return 1; /* report only the first error */
    snprintf(origin, sizeof origin, "%s:%d", ld->name, ld->line);
    const char *why = split_baseline_section(ld->c, section, &active, sec, sizeof sec);
    if (!*section) why = "a key outside any [section]";
    if (why) {
        clft_set_error("%s: [%s] %s: %s", origin, section, name, why);
        ld->failed = 1;
        return 0;
    }
    /* An inactive per-baseline section is still checked, against a scratch copy. */
    Config *target = ld->c;
    if (!active) {
        target = xmalloc(sizeof *target);
        *target = *ld->c;
    }
    ClftStatus st = config_set_kv(target, sec, name, value, origin);
    if (!active) free(target);
    if (st != CLFT_OK) ld->failed = 1;
    return st == CLFT_OK;
}

static ClftStatus ini_run(IniLoad *ld)
{
    Config saved = *ld->c;
    int rc = ini_parse_stream(ini_reader_fn, ld, ini_handler_fn, ld);
    ClftStatus st = CLFT_OK;
    if (ld->too_long) {
        clft_set_error("%s:%d: line longer than %d characters", ld->name, ld->too_long,
                       INI_MAX_LINE - 1);
        st = CLFT_ERR_FORMAT;
    } else if (ld->failed) {
        st = ld->bad_header ? CLFT_ERR_FORMAT : CLFT_ERR_VALUE;
    } else if (rc != 0) {
        clft_set_error("%s:%d: not an INI line (expected [section] or key = value)", ld->name, rc);
        st = CLFT_ERR_FORMAT;
    }
    if (st != CLFT_OK) *ld->c = saved; /* all or nothing */
    return st;
}

#define CONFIG_MAX_FILE (16u << 20) /* a config file is a few KB */

ClftStatus config_load_ini(Config *c, const char *path)
{
    IniLoad ld = {.c = c, .name = path};
    uint64_t size;
    ClftStatus st = clft_file_open(path, CONFIG_MAX_FILE, &ld.fp, &size); /* not a directory */
    if (st != CLFT_OK) {
        char why[600];
        snprintf(why, sizeof why, "%s", clft_last_error());
        clft_set_error("cannot read config %s", why);
        return st;
    }
    st = ini_run(&ld);
    fclose(ld.fp);
    return st;
}

ClftStatus config_load_string(Config *c, const char *text, const char *origin)
{
    IniLoad ld = {.c = c, .name = origin, .text = text};
    return ini_run(&ld);
}

/* ---- formatting ---- */

/* The shortest %g text that reads back as exactly x. */
static void format_double(double x, char *out, size_t cap)
{
    for (int p = 1; p <= 17; p++) {
        snprintf(out, cap, "%.*g", p, x);
        if (strtod(out, NULL) == x) return;
    }
}

static void format_value(const Config *c, const ConfigKey *k, char *out, size_t cap)
{
    const char *field = (const char *)c + k->offset;
    size_t len = 0;
    out[0] = '\0';
    if (is_unset(c, k)) {
        snprintf(out, cap, "(unset)");
        return;
    }
    switch (k->type) {
    case CONFIG_T_INT:
        snprintf(out, cap, "%d", *(const int *)field);
        break;
    case CONFIG_T_FLOAT:
        format_double(*(const double *)field, out, cap);
        break;
    case CONFIG_T_STRING:
        snprintf(out, cap, "%s", field);
        break;
    case CONFIG_T_ENUM:
        snprintf(out, cap, "%s", k->choices[*(const int *)field]);
        break;
    case CONFIG_T_INT_LIST: {
        const ConfigIntList *l = (const ConfigIntList *)field;
        for (int i = 0; i < l->n && len < cap; i++)
            len += (size_t)snprintf(out + len, cap - len, "%s%d", i ? "," : "", l->v[i]);
        break;
    }
    case CONFIG_T_FLOAT_LIST: {
        const ConfigFloatList *l = (const ConfigFloatList *)field;
        for (int i = 0; i < l->n && len + 32 < cap; i++) {
            if (i) out[len++] = ',';
            format_double(l->v[i], out + len, cap - len);
            len += strlen(out + len);
        }
        break;
    }
    }
}

ClftStatus config_get(const Config *c, const char *section, const char *key, char *out, size_t cap)
{
    const ConfigKey *k = find_key(section, key);
    if (!k) {
        const char *v = !strcmp(section, "variant") ? config_variant_get(c, key) : NULL;
        if (!v) {
            clft_set_error("config: no key [%s] %s", section, key);
            return CLFT_ERR_VALUE;
        }
        snprintf(out, cap, "%s", v);
        return CLFT_OK;
    }
    format_value(c, k, out, cap);
    return CLFT_OK;
}

static void write_body(const Config *c, FILE *fp)
{
    char value[CONFIG_LIST_MAX * 26 + 8];
    for (int i = 0; i < n_schema; i++) {
        const ConfigKey *k = &schema[i];
        if (i == 0 || strcmp(schema[i - 1].section, k->section))
            fprintf(fp, "%s[%s]\n", i ? "\n" : "", k->section);
        format_value(c, k, value, sizeof value);
        fprintf(fp, "# %s\n%s = %s\n", k->help, k->key, value);
        if (!strcmp(k->section, "variant") && !strcmp(k->key, "name"))
            for (int j = 0; j < c->variant.n; j++)
                fprintf(fp, "%s = %s\n", c->variant.pairs[j].key, c->variant.pairs[j].value);
    }
}

char *config_to_string(const Config *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    if (!fp) clft_die("config_to_string: open_memstream failed (%s)", strerror(errno));
    write_body(c, fp);
    if (fclose(fp) != 0) clft_die("config_to_string: out of memory");
    return buf;
}

ClftStatus config_write(const Config *c, const char *path, const char *extra_comment)
{
    AtomicFile af;
    ClftStatus st = atomic_open(&af, path);
    if (st != CLFT_OK) return st;
    fprintf(af.fp, "# clft %s (commit %s): the fully resolved configuration of this run.\n",
            CLFT_VERSION, CLFT_GIT_COMMIT);
    for (const char *s = extra_comment; s && *s;) {
        size_t n = strcspn(s, "\n");
        fprintf(af.fp, "# %.*s\n", (int)n, s);
        s += n + (s[n] == '\n');
    }
    fputc('\n', af.fp);
    write_body(c, af.fp);
    return atomic_commit(&af);
}

static const char *type_name(ConfigType t)
{
    switch (t) {
    case CONFIG_T_INT:
        return "int";
    case CONFIG_T_FLOAT:
        return "float";
    case CONFIG_T_STRING:
        return "string";
    case CONFIG_T_ENUM:
        return "enum";
    case CONFIG_T_INT_LIST:
        return "int list";
    case CONFIG_T_FLOAT_LIST:
        return "float list";
    }
    return "?";
}

void config_print_help(FILE *fp, const Config *const *recipes, const char *const *names,
                       int n_recipes)
{
    fprintf(fp, "Configuration keys (INI [section] key = value, or --set section.key=value):\n");
    for (int i = 0; i < n_schema; i++) {
        const ConfigKey *k = &schema[i];
        char range[256] = "";
        if (i == 0 || strcmp(schema[i - 1].section, k->section))
            fprintf(fp, "\n[%s]\n", k->section);
        if (k->type == CONFIG_T_ENUM) {
            size_t len = 0;
            for (int j = 0; k->choices[j]; j++)
                len += (size_t)snprintf(range + len, sizeof range - len, "%s%s", j ? "|" : "",
                                        k->choices[j]);
        } else if (k->type != CONFIG_T_STRING) {
            char lo[32], hi[32];
            format_double(k->min, lo, sizeof lo);
            format_double(k->max, hi, sizeof hi);
            snprintf(range, sizeof range, "[%s, %s]", lo, hi);
        }
        char def[512] = "", value[CONFIG_LIST_MAX * 26 + 8];
        size_t len = 0;
        if (k->def) snprintf(def, sizeof def, "default '%s'", k->def);
        for (int r = 0; !k->def && r < n_recipes && len < sizeof def; r++) {
            format_value(recipes[r], k, value, sizeof value);
            len += (size_t)snprintf(def + len, sizeof def - len, "%s%s '%s'", r ? ", " : "",
                                    names[r], value);
        }
        if (!k->def && !n_recipes) snprintf(def, sizeof def, "the recipe's");
        fprintf(fp, "  %-18s %-10s %s %s\n      %s\n", k->key, type_name(k->type), def, range,
                k->help);
    }
    fprintf(fp, "\n  A key without a default is the baseline's recipe's (--baseline; baselines/).\n"
                "  Other keys in [variant] are passed to the variant named by [variant] name.\n"
                "  A file section [<baseline>.optim] (etc.) applies only to that baseline.\n");
}

/* ---- cross-field checks ---- */

/* A milestone list: strictly increasing, and (when `end` > 0) below `end` epochs. */
static const char *check_increasing(const ConfigIntList *l, int end)
{
    for (int i = 0; i < l->n; i++) {
        if (i > 0 && l->v[i] <= l->v[i - 1]) return "must be strictly increasing";
        if (end > 0 && l->v[i] >= end) return "must be below the number of epochs";
    }
    return NULL;
}

/* run.threads past 4 x the online CPUs is a typo, not a setting: each OpenBLAS thread takes a
 * 128 MiB buffer at start, so 1024 of them exhaust a memory limit before training begins. */
static const char *check_threads(const Config *c, char *why, size_t cap)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 1) cpus = 1;
    if (c->run.threads > 4 * cpus) {
        snprintf(why, cap,
                 "run.threads %d is more than 4 x the %ld online CPUs (at most %ld; 0 = all "
                 "cores)",
                 c->run.threads, cpus, 4 * cpus);
        return why;
    }
    return NULL;
}

ClftStatus config_validate(const Config *c)
{
    char why[256] = "";
    const char *m;
    int step = c->optim.schedule == SCHEDULE_STEP; /* milestones must be inside the run */
    for (int i = 0; i < n_schema; i++)
        if (is_unset(c, &schema[i])) {
            clft_set_error("config: %s.%s has no value: a baseline's recipe sets it "
                           "(config_resolve, --baseline)",
                           schema[i].section, schema[i].key);
            return CLFT_ERR_VALUE;
        }
    if (c->optim.batch % c->moco.shuffle_groups)
        snprintf(why, sizeof why, "optim.batch %d is not divisible by moco.shuffle_groups %d",
                 c->optim.batch, c->moco.shuffle_groups);
    else if (c->moco.K < c->optim.batch)
        snprintf(why, sizeof why, "moco.K %d is smaller than optim.batch %d", c->moco.K,
                 c->optim.batch);
    else if (c->optim.warmup_epochs >= c->optim.epochs)
        snprintf(why, sizeof why, "optim.warmup_epochs %d must be below optim.epochs %d",
                 c->optim.warmup_epochs, c->optim.epochs);
    else if ((m = check_increasing(&c->optim.milestones, step ? c->optim.epochs : 0)))
        snprintf(why, sizeof why, "optim.milestones %s (epochs %d)", m, c->optim.epochs);
    else if ((m = check_increasing(&c->eval.linear_milestones, c->eval.linear_epochs)))
        snprintf(why, sizeof why, "eval.linear_milestones %s (linear_epochs %d)", m,
                 c->eval.linear_epochs);
    else if ((c->aug.scale_max >= 0 && c->aug.scale_min > c->aug.scale_max) ||
             c->aug.scale_min == 0 || c->aug.scale_max == 0) /* the recipe's: baseline_validate */
        snprintf(why, sizeof why, "aug scale range [%g, %g] is empty or not positive",
                 c->aug.scale_min, c->aug.scale_max);
    else if (c->data.size != 0 && c->data.size < 8)
        snprintf(why, sizeof why, "data.size %d: use 0 (native) or at least 8", c->data.size);
    else
        check_threads(c, why, sizeof why);
    for (int i = 0; !why[0] && i < c->eval.semisup_fractions.n; i++)
        if (c->eval.semisup_fractions.v[i] <= 0)
            snprintf(why, sizeof why, "eval.semisup_fractions must be in (0, 1]");
    for (int i = 0; !why[0] && i < c->data.classes.n; i++)
        for (int j = 0; j < i; j++)
            if (c->data.classes.v[i] == c->data.classes.v[j])
                snprintf(why, sizeof why, "data.classes lists class %d twice",
                         c->data.classes.v[i]);
    if (why[0]) {
        clft_set_error("config: %s", why);
        return CLFT_ERR_VALUE;
    }
    return CLFT_OK;
}

/* ---- variant keys, augmentation, enum names ---- */

ClftStatus config_apply_variant(const Config *c, ConfigVariantSetFn set, void *opts)
{
    for (int i = 0; i < c->variant.n; i++) {
        const ConfigPair *p = &c->variant.pairs[i];
        if (set(opts, p->key, p->value) != CLFT_OK) {
            char inner[512];
            snprintf(inner, sizeof inner, "%s", clft_last_error());
            clft_set_error("%s: [variant] %s = '%s' (variant %s): %s",
                           c->variant_origin[i][0] ? c->variant_origin[i] : "config", p->key,
                           p->value, c->variant.name, inner[0] ? inner : "rejected");
            return CLFT_ERR_VALUE;
        }
    }
    return CLFT_OK;
}

const char *config_variant_get(const Config *c, const char *key)
{
    for (int i = 0; i < c->variant.n; i++)
        if (!strcmp(c->variant.pairs[i].key, key)) return c->variant.pairs[i].value;
    return NULL;
}

const char *config_enum_name(const char *section, const char *key, int value)
{
    const ConfigKey *k = find_key(section, key);
    ASSERT(k && k->type == CONFIG_T_ENUM);
    for (int i = 0; k->choices[i]; i++)
        if (i == value) return k->choices[i];
    return "?";
}

/* "section.key" is in the NULL-terminated list `keys`. */
static int listed(const char *section, const char *key, const char *const *keys)
{
    char name[96];
    snprintf(name, sizeof name, "%s.%s", section, key);
    for (int i = 0; keys && keys[i]; i++)
        if (!strcmp(keys[i], name)) return 1;
    return 0;
}

/* Appends "section.key (a -> b)" to out (cap), comma-separated; counts it. */
static void note_diff(char *out, size_t cap, int *n, const char *section, const char *key,
                      const char *a, const char *b)
{
    size_t len = strlen(out);
    if (len + 8 >= cap) return;
    snprintf(out + len, cap - len, "%s%s.%s (%s -> %s)", *n ? ", " : "", section, key, a, b);
    (*n)++;
}

int config_diff(const Config *a, const Config *b, const char *const *ignore, char *out, size_t cap)
{
    char va[CONFIG_LIST_MAX * 26 + 8], vb[CONFIG_LIST_MAX * 26 + 8];
    int n = 0;
    out[0] = '\0';
    for (int i = 0; i < n_schema; i++) {
        const ConfigKey *k = &schema[i];
        if (listed(k->section, k->key, ignore)) continue;
        format_value(a, k, va, sizeof va);
        format_value(b, k, vb, sizeof vb);
        if (strcmp(va, vb)) note_diff(out, cap, &n, k->section, k->key, va, vb);
    }
    /* the free [variant] keys, those of either side */
    for (int side = 0; side < 2; side++) {
        const Config *c = side ? b : a, *o = side ? a : b;
        for (int i = 0; i < c->variant.n; i++) {
            const char *key = c->variant.pairs[i].key, *other = config_variant_get(o, key);
            if (side && other) continue; /* a key both have was compared from a's side */
            if (!other || strcmp(other, c->variant.pairs[i].value))
                note_diff(out, cap, &n, "variant", key, side ? "(unset)" : c->variant.pairs[i].value,
                          side ? c->variant.pairs[i].value : other ? other : "(unset)");
        }
    }
    return n;
}

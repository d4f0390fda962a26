/* dataset.c — dataset specs, the class filter and the limit, sample access, and the synthetic
 * generator (see dataset.h). */
#include "core/data/dataset.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/data/data_internal.h"
#include "core/rng.h"

#define FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"
#define SYNTH_SEED 0x5eedda7aULL

void data_image_reserve(DataImage *img, int H, int W, int C)
{
    size_t need = (size_t)H * W * C;
    if (need > img->cap) {
        free(img->pixels);
        img->cap = need + need / 4;
        img->pixels = xmalloc(img->cap);
    }
    img->H = H, img->W = W, img->C = C;
}

void data_image_free(DataImage *img)
{
    free(img->pixels);
    free(img->raw);
    memset(img, 0, sizeof *img);
}

#define SYNTH_MAX_SIDE 4096
#define SYNTH_MAX_N 10000000
#define SYNTH_MAX_CLASSES 100000

/* Splits arg at each of the separators in `seps` (in order) into at most n strict integers in
 * [1, hi[k]]; returns how many were read, or -1 on anything else (junk, overflow, empty field). */
static int parse_fields(const char *arg, const char *seps, const long *hi, int n, long *out)
{
    char buf[128];
    if (strlen(arg) >= sizeof buf) return -1;
    strcpy(buf, arg);
    char *p = buf;
    for (int k = 0; k < n; k++) {
        char *end = k + 1 < n ? strchr(p, seps[k]) : NULL;
        if (end) *end = '\0';
        if (parse_int(p, 1, hi[k], &out[k]) != CLFT_OK) return -1;
        if (!end) return k + 1;
        p = end + 1;
    }
    return -1; /* more fields than n */
}

/* "WxHxC[:N[:CLASSES]]" */
static ClftStatus synthetic_parse(DatasetImpl *impl, const char *arg, DataSplit split)
{
    long v[5] = {32, 32, 3, 1000, 10};
    static const long hi[5] = {SYNTH_MAX_SIDE, SYNTH_MAX_SIDE, 3, SYNTH_MAX_N, SYNTH_MAX_CLASSES};
    if (arg && *arg) {
        int got = parse_fields(arg, "xx::", hi, 5, v);
        if (got < 3 || v[2] == 2) {
            clft_set_error(
                "synthetic:%s: expected WxHxC[:N[:CLASSES]] with W, H in 1..%d, C 1 or 3, "
                "N in 1..%d and CLASSES in 1..%d",
                arg, SYNTH_MAX_SIDE, SYNTH_MAX_N, SYNTH_MAX_CLASSES);
            return CLFT_ERR_VALUE;
        }
    }
    int W = (int)v[0], H = (int)v[1], C = (int)v[2], N = (int)v[3], K = (int)v[4];
    impl->kind = BACKEND_SYNTHETIC;
    impl->W = W, impl->H = H, impl->C = C, impl->n_classes = K;
    impl->n = split == SPLIT_TRAIN ? N : (N / 5 > K ? N / 5 : K);
    impl->synth_split = (int)split;
    impl->labels = xmalloc((size_t)impl->n * sizeof(int));
    for (int i = 0; i < impl->n; i++) impl->labels[i] = i % K;
    return CLFT_OK;
}

/* Class c: an oriented grating of class-specific angle, frequency and colour; each sample draws its
 * own phase, contrast and pixel noise from (seed, RNG_STREAM_DATA, split, i). */
static void synthetic_get(const DatasetImpl *impl, int i, DataImage *img)
{
    int H = impl->H, W = impl->W, C = impl->C, c = impl->labels[i], K = impl->n_classes;
    data_image_reserve(img, H, W, C);
    Rng cls, r;
    rng_init(&cls, SYNTH_SEED, RNG_STREAM_DATA, 1000, (uint64_t)c);
    double colour[3] = {rng_range(&cls, 0.3, 1.0), rng_range(&cls, 0.3, 1.0),
                        rng_range(&cls, 0.3, 1.0)};
    double theta = M_PI * c / K, freq = 1.0 + (c % 4);
    rng_init(&r, SYNTH_SEED, RNG_STREAM_DATA, (uint64_t)impl->synth_split, (uint64_t)i);
    double phase = rng_range(&r, 0.0, 2.0 * M_PI), amp = rng_range(&r, 50.0, 100.0);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            double u = (x * cos(theta) + y * sin(theta)) / (W > H ? W : H);
            double s = sin(2.0 * M_PI * freq * u + phase);
            for (int ch = 0; ch < C; ch++) {
                double v = 128.0 + amp * s * colour[ch] + rng_range(&r, -20.0, 20.0);
                img->pixels[((size_t)y * W + x) * C + ch] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        }
}

static ClftStatus backend_open(DatasetImpl *impl, const char *spec, DataSplit split,
                               const DatasetOptions *opt)
{
    const char *colon = strchr(spec, ':');
    size_t klen = colon ? (size_t)(colon - spec) : strlen(spec);
    const char *arg = colon ? colon + 1 : NULL;
#define KIND_IS(s) (klen == strlen(s) && !strncmp(spec, s, klen))
    if (KIND_IS("fashion-mnist")) return idx_open_fashion_mnist(impl, arg ? arg : FASHION_MNIST_DIR, split);
    if (KIND_IS("synthetic")) return synthetic_parse(impl, arg, split);
    if (!arg || !*arg) {
        clft_set_error("--data %s: expected %.*s:DIR", spec, (int)klen, spec);
        return CLFT_ERR_VALUE;
    }
    if (KIND_IS("cifar10")) return cifar_open(impl, arg, split, 10);
    if (KIND_IS("cifar100")) return cifar_open(impl, arg, split, 100);
    if (KIND_IS("imagefolder")) return imagefolder_open(impl, arg, split, opt);
#undef KIND_IS
    clft_set_error("--data %s: unknown dataset (fashion-mnist[:DIR], cifar10:DIR, cifar100:DIR, "
                   "imagefolder:DIR, synthetic[:WxHxC[:N[:CLASSES]]])", spec);
    return CLFT_ERR_VALUE;
}

/* The class filter: class_map[backend label] = kept position or -1. */
static ClftStatus apply_class_filter(Dataset *ds, const DatasetOptions *opt)
{
    int nb = ds->impl->n_classes;
    ds->class_map = xmalloc((size_t)nb * sizeof(int));
    int keep_all = !opt || !opt->classes;
    for (int c = 0; c < nb; c++) ds->class_map[c] = keep_all ? c : -1;
    ds->n_classes = keep_all ? nb : opt->n_keep;
    for (int k = 0; !keep_all && k < opt->n_keep; k++) {
        int c = opt->classes[k];
        if (c < 0 || c >= nb || ds->class_map[c] >= 0) {
            clft_set_error("%s: class filter id %d is out of range 0..%d or repeated", ds->name, c,
                           nb - 1);
            return CLFT_ERR_VALUE;
        }
        ds->class_map[c] = k;
    }
    return CLFT_OK;
}

typedef struct {
    long key;
    int idx;
} LimitKey;

static int cmp_limit_key(const void *a, const void *b)
{
    long x = ((const LimitKey *)a)->key, y = ((const LimitKey *)b)->key;
    return (x > y) - (x < y);
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Class-balanced limit: in a seeded permutation, rank each sample within its class; keep the
 * `limit` samples of smallest (rank, position), i.e. round-robin over the classes. */
static void apply_limit(Dataset *ds, int limit, uint64_t seed)
{
    int n = ds->n;
    int *perm = xmalloc((size_t)n * sizeof(int)), *seen = xcalloc((size_t)ds->n_classes, sizeof(int));
    LimitKey *keys = xmalloc((size_t)n * sizeof(LimitKey));
    Rng r;
    rng_init(&r, seed, RNG_STREAM_DATA, 0x1111u, 0);
    rng_permutation(&r, perm, n);
    for (int p = 0; p < n; p++) {
        int i = perm[p];
        keys[p].key = (long)seen[ds->labels[i]]++ * n + p;
        keys[p].idx = i;
    }
    qsort(keys, (size_t)n, sizeof(LimitKey), cmp_limit_key);
    for (int k = 0; k < limit; k++) perm[k] = keys[k].idx;
    qsort(perm, (size_t)limit, sizeof(int), cmp_int);
    for (int k = 0; k < limit; k++) {
        ds->base[k] = ds->base[perm[k]];
        ds->labels[k] = ds->labels[perm[k]];
    }
    ds->n = limit;
    free(perm), free(seen), free(keys);
}

ClftStatus dataset_open(Dataset **out, const char *spec, DataSplit split, const DatasetOptions *opt)
{
    Dataset *ds = xcalloc(1, sizeof *ds);
    ds->impl = xcalloc(1, sizeof *ds->impl);
    *out = NULL;
    const char *colon = strchr(spec, ':');
    snprintf(ds->name, sizeof ds->name, "%.*s/%s", (int)(colon ? colon - spec : (long)strlen(spec)),
             spec, split == SPLIT_TRAIN ? "train" : "test");
    ClftStatus st = backend_open(ds->impl, spec, split, opt);
    if (st == CLFT_OK) st = apply_class_filter(ds, opt);
    if (st != CLFT_OK) {
        dataset_free(ds);
        return st;
    }
    DatasetImpl *impl = ds->impl;
    ds->C = impl->C, ds->H = impl->H, ds->W = impl->W;
    ds->base = xmalloc((size_t)impl->n * sizeof(int));
    ds->labels = xmalloc((size_t)impl->n * sizeof(int));
    for (int i = 0; i < impl->n; i++) {
        int l = ds->class_map[impl->labels[i]];
        if (l < 0) continue;
        ds->base[ds->n] = i;
        ds->labels[ds->n++] = l;
    }
    if (opt && opt->limit > 0 && opt->limit < ds->n) apply_limit(ds, opt->limit, opt->seed);
    if (ds->n == 0) {
        clft_set_error("%s: no samples left after the class filter", ds->name);
        dataset_free(ds);
        return CLFT_ERR_VALUE;
    }
    *out = ds;
    return CLFT_OK;
}

void dataset_free(Dataset *ds)
{
    if (!ds) return;
    if (ds->impl) {
        free(ds->impl->labels), free(ds->impl->pixels);
        free(ds->impl->path_pool), free(ds->impl->path_off);
        free(ds->impl);
    }
    free(ds->labels), free(ds->base), free(ds->class_map);
    free(ds);
}

ClftStatus dataset_get(const Dataset *ds, int i, int min_side, DataImage *img)
{
    ASSERT(i >= 0 && i < ds->n);
    const DatasetImpl *impl = ds->impl;
    int b = ds->base[i];
    ClftStatus st = CLFT_OK;
    switch (impl->kind) {
    case BACKEND_MEMORY: {
        size_t sz = (size_t)impl->H * impl->W * impl->C;
        data_image_reserve(img, impl->H, impl->W, impl->C);
        memcpy(img->pixels, impl->pixels + (size_t)b * sz, sz);
        break;
    }
    case BACKEND_IMAGEFOLDER: st = imagefolder_get(impl, b, min_side, img); break;
    case BACKEND_SYNTHETIC: synthetic_get(impl, b, img); break;
    }
    img->label = ds->labels[i];
    return st;
}

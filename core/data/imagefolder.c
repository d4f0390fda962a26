/* imagefolder.c — JPEG folders in the ImageNet layout, DIR/{train,val}/<class>/NAME.JPEG, as
 * torchvision.datasets.ImageFolder reads them: classes sorted by name (label = position), files
 * sorted by name; files ending .jpeg/.jpg (any case). The ImageNet-100 subset keeps the classes of
 * data/imagenet100.class (PAPER.md §4); a listed class missing from the tree is an error. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/data/data_internal.h"
#include "core/data/jpeg.h"

typedef struct {
    char **v;
    int n, cap;
} NameList;

static void names_push(NameList *l, const char *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = realloc(l->v, (size_t)l->cap * sizeof(char *));
        ASSERT(l->v);
    }
    l->v[l->n++] = strdup(s);
}

static void names_free(NameList *l)
{
    for (int i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_jpeg_name(const char *s)
{
    const char *dot = strrchr(s, '.');
    return dot && (!strcasecmp(dot, ".jpeg") || !strcasecmp(dot, ".jpg"));
}

/* Sorted entries of `dir`: sub-directories (want_dirs) or JPEG files. */
static ClftStatus list_dir(const char *dir, int want_dirs, NameList *out)
{
    DIR *d = opendir(dir);
    if (!d) {
        clft_set_error("%s: cannot open directory (missing or unreadable)", dir);
        return CLFT_ERR_IO;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        int is_dir = e->d_type == DT_DIR;
        if (e->d_type == DT_UNKNOWN || e->d_type == DT_LNK) {
            char p[4096];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            DIR *probe = opendir(p);
            is_dir = probe != NULL;
            if (probe) closedir(probe);
        }
        if (want_dirs ? is_dir : (!is_dir && is_jpeg_name(e->d_name))) names_push(out, e->d_name);
    }
    closedir(d);
    if (out->n) qsort(out->v, (size_t)out->n, sizeof(char *), cmp_str);
    return CLFT_OK;
}

/* Keeps only the classes listed in `list_path` (one WordNet id per line). */
static ClftStatus filter_imagenet100(NameList *classes, const char *list_path, const char *root)
{
    FILE *f = fopen(list_path, "r");
    if (!f) {
        clft_set_error("%s: cannot open the ImageNet-100 class list", list_path);
        return CLFT_ERR_IO;
    }
    NameList want = {0};
    char line[256];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, " \t\r\n")] = 0;
        if (line[0]) names_push(&want, line);
    }
    fclose(f);
    qsort(want.v, (size_t)want.n, sizeof(char *), cmp_str);
    NameList kept = {0};
    for (int i = 0; i < want.n; i++) {
        if (!bsearch(&want.v[i], classes->v, (size_t)classes->n, sizeof(char *), cmp_str)) {
            clft_set_error("%s: class %s of the ImageNet-100 list is missing", root, want.v[i]);
            names_free(&want);
            names_free(&kept);
            return CLFT_ERR_FORMAT;
        }
        names_push(&kept, want.v[i]);
    }
    names_free(&want);
    names_free(classes);
    *classes = kept;
    return CLFT_OK;
}

static void pool_add(DatasetImpl *impl, size_t *pool_cap, int *cap, const char *path, int label)
{
    size_t len = strlen(path) + 1, used = impl->n ? impl->path_off[impl->n - 1] : 0;
    if (impl->n) used += strlen(impl->path_pool + used) + 1;
    if (used + len > *pool_cap) {
        *pool_cap = (used + len) * 2;
        impl->path_pool = realloc(impl->path_pool, *pool_cap);
        ASSERT(impl->path_pool);
    }
    if (impl->n == *cap) {
        *cap = *cap ? *cap * 2 : 1024;
        impl->path_off = realloc(impl->path_off, (size_t)*cap * sizeof(size_t));
        impl->labels = realloc(impl->labels, (size_t)*cap * sizeof(int));
        ASSERT(impl->path_off && impl->labels);
    }
    memcpy(impl->path_pool + used, path, len);
    impl->path_off[impl->n] = used;
    impl->labels[impl->n++] = label;
}

ClftStatus imagefolder_open(DatasetImpl *impl, const char *dir, DataSplit split,
                            const DatasetOptions *opt)
{
    char root[4096], cdir[4400], path[4800];
    snprintf(root, sizeof root, "%s/%s", dir, split == SPLIT_TRAIN ? "train" : "val");
    impl->kind = BACKEND_IMAGEFOLDER;
    impl->C = 3;
    impl->max_pixels = opt ? opt->max_pixels : 0;
    NameList classes = {0};
    ClftStatus st = list_dir(root, 1, &classes);
    if (st == CLFT_OK && opt && opt->subset == DATA_SUBSET_IMAGENET100) {
        const char *list = opt->class_list ? opt->class_list
                                           : CLFT_SOURCE_DIR "/data/imagenet100.class";
        st = filter_imagenet100(&classes, list, root);
    }
    if (st == CLFT_OK && classes.n == 0) {
        clft_set_error("%s: no class directories", root);
        st = CLFT_ERR_FORMAT;
    }
    impl->n_classes = classes.n;
    size_t pool_cap = 0;
    int cap = 0;
    for (int c = 0; st == CLFT_OK && c < classes.n; c++) {
        NameList files = {0};
        snprintf(cdir, sizeof cdir, "%s/%.255s", root, classes.v[c]);
        st = list_dir(cdir, 0, &files);
        for (int k = 0; st == CLFT_OK && k < files.n; k++) {
            snprintf(path, sizeof path, "%s/%.255s", cdir, files.v[k]);
            pool_add(impl, &pool_cap, &cap, path, c);
        }
        names_free(&files);
    }
    names_free(&classes);
    if (st == CLFT_OK && impl->n == 0) {
        clft_set_error("%s: no JPEG files", root);
        st = CLFT_ERR_FORMAT;
    }
    return st;
}

/* Reads the whole file into img->raw (grown on demand) and decodes it to RGB. */
ClftStatus imagefolder_get(const DatasetImpl *impl, int i, int min_side, DataImage *img)
{
    const char *path = impl->path_pool + impl->path_off[i];
    FILE *f;
    uint64_t size;
    ClftStatus st = clft_file_open(path, JPEG_MAX_FILE_BYTES, &f, &size);
    if (st != CLFT_OK) return st;
    if (size == 0) {
        fclose(f);
        clft_set_error("%s: empty file", path);
        return CLFT_ERR_FORMAT;
    }
    if (size > img->raw_cap) {
        img->raw_cap = (size_t)size + (size_t)size / 2;
        free(img->raw);
        img->raw = xmalloc(img->raw_cap);
    }
    size_t got = fread(img->raw, 1, (size_t)size, f);
    fclose(f);
    if (got != (size_t)size) {
        clft_set_error("%s: short read (%zu of %llu bytes)", path, got, (unsigned long long)size);
        return CLFT_ERR_IO;
    }
    JpegOptions jo = {.channels = 3, .min_side = min_side, .max_pixels = impl->max_pixels};
    st = jpeg_decode(img->raw, (size_t)size, path, &jo, img);
    img->label = impl->labels[i];
    return st;
}

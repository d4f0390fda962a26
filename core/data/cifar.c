/* cifar.c — CIFAR-10 / CIFAR-100 binary batches. Reference: the "binary version" section of
 * https://www.cs.toronto.edu/~kriz/cifar.html — records of <label byte(s)> + 3072 bytes of
 * 32x32 R, G, B planes. CIFAR-10: data_batch_1..5.bin (10000 each) and test_batch.bin; CIFAR-100:
 * train.bin and test.bin with <coarse label><fine label> (we use the fine label). A file must be a
 * whole number of records, at most CIFAR_MAX_RECORDS of them; sizes are checked in 64 bits before
 * anything is allocated, and an allocation failure is a one-line error naming the file. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/data/data_internal.h"

#define CIFAR_PIXELS 3072

/* DIR itself, or DIR/<sub> when the batches are in the archive's folder. */
static void cifar_dir(char *out, size_t cap, const char *dir, const char *sub, const char *probe)
{
    char p[4096];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", dir, probe);
    if (stat(p, &sb) == 0) {
        snprintf(out, cap, "%s", dir);
        return;
    }
    snprintf(out, cap, "%s/%s", dir, sub);
}

/* A batch holds at most the whole dataset's 60000 images: a larger file is not a CIFAR batch (and
 * its record count could not be held in an int). */
#define CIFAR_MAX_RECORDS 60000

ClftStatus cifar_parse(DatasetImpl *impl, const uint8_t *bytes, size_t size, int label_bytes,
                       int *cap, const char *what)
{
    const size_t rec = (size_t)label_bytes + CIFAR_PIXELS;
    if (size == 0 || size % rec != 0) {
        clft_set_error("%s: size %zu is not a positive multiple of the %zu-byte record", what, size,
                       rec);
        return CLFT_ERR_FORMAT;
    }
    if (size / rec > CIFAR_MAX_RECORDS) {
        clft_set_error("%s: %zu records, more than a CIFAR batch holds (%d)", what, size / rec,
                       CIFAR_MAX_RECORDS);
        return CLFT_ERR_FORMAT;
    }
    int count = (int)(size / rec);
    if (impl->n > INT_MAX / 2 - count) {
        clft_set_error("%s: too many CIFAR records in all (%d + %d)", what, impl->n, count);
        return CLFT_ERR_FORMAT;
    }
    if (impl->n + count > *cap) {
        int c = (impl->n + count) * 2;
        uint8_t *px = realloc(impl->pixels, (size_t)c * CIFAR_PIXELS);
        if (px) impl->pixels = px;
        int *lb = px ? realloc(impl->labels, (size_t)c * sizeof(int)) : NULL;
        if (!px || !lb)
            clft_die("%s: out of memory for %d CIFAR images (%zu bytes)", what, c,
                     (size_t)c * CIFAR_PIXELS);
        impl->labels = lb;
        *cap = c;
    }
    for (int r = 0; r < count; r++) {
        const uint8_t *src = bytes + (size_t)r * rec; /* label byte(s), then (3, 32, 32) */
        int label = src[label_bytes - 1];
        if (label >= impl->n_classes) {
            clft_set_error("%s: record %d has label %d, expected < %d", what, r, label,
                           impl->n_classes);
            return CLFT_ERR_FORMAT;
        }
        uint8_t *dst = impl->pixels + (size_t)impl->n * CIFAR_PIXELS; /* (32, 32, 3) */
        src += label_bytes;
        for (int p = 0; p < 1024; p++)
            for (int c = 0; c < 3; c++) dst[3 * p + c] = src[c * 1024 + p];
        impl->labels[impl->n++] = label;
    }
    return CLFT_OK;
}

/* Appends the records of one file to impl (pixels converted from CHW planes to HWC). */
static ClftStatus cifar_read_file(DatasetImpl *impl, const char *path, int label_bytes, int *cap)
{
    unsigned char *bytes;
    size_t size;
    uint64_t max = (uint64_t)CIFAR_MAX_RECORDS * (uint64_t)(label_bytes + CIFAR_PIXELS);
    ClftStatus st = clft_file_read(path, max, &bytes, &size);
    if (st == CLFT_ERR_FORMAT) /* larger than max: say it in records */
        clft_set_error("%s: larger than a CIFAR batch (at most %d records of %d bytes)", path,
                       CIFAR_MAX_RECORDS, label_bytes + CIFAR_PIXELS);
    if (st != CLFT_OK) return st;
    st = cifar_parse(impl, bytes, size, label_bytes, cap, path);
    free(bytes);
    return st;
}

ClftStatus cifar_open(DatasetImpl *impl, const char *dir, DataSplit split, int n_classes)
{
    char root[4096], path[4200];
    impl->kind = BACKEND_MEMORY;
    impl->n_classes = n_classes;
    impl->C = 3, impl->H = 32, impl->W = 32;
    int cap = 0;
    ClftStatus st = CLFT_OK;
    if (n_classes == 10) {
        cifar_dir(root, sizeof root, dir, "cifar-10-batches-bin",
                  split == SPLIT_TRAIN ? "data_batch_1.bin" : "test_batch.bin");
        for (int b = 1; b <= 5 && split == SPLIT_TRAIN && st == CLFT_OK; b++) {
            snprintf(path, sizeof path, "%s/data_batch_%d.bin", root, b);
            st = cifar_read_file(impl, path, 1, &cap);
        }
        if (split == SPLIT_TEST) {
            snprintf(path, sizeof path, "%s/test_batch.bin", root);
            st = cifar_read_file(impl, path, 1, &cap);
        }
    } else {
        cifar_dir(root, sizeof root, dir, "cifar-100-binary", split == SPLIT_TRAIN ? "train.bin" : "test.bin");
        snprintf(path, sizeof path, "%s/%s.bin", root, split == SPLIT_TRAIN ? "train" : "test");
        st = cifar_read_file(impl, path, 2, &cap);
    }
    return st;
}

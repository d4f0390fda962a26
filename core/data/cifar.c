/* cifar.c — CIFAR-10 / CIFAR-100 binary batches. Reference: the "binary version" section of
 * https://www.cs.toronto.edu/~kriz/cifar.html — records of <label byte(s)> + 3072 bytes of
 * 32x32 R, G, B planes. CIFAR-10: data_batch_1..5.bin (10000 each) and test_batch.bin; CIFAR-100:
 * train.bin and test.bin with <coarse label><fine label> (we use the fine label). */
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

/* Appends the records of one file to impl (pixels converted from CHW planes to HWC). */
static ClftStatus cifar_read_file(DatasetImpl *impl, const char *path, int label_bytes, int *cap)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        clft_set_error("%s: cannot open (missing file or directory)", path);
        return CLFT_ERR_IO;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    long rec = label_bytes + CIFAR_PIXELS;
    if (size <= 0 || size % rec != 0) {
        clft_set_error("%s: size %ld is not a positive multiple of the %ld-byte record", path, size,
                       rec);
        fclose(f);
        return CLFT_ERR_FORMAT;
    }
    int count = (int)(size / rec);
    if (impl->n + count > *cap) {
        *cap = (impl->n + count) * 2;
        impl->pixels = realloc(impl->pixels, (size_t)*cap * CIFAR_PIXELS);
        impl->labels = realloc(impl->labels, (size_t)*cap * sizeof(int));
        ASSERT(impl->pixels && impl->labels);
    }
    uint8_t buf[2 + CIFAR_PIXELS];
    for (int r = 0; r < count; r++) {
        if (fread(buf, 1, (size_t)rec, f) != (size_t)rec) {
            clft_set_error("%s: short read at record %d", path, r);
            fclose(f);
            return CLFT_ERR_IO;
        }
        int label = buf[label_bytes - 1];
        if (label >= impl->n_classes) {
            clft_set_error("%s: record %d has label %d, expected < %d", path, r, label,
                           impl->n_classes);
            fclose(f);
            return CLFT_ERR_FORMAT;
        }
        uint8_t *dst = impl->pixels + (size_t)impl->n * CIFAR_PIXELS; /* (32, 32, 3) */
        const uint8_t *src = buf + label_bytes;                       /* (3, 32, 32) */
        for (int p = 0; p < 1024; p++)
            for (int c = 0; c < 3; c++) dst[3 * p + c] = src[c * 1024 + p];
        impl->labels[impl->n++] = label;
    }
    fclose(f);
    return CLFT_OK;
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

/* data.c — `clft data --data SPEC [--subset imagenet100] [--preview out.png]`: inspect and verify a
 * dataset (DESIGN.md "Command line"). Prints each split's image count, classes, image size and a
 * content checksum (CRC-32 of every image's pixels and label, in index order; for imagefolder, of
 * the file list and labels, so that ImageNet is not decoded). --preview writes a PNG grid of MoCo v2
 * view pairs of the first training images. */
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "baselines/baseline.h"
#include "cli/commands.h"
#include "core/data/augment.h"
#include "core/data/data_internal.h"
#include "core/data/dataset.h"
#include "core/rng.h"

#define PREVIEW_PAIRS 16
#define PREVIEW_COLS 4 /* pairs per row */

static void usage(FILE *f)
{
    fprintf(f, "usage: clft data --data SPEC [--subset imagenet100] [--preview out.png]\n"
               "  SPEC: fashion-mnist[:DIR] | cifar10:DIR | cifar100:DIR | imagefolder:DIR |\n"
               "        synthetic[:WxHxC[:N[:CLASSES]]]\n");
}

static unsigned long checksum(const Dataset *ds)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    if (ds->impl->kind == BACKEND_IMAGEFOLDER) {
        for (int i = 0; i < ds->n; i++) {
            const char *p = ds->impl->path_pool + ds->impl->path_off[ds->base[i]];
            crc = crc32(crc, (const Bytef *)p, (uInt)strlen(p));
            crc = crc32(crc, (const Bytef *)&ds->labels[i], sizeof(int));
        }
        return crc;
    }
    DataImage img = {0};
    for (int i = 0; i < ds->n; i++) {
        if (dataset_get(ds, i, 0, &img) != CLFT_OK) clft_die("%s", clft_last_error());
        crc = crc32(crc, img.pixels, (uInt)((size_t)img.H * img.W * img.C));
        uint8_t label = (uint8_t)img.label;
        crc = crc32(crc, &label, 1);
    }
    data_image_free(&img);
    return crc;
}

static void report(const Dataset *ds, const char *split)
{
    char size[64];
    if (ds->H) snprintf(size, sizeof size, "%dx%dx%d", ds->H, ds->W, ds->C);
    else snprintf(size, sizeof size, "variable x%d (JPEG)", ds->C);
    printf("%-5s %7d images, %d classes, %s, crc32 %08lx%s\n", split, ds->n, ds->n_classes, size,
           checksum(ds), ds->impl->kind == BACKEND_IMAGEFOLDER ? " (file list)" : "");
}

static int write_png(const char *path, const uint8_t *rgb, int H, int W)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "clft: %s: cannot write the preview\n", path);
        return 1;
    }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        fprintf(stderr, "clft: %s: PNG write failed\n", path);
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return 1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)W, (png_uint_32)H, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < H; y++) png_write_row(png, (png_const_bytep)(rgb + (size_t)y * W * 3));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    fclose(f);
    return 0;
}

/* Un-normalises a (C, S, S) view into a tile of the (GH, GW, 3) grid, magnified `mag` times. */
static void paint_tile(uint8_t *grid, int GW, int x0, int y0, const float *v, int C, int S,
                       int mag, const AugConfig *cfg)
{
    for (int y = 0; y < S * mag; y++)
        for (int x = 0; x < S * mag; x++)
            for (int k = 0; k < 3; k++) {
                int c = C == 3 ? k : 0;
                float f = (v[((size_t)c * S + y / mag) * S + x / mag] * cfg->std[c] + cfg->mean[c]) * 255.0f + 0.5f;
                grid[((size_t)(y0 + y) * GW + x0 + x) * 3 + k] = (uint8_t)(f < 0 ? 0 : f > 255 ? 255 : f);
            }
}

static int preview(const Dataset *ds, const char *path)
{
    int S = ds->H ? (ds->H < ds->W ? ds->H : ds->W) : 224, C = ds->C;
    int mag = S >= 96 ? 1 : (96 + S - 1) / S, T = S * mag, gap = 4;
    AugConfig cfg = aug_moco_v2(S, C);
    int rows = (PREVIEW_PAIRS + PREVIEW_COLS - 1) / PREVIEW_COLS;
    int GW = PREVIEW_COLS * (2 * T + 3 * gap), GH = rows * (T + gap) + gap;
    uint8_t *grid = xcalloc((size_t)GH * GW * 3, 1);
    float *v = xmalloc(sizeof(float) * (size_t)C * S * S); /* (C, S, S) */
    DataImage img = {0};
    AugScratch scratch = {0};
    for (int p = 0; p < PREVIEW_PAIRS && p < ds->n; p++) {
        if (dataset_get(ds, p, aug_min_side(&cfg), &img) != CLFT_OK) clft_die("%s", clft_last_error());
        Rng r;
        rng_init(&r, 0, RNG_STREAM_AUG, 0, (uint64_t)p);
        int x0 = (p % PREVIEW_COLS) * (2 * T + 3 * gap) + gap, y0 = (p / PREVIEW_COLS) * (T + gap) + gap;
        for (int view = 0; view < 2; view++) {
            aug_apply(&cfg, &r, img.pixels, img.H, img.W, img.C, v, &scratch);
            paint_tile(grid, GW, x0 + view * (T + gap), y0, v, C, S, mag, &cfg);
        }
    }
    int rc = write_png(path, grid, GH, GW);
    if (!rc) printf("preview: %s (%d MoCo v2 view pairs, %dx%d)\n", path, PREVIEW_PAIRS, GW, GH);
    free(grid), free(v);
    data_image_free(&img);
    aug_scratch_free(&scratch);
    return rc;
}

int cmd_data(int argc, char **argv)
{
    const char *spec = NULL, *preview_path = NULL;
    DatasetOptions opt = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!next) {
            fprintf(stderr, "clft data: %s needs a value (or is unknown)\n", a);
            return 2;
        }
        if (!strcmp(a, "--data")) spec = next;
        else if (!strcmp(a, "--preview")) preview_path = next;
        else if (!strcmp(a, "--subset") && !strcmp(next, "imagenet100")) opt.subset = DATA_SUBSET_IMAGENET100;
        else {
            fprintf(stderr, "clft data: unknown option or value %s %s\n", a, next);
            return 2;
        }
        i++;
    }
    if (!spec) {
        usage(stderr);
        return 2;
    }
    Dataset *ds[2] = {NULL, NULL};
    const char *names[2] = {"train", "test"};
    for (int s = 0; s < 2; s++)
        if (dataset_open(&ds[s], spec, s == 0 ? SPLIT_TRAIN : SPLIT_TEST, &opt) != CLFT_OK) {
            fprintf(stderr, "clft: %s\n", clft_last_error());
            dataset_free(ds[0]);
            return 1;
        }
    printf("data: %s%s\n", spec, opt.subset == DATA_SUBSET_IMAGENET100 ? " (ImageNet-100 subset)" : "");
    for (int s = 0; s < 2; s++) report(ds[s], names[s]);
    int rc = preview_path ? preview(ds[0], preview_path) : 0;
    dataset_free(ds[0]);
    dataset_free(ds[1]);
    return rc;
}

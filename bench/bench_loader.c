/* bench_loader.c — loader throughput per core (1 worker thread) for the MoCo v2 two-view pipeline:
 * (a) Fashion-MNIST 28x28x1, (b) 224-px views of 500x375 JPEGs this benchmark writes into a temp
 * folder; beside torchvision + PIL doing the same work on the same images in the same run
 * (bench/bench_loader_torch.py, run with /usr/bin/python3; NA when torch is missing).
 * img/s counts source images, each giving two views. One line per case:
 *   loader case=NAME clft_img_s=X clft_batch_s=B torchvision_img_s=Y ratio=Z */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jpeglib.h> /* after stdio.h: it uses FILE and size_t */

#include "baselines/baseline.h"
#include "core/common.h"
#include "core/data/augment.h"
#include "core/data/dataset.h"
#include "core/data/loader.h"
#include "core/rng.h"

#define FMNIST_DIR "/usr/share/datasets/fashion-mnist"

/* Images per second of the clft loader over `batches` batches of N (after one warm-up batch). */
static double clft_img_s(const char *spec, int size, int C, int N, int batches, double *batch_s)
{
    Dataset *ds;
    if (dataset_open(&ds, spec, SPLIT_TRAIN, NULL) != CLFT_OK) clft_die("%s", clft_last_error());
    AugConfig a = aug_moco_v2(size, C);
    LoaderOptions o = {.batch = N, .threads = 1, .seed = 1, .views = 2, .aug1 = &a, .aug2 = &a,
                       .order = LOADER_SHUFFLE, .tail = LOADER_DROP_LAST, .ring = 1};
    Loader *l;
    if (loader_init(&l, ds, &o) != CLFT_OK) clft_die("%s", clft_last_error());
    LoaderBatch b;
    if (loader_next(l, &b) != CLFT_OK) clft_die("%s", clft_last_error());
    double t0 = clft_now();
    for (int k = 0; k < batches; k++)
        if (loader_next(l, &b) != CLFT_OK) clft_die("%s", clft_last_error());
    double dt = clft_now() - t0;
    loader_free(l);
    dataset_free(ds);
    *batch_s = batches / dt;
    return (double)batches * N / dt;
}

/* Runs the torchvision script; returns its img/s or -1. */
static double torch_img_s(const char *kind, const char *dir, int n)
{
    char cmd[2048], line[256];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/bench/bench_loader_torch.py %s %s %d 2>/dev/null",
             CLFT_SOURCE_DIR, kind, dir, n);
    FILE *p = popen(cmd, "r");
    double v = -1.0;
    while (p && fgets(line, sizeof line, p))
        if (sscanf(line, "img_s=%lf", &v) == 1) break;
    if (p) pclose(p);
    return v;
}

static void report(const char *name, double c, double bs, double t)
{
    if (t > 0)
        printf("loader case=%s clft_img_s=%.1f clft_batch_s=%.2f torchvision_img_s=%.1f ratio=%.2f\n",
               name, c, bs, t, c / t);
    else
        printf("loader case=%s clft_img_s=%.1f clft_batch_s=%.2f torchvision_img_s=NA ratio=NA\n",
               name, c, bs);
    fflush(stdout);
}

/* A 500x375 photo-like JPEG: smooth colour fields plus noise (quality 90). */
static void write_photo(const char *path, int idx)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    FILE *f = xfopen(path, "wb");
    jpeg_stdio_dest(&c, f);
    c.image_width = 500, c.image_height = 375, c.input_components = 3, c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 90, TRUE);
    jpeg_start_compress(&c, TRUE);
    uint8_t row[500 * 3];
    Rng r;
    rng_init(&r, 77, RNG_STREAM_DATA, 9, (uint64_t)idx);
    while (c.next_scanline < 375) {
        int y = (int)c.next_scanline;
        for (int x = 0; x < 500; x++)
            for (int k = 0; k < 3; k++) {
                int v = (x * (k + 1) + y * (3 - k) + idx * 37) % 256 + (int)rng_below(&r, 40) - 20;
                row[3 * x + k] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        JSAMPROW rp = row;
        jpeg_write_scanlines(&c, &rp, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
}

int main(int argc, char **argv)
{
    int n_jpeg = argc > 1 ? atoi(argv[1]) : 256;
    double bs, c, t;
    struct stat sb;
    if (stat(FMNIST_DIR "/train-images-idx3-ubyte.gz", &sb) == 0) {
        c = clft_img_s("fashion-mnist", 28, 1, 256, 40, &bs);
        t = torch_img_s("fmnist", FMNIST_DIR, 3000);
        report("fmnist_v2_28px", c, bs, t);
    } else {
        printf("loader case=fmnist_v2_28px skipped (dataset-fashion-mnist not installed)\n");
    }
    char dir[] = "/tmp/clft-bench-XXXXXX", p[512];
    if (!mkdtemp(dir)) clft_die("mkdtemp failed");
    snprintf(p, sizeof p, "%s/train", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/train/n00000000", dir);
    mkdir(p, 0755);
    for (int i = 0; i < n_jpeg; i++) {
        snprintf(p, sizeof p, "%s/train/n00000000/img_%04d.JPEG", dir, i);
        write_photo(p, i);
    }
    snprintf(p, sizeof p, "imagefolder:%s", dir);
    c = clft_img_s(p, 224, 3, 32, n_jpeg / 32 - 1, &bs);
    t = torch_img_s("jpeg", dir, n_jpeg);
    report("jpeg500x375_v2_224px", c, bs, t);
    snprintf(p, sizeof p, "rm -rf %s", dir);
    if (system(p) != 0) fprintf(stderr, "bench_loader: could not remove %s\n", dir);
    return 0;
}

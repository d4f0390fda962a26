/* mk_jpegs.c — writes a small ImageNet-layout JPEG tree for tests: DIR/train/cK/img_J.JPEG for K <
 * CLASSES and J < PER_CLASS, SIZE x SIZE RGB noise of a per-class tint (libjpeg, quality 90,
 * seeded: the same tree every time). Used by tests/test_dist.sh, which then corrupts one file to
 * make a bad input that exactly one rank reads.
 *
 *   mk_jpegs DIR CLASSES PER_CLASS SIZE */
#include <stdio.h> /* before jpeglib.h, which uses FILE and size_t */
#include <stdlib.h>
#include <sys/stat.h>

#include <jpeglib.h>

#include "core/common.h"
#include "core/rng.h"

static void write_jpeg(const char *path, int S, int cls, Rng *rng)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    FILE *f = xfopen(path, "wb");
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)S, c.image_height = (JDIMENSION)S;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 90, TRUE);
    jpeg_start_compress(&c, TRUE);
    unsigned char *row = xmalloc((size_t)3 * S);
    while (c.next_scanline < c.image_height) {
        for (int x = 0; x < 3 * S; x++)
            row[x] = (unsigned char)((x % 3 == cls % 3 ? 128 : 0) + rng_below(rng, 128));
        JSAMPROW rp = row;
        jpeg_write_scanlines(&c, &rp, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    free(row);
    if (fclose(f) != 0) clft_die("%s: write failed", path);
}

int main(int argc, char **argv)
{
    long classes, per, size;
    if (argc != 5 || parse_int(argv[2], 1, 1000, &classes) != CLFT_OK ||
        parse_int(argv[3], 1, 100000, &per) != CLFT_OK ||
        parse_int(argv[4], 8, 512, &size) != CLFT_OK)
        clft_die("usage: mk_jpegs DIR CLASSES PER_CLASS SIZE");
    char path[4096];
    Rng rng;
    rng_init(&rng, 17, RNG_STREAM_DATA, 0, 0);
    snprintf(path, sizeof path, "%s/train", argv[1]);
    mkdir(argv[1], 0755);
    mkdir(path, 0755);
    for (int k = 0; k < classes; k++) {
        snprintf(path, sizeof path, "%s/train/c%d", argv[1], k);
        if (mkdir(path, 0755) != 0) clft_die("%s: cannot create", path);
        for (int j = 0; j < per; j++) {
            snprintf(path, sizeof path, "%s/train/c%d/img_%d.JPEG", argv[1], k, j);
            write_jpeg(path, (int)size, k, &rng);
        }
    }
    return 0;
}

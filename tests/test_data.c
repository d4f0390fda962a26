/* test_data.c — the datasets (core/data/dataset.c, idx.c, cifar.c, imagefolder.c, jpeg.c): IDX
 * parsing incl. truncated / wrong-magic / wrong-count files (library status and the `clft data`
 * exit status + one-line message), CIFAR batches, JPEG decoding of files written here with libjpeg
 * (RGB, grey, CMYK, progressive, corrupt, truncated, DCT scaling), the ImageNet-100 filter on a fake
 * tree, the class filter and the class-balanced limit, and the real Fashion-MNIST when installed. */
#include "tests/test_util.h"

#include <jpeglib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/data/dataset.h"
#include "core/data/jpeg.h"

/* ---- file writers ---- */

static void put_be16(uint8_t *p, unsigned v) { p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v; }

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* An IDX .gz file: magic, dims, then `len` data bytes (pixel value (i * 3) % 256 or label i % 10). */
static void write_idx(const char *path, uint32_t magic, int ndim, const uint32_t *dims, size_t len)
{
    gzFile g = gzopen(path, "wb");
    assert_non_null(g);
    uint8_t hdr[16];
    put_be32(hdr, magic);
    for (int d = 0; d < ndim; d++) put_be32(hdr + 4 + 4 * d, dims[d]);
    gzwrite(g, hdr, 4 + 4 * (unsigned)ndim);
    for (size_t i = 0; i < len; i++) {
        uint8_t v = magic == 0x803 ? (uint8_t)(i * 3) : (uint8_t)(i % 10);
        gzwrite(g, &v, 1);
    }
    gzclose(g);
}

static uint8_t *slurp_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*size + 1);
    assert_int_equal(fread(b, 1, *size, f), *size);
    fclose(f);
    return b;
}

/* A Fashion-MNIST-like folder with n train images and n / 2 test images. */
static void write_fmnist(const char *dir, int n)
{
    char p[1024];
    const char *pre[2] = {"train", "t10k"};
    for (int s = 0; s < 2; s++) {
        uint32_t m = (uint32_t)(s ? n / 2 : n), d3[3] = {m, 28, 28}, d1[1] = {m};
        snprintf(p, sizeof p, "%s/%s-images-idx3-ubyte.gz", dir, pre[s]);
        write_idx(p, 0x803, 3, d3, (size_t)m * 784);
        snprintf(p, sizeof p, "%s/%s-labels-idx1-ubyte.gz", dir, pre[s]);
        write_idx(p, 0x801, 1, d1, m);
    }
}

/* Runs `clft data --data SPEC`; returns the exit status and the first line of stderr. */
static int run_clft_data(const char *spec, char *err, size_t cap)
{
    const char *bdir = getenv("CLFT_BUILD_DIR");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s/clft data --data '%s' 2>&1 >/dev/null", bdir ? bdir : "build", spec);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    err[0] = 0;
    if (!fgets(err, (int)cap, f)) err[0] = 0;
    char rest[256];
    int extra = 0;
    while (fgets(rest, sizeof rest, f)) extra++;
    int st = pclose(f);
    assert_int_equal(extra, 0); /* one line */
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Both the library and the CLI reject the folder with a message naming `file` and `why`. */
static void expect_bad_fmnist(const char *dir, const char *file, const char *why)
{
    char spec[1024], err[1024];
    snprintf(spec, sizeof spec, "fashion-mnist:%s", dir);
    Dataset *ds = NULL;
    assert_int_not_equal(dataset_open(&ds, spec, SPLIT_TRAIN, NULL), CLFT_OK);
    assert_null(ds);
    if (!strstr(clft_last_error(), file) || !strstr(clft_last_error(), why))
        fail_msg("error '%s' does not name '%s' and '%s'", clft_last_error(), file, why);
    assert_int_equal(run_clft_data(spec, err, sizeof err), 1);
    if (!strstr(err, file) || !strstr(err, why) || strncmp(err, "clft: ", 6) != 0)
        fail_msg("clft data said '%s', expected '%s' and '%s'", err, file, why);
}

static void test_idx_valid_and_bad(void **state)
{
    (void)state;
    char dir[256], p[1024];
    make_temp_dir(dir, sizeof dir);
    write_fmnist(dir, 20);
    Dataset *ds;
    char spec[512];
    snprintf(spec, sizeof spec, "fashion-mnist:%s", dir);
    assert_int_equal(dataset_open(&ds, spec, SPLIT_TRAIN, NULL), CLFT_OK);
    assert_int_equal(ds->n, 20);
    assert_int_equal(ds->H * ds->W * ds->C, 784);
    DataImage img = {0};
    assert_int_equal(dataset_get(ds, 3, 0, &img), CLFT_OK);
    assert_int_equal(img.label, 3);
    assert_int_equal(img.pixels[5], (uint8_t)((3 * 784 + 5) * 3));
    data_image_free(&img);
    dataset_free(ds);
    /* truncated pixel data */
    uint32_t d3[3] = {20, 28, 28}, d1[1] = {20}, d1w[1] = {19};
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte.gz", dir);
    write_idx(p, 0x803, 3, d3, 20 * 784 - 100);
    expect_bad_fmnist(dir, "train-images-idx3-ubyte.gz", "truncated");
    /* wrong magic */
    write_idx(p, 0x802, 3, d3, 20 * 784);
    expect_bad_fmnist(dir, "train-images-idx3-ubyte.gz", "wrong IDX magic");
    /* wrong dimensions */
    uint32_t d3b[3] = {20, 27, 28};
    write_idx(p, 0x803, 3, d3b, 20 * 27 * 28);
    expect_bad_fmnist(dir, "train-images-idx3-ubyte.gz", "expected Nx28x28");
    /* more data than the header says */
    write_idx(p, 0x803, 3, d3, 21 * 784);
    expect_bad_fmnist(dir, "train-images-idx3-ubyte.gz", "more data than the header");
    /* label count differs from the image count */
    write_idx(p, 0x803, 3, d3, 20 * 784);
    snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte.gz", dir);
    write_idx(p, 0x801, 1, d1w, 19);
    expect_bad_fmnist(dir, "train-labels-idx1-ubyte.gz", "19 labels for 20 images");
    write_idx(p, 0x801, 1, d1, 20);
    /* a missing file */
    snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte.gz", dir);
    remove(p);
    expect_bad_fmnist(dir, "train-labels-idx1-ubyte.gz", "cannot open");
    write_idx(p, 0x801, 1, d1, 20);
    /* a directory in place of the file */
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte.gz", dir);
    remove(p);
    mkdir(p, 0755);
    expect_bad_fmnist(dir, "train-images-idx3-ubyte.gz", "not a regular file (a directory)");
    rmdir(p);
    write_idx(p, 0x803, 3, d3, 20 * 784);
}

static void append_bytes(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "ab");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
}

/* gzip framing: trailing garbage, a plain (uncompressed) file, a corrupt CRC are errors; a second
 * gzip member (what `cat a.gz b.gz` makes) is read on. */
static void test_idx_gzip_framing(void **state)
{
    (void)state;
    char dir[256], p[1024], spec[512];
    make_temp_dir(dir, sizeof dir);
    write_fmnist(dir, 20);
    snprintf(spec, sizeof spec, "fashion-mnist:%s", dir);
    snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte.gz", dir);
    append_bytes(p, "garbage!", 8);
    expect_bad_fmnist(dir, "train-labels-idx1-ubyte.gz", "8 bytes of trailing garbage after the gzip data");
    uint32_t d1[1] = {20}, d3[3] = {20, 28, 28};
    write_idx(p, 0x801, 1, d1, 20);
    /* the labels split over two gzip members */
    size_t n;
    gzFile g = gzopen(p, "wb");
    uint8_t hdr[8];
    put_be32(hdr, 0x801), put_be32(hdr + 4, 20);
    gzwrite(g, hdr, 8);
    for (int i = 0; i < 10; i++) gzputc(g, i % 10);
    gzclose(g);
    g = gzopen(p, "ab");
    for (int i = 10; i < 20; i++) gzputc(g, i % 10);
    gzclose(g);
    Dataset *ds;
    if (dataset_open(&ds, spec, SPLIT_TRAIN, NULL) != CLFT_OK) fail_msg("%s", clft_last_error());
    assert_int_equal(ds->labels[13], 3);
    dataset_free(ds);
    /* an uncompressed file */
    FILE *f = fopen(p, "wb");
    fwrite(hdr, 1, 8, f);
    for (int i = 0; i < 20; i++) fputc(i % 10, f);
    fclose(f);
    expect_bad_fmnist(dir, "train-labels-idx1-ubyte.gz", "not gzip data");
    /* a flipped bit in the CRC-32 of the gzip trailer */
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte.gz", dir);
    write_idx(p, 0x803, 3, d3, 20 * 784);
    uint8_t *b = slurp_file(p, &n);
    b[n - 8] ^= 1;
    f = fopen(p, "wb");
    fwrite(b, 1, n, f);
    fclose(f);
    free(b);
    expect_bad_fmnist(dir, "train-images-idx3-ubyte.gz", "corrupt gzip data (incorrect data check)");
    /* gzip cut short */
    write_idx(p, 0x803, 3, d3, 20 * 784);
    assert_int_equal(truncate(p, 100), 0);
    expect_bad_fmnist(dir, "train-images-idx3-ubyte.gz", "truncated gzip data");
}

/* ---- CIFAR ---- */

static void write_cifar(const char *path, int records, int label_bytes, int first)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (int r = 0; r < records; r++) {
        uint8_t rec[2 + 3072];
        rec[0] = (uint8_t)((first + r) % 10), rec[label_bytes - 1] = (uint8_t)((first + r) % 10 + (label_bytes == 2) * 50);
        for (int i = 0; i < 3072; i++) rec[label_bytes + i] = (uint8_t)(i / 1024 * 100 + first + r);
        fwrite(rec, 1, (size_t)(label_bytes + 3072), f);
    }
    fclose(f);
}

static void test_cifar(void **state)
{
    (void)state;
    char dir[256], sub[512], p[1024], spec[600];
    make_temp_dir(dir, sizeof dir);
    snprintf(sub, sizeof sub, "%s/cifar-10-batches-bin", dir);
    mkdir(sub, 0755);
    for (int b = 1; b <= 5; b++) {
        snprintf(p, sizeof p, "%s/data_batch_%d.bin", sub, b);
        write_cifar(p, 3, 1, (b - 1) * 3);
    }
    snprintf(p, sizeof p, "%s/test_batch.bin", sub);
    write_cifar(p, 4, 1, 0);
    snprintf(spec, sizeof spec, "cifar10:%s", dir);
    Dataset *ds;
    assert_int_equal(dataset_open(&ds, spec, SPLIT_TRAIN, NULL), CLFT_OK);
    assert_int_equal(ds->n, 15);
    assert_int_equal(ds->C * ds->H * ds->W, 3072);
    DataImage img = {0};
    assert_int_equal(dataset_get(ds, 7, 0, &img), CLFT_OK);
    assert_int_equal(img.label, 7);
    /* HWC: pixel 0 is (R, G, B) = planes 0, 1, 2 */
    assert_int_equal(img.pixels[0], 7);
    assert_int_equal(img.pixels[1], 107);
    assert_int_equal(img.pixels[2], 207);
    dataset_free(ds);
    assert_int_equal(dataset_open(&ds, spec, SPLIT_TEST, NULL), CLFT_OK);
    assert_int_equal(ds->n, 4);
    dataset_free(ds);
    /* a batch of a wrong size */
    snprintf(p, sizeof p, "%s/data_batch_3.bin", sub);
    FILE *f = fopen(p, "ab");
    fputc(1, f);
    fclose(f);
    assert_int_equal(dataset_open(&ds, spec, SPLIT_TRAIN, NULL), CLFT_ERR_FORMAT);
    assert_non_null(strstr(clft_last_error(), "data_batch_3.bin"));
    /* more records than any CIFAR batch, and a size of 2^31 + 3 records whose count would wrap
     * to 3 in an int: both refused by size before a byte is read (sparse files) */
    const long long sizes[2] = {60001LL * 3073, (2147483648LL + 3) * 3073};
    for (int k = 0; k < 2; k++) {
        write_cifar(p, 3, 1, 6);
        if (truncate(p, (off_t)sizes[k]) != 0) {
            if (k == 0) fail_msg("truncate: cannot make a sparse file");
            break; /* a file system without huge sparse files: the first size covers it */
        }
        assert_int_equal(dataset_open(&ds, spec, SPLIT_TRAIN, NULL), CLFT_ERR_FORMAT);
        if (!strstr(clft_last_error(),
                    "data_batch_3.bin: larger than a CIFAR batch (at most 60000 records of 3073 bytes)"))
            fail_msg("got '%s'", clft_last_error());
    }
    /* a directory where a batch should be */
    remove(p);
    mkdir(p, 0755);
    assert_int_equal(dataset_open(&ds, spec, SPLIT_TRAIN, NULL), CLFT_ERR_IO);
    if (!strstr(clft_last_error(), "data_batch_3.bin: not a regular file (a directory)"))
        fail_msg("got '%s'", clft_last_error());
    rmdir(p);
    /* CIFAR-100: fine label is the second byte */
    snprintf(p, sizeof p, "%s/train.bin", dir);
    write_cifar(p, 5, 2, 0);
    snprintf(spec, sizeof spec, "cifar100:%s", dir);
    assert_int_equal(dataset_open(&ds, spec, SPLIT_TRAIN, NULL), CLFT_OK);
    assert_int_equal(ds->n, 5);
    assert_int_equal(ds->n_classes, 100);
    assert_int_equal(dataset_get(ds, 2, 0, &img), CLFT_OK);
    assert_int_equal(img.label, 52);
    dataset_free(ds);
    data_image_free(&img);
}

/* ---- JPEG ---- */

typedef enum { JPG_RGB, JPG_GREY, JPG_CMYK, JPG_PROGRESSIVE } JpgKind;

/* A smooth W x H test image: R = 4x, G = 4y, B = 128 (CMYK: Adobe-inverted C, M, Y, K = 0). */
static void write_jpeg(const char *path, int W, int H, JpgKind kind)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)W, c.image_height = (JDIMENSION)H;
    c.input_components = kind == JPG_GREY ? 1 : kind == JPG_CMYK ? 4 : 3;
    c.in_color_space = kind == JPG_GREY ? JCS_GRAYSCALE : kind == JPG_CMYK ? JCS_CMYK : JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 95, TRUE);
    if (kind == JPG_PROGRESSIVE) jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    uint8_t row[4 * 512];
    while (c.next_scanline < c.image_height) {
        int y = (int)c.next_scanline;
        for (int x = 0; x < W; x++) {
            uint8_t rgb[3] = {(uint8_t)(4 * x), (uint8_t)(4 * y), 128};
            if (kind == JPG_GREY) row[x] = rgb[1];
            else if (kind == JPG_CMYK)
                for (int k = 0; k < 4; k++) row[4 * x + k] = k < 3 ? rgb[k] : 255; /* inverted */
            else memcpy(row + 3 * x, rgb, 3);
        }
        JSAMPROW rp = row;
        jpeg_write_scanlines(&c, &rp, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
}

static uint8_t *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*size);
    assert_int_equal(fread(b, 1, *size, f), *size);
    fclose(f);
    return b;
}

/* Decodes and checks pixel (x, y) is near the source colour (JPEG quality 95 on a smooth image). */
static void expect_decoded(const char *path, int grey, int W, int H)
{
    size_t size;
    uint8_t *b = slurp(path, &size);
    DataImage img = {0};
    if (jpeg_decode(b, size, path, &(JpegOptions){.channels = 3}, &img) != CLFT_OK) fail_msg("%s", clft_last_error());
    assert_int_equal(img.W, W);
    assert_int_equal(img.H, H);
    assert_int_equal(img.C, 3);
    int pts[3][2] = {{5, 7}, {30, 20}, {50, 10}};
    for (int k = 0; k < 3; k++) {
        int x = pts[k][0], y = pts[k][1];
        const uint8_t *p = img.pixels + ((size_t)y * W + x) * 3;
        int want[3] = {grey ? 4 * y : 4 * x, 4 * y, grey ? 4 * y : 128};
        for (int c = 0; c < 3; c++)
            if (abs(p[c] - want[c]) > 6) fail_msg("%s (%d,%d)[%d] = %d, want ~%d", path, x, y, c, p[c], want[c]);
    }
    /* DCT scaling: min side 16 of a 40-high image gives 4/8 scale, 32x20 */
    assert_int_equal(jpeg_decode(b, size, path, &(JpegOptions){.channels = 3, .min_side = 16}, &img),
                     CLFT_OK);
    assert_int_equal(img.W, (W * 4 + 7) / 8);
    assert_int_equal(img.H, (H * 4 + 7) / 8);
    data_image_free(&img);
    free(b);
}

static const JpegOptions RGB = {.channels = 3};

static void test_jpeg_decode(void **state)
{
    (void)state;
    char dir[256], p[512];
    make_temp_dir(dir, sizeof dir);
    const char *names[4] = {"rgb.jpg", "grey.jpg", "cmyk.jpg", "prog.jpg"};
    for (int k = 0; k < 4; k++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[k]);
        write_jpeg(p, 64, 40, (JpgKind)k);
        expect_decoded(p, k == JPG_GREY, 64, 40);
    }
    /* truncated: the last half of the scan data of a larger file */
    size_t size;
    snprintf(p, sizeof p, "%s/big.jpg", dir);
    write_jpeg(p, 256, 160, JPG_RGB);
    uint8_t *b = slurp(p, &size);
    DataImage img = {0};
    assert_int_equal(jpeg_decode(b, size / 2, "half.jpg", &RGB, &img), CLFT_ERR_FORMAT);
    if (!strstr(clft_last_error(), "half.jpg: truncated")) fail_msg("got '%s'", clft_last_error());
    /* corrupt: garbage instead of the header */
    memset(b, 0x5a, 64);
    assert_int_equal(jpeg_decode(b, size, "bad.jpg", &RGB, &img), CLFT_ERR_FORMAT);
    assert_non_null(strstr(clft_last_error(), "bad.jpg: corrupt JPEG"));
    free(b);
    data_image_free(&img);
}

/* The offset of the SOF marker's height field (FFC0..FFC2: baseline, extended, progressive). */
static size_t sof_dims_at(const uint8_t *b, size_t n)
{
    for (size_t i = 2; i + 9 < n; i++)
        if (b[i] == 0xff && b[i + 1] >= 0xc0 && b[i + 1] <= 0xc2) return i + 5;
    fail_msg("no SOF marker");
    return 0;
}

/* Untrusted files: a header claiming 60000 x 60000 is refused before anything of that size is
 * allocated; a progressive file with more scans than the cap is stopped. */
static void test_jpeg_limits(void **state)
{
    (void)state;
    char dir[256], p[512];
    make_temp_dir(dir, sizeof dir);
    snprintf(p, sizeof p, "%s/prog.jpg", dir);
    write_jpeg(p, 64, 40, JPG_PROGRESSIVE);
    size_t size;
    uint8_t *b = slurp(p, &size);
    DataImage img = {0};
    JpegOptions few = {.channels = 3, .max_scans = 5}; /* libjpeg's progression has 10 scans */
    assert_int_equal(jpeg_decode(b, size, "prog.jpg", &few, &img), CLFT_ERR_FORMAT);
    if (strcmp(clft_last_error(), "prog.jpg: rejected JPEG (more than 5 progressive scans)"))
        fail_msg("got '%s'", clft_last_error());
    assert_int_equal(jpeg_decode(b, size, "prog.jpg", &RGB, &img), CLFT_OK); /* default cap: 500 */
    JpegOptions small = {.channels = 3, .max_pixels = 64 * 40 - 1};
    assert_int_equal(jpeg_decode(b, size, "prog.jpg", &small, &img), CLFT_ERR_FORMAT);
    if (strcmp(clft_last_error(), "prog.jpg: JPEG of 64x40 pixels, more than the cap of 2559 pixels"))
        fail_msg("got '%s'", clft_last_error());
    size_t at = sof_dims_at(b, size);
    put_be16(b + at, 60000), put_be16(b + at + 2, 60000);
    data_image_free(&img);
    assert_int_equal(jpeg_decode(b, size, "huge.jpg", &RGB, &img), CLFT_ERR_FORMAT);
    if (strcmp(clft_last_error(),
               "huge.jpg: JPEG of 60000x60000 pixels, more than the cap of 67108864 pixels"))
        fail_msg("got '%s'", clft_last_error());
    assert_null(img.pixels); /* nothing allocated */
    free(b);
}

/* ---- imagefolder + ImageNet-100 ---- */

static void test_imagefolder_imagenet100(void **state)
{
    (void)state;
    char dir[256], p[1024], spec[1100];
    make_temp_dir(dir, sizeof dir);
    FILE *list = fopen("data/imagenet100.class", "r");
    assert_non_null(list);
    char wnid[64], keep[3][64];
    int n_list = 0;
    const char *splits[2] = {"train", "val"};
    for (int s = 0; s < 2; s++) {
        snprintf(p, sizeof p, "%s/%s", dir, splits[s]);
        mkdir(p, 0755);
    }
    while (fscanf(list, "%63s", wnid) == 1) {
        for (int s = 0; s < 2; s++) {
            snprintf(p, sizeof p, "%s/%s/%s", dir, splits[s], wnid);
            mkdir(p, 0755);
        }
        if (n_list < 3) snprintf(keep[n_list], sizeof keep[0], "%s", wnid);
        n_list++;
    }
    fclose(list);
    assert_int_equal(n_list, 100);
    /* one image in each of 3 listed classes and in 2 classes outside the list */
    const char *extra[2] = {"n00000001", "n99999999"};
    for (int k = 0; k < 5; k++) {
        const char *cls = k < 3 ? keep[k] : extra[k - 3];
        snprintf(p, sizeof p, "%s/train/%s", dir, cls);
        mkdir(p, 0755);
        snprintf(p, sizeof p, "%s/train/%s/img_%d.JPEG", dir, cls, k);
        write_jpeg(p, 48, 40, JPG_RGB);
    }
    snprintf(p, sizeof p, "%s/train/%s/notes.txt", dir, keep[0]); /* not a JPEG: ignored */
    fclose(fopen(p, "w"));
    snprintf(spec, sizeof spec, "imagefolder:%s", dir);
    Dataset *ds;
    assert_int_equal(dataset_open(&ds, spec, SPLIT_TRAIN, NULL), CLFT_OK);
    assert_int_equal(ds->n, 5);
    assert_int_equal(ds->n_classes, 102);
    dataset_free(ds);
    DatasetOptions opt = {.subset = DATA_SUBSET_IMAGENET100};
    assert_int_equal(dataset_open(&ds, spec, SPLIT_TRAIN, &opt), CLFT_OK);
    assert_int_equal(ds->n, 3);
    assert_int_equal(ds->n_classes, 100);
    DataImage img = {0};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(dataset_get(ds, i, 0, &img), CLFT_OK);
        assert_true(img.H == 40 && img.W == 48 && img.C == 3);
        assert_true(img.label >= 0 && img.label < 100 && (i == 0 || img.label > ds->labels[i - 1]));
    }
    data_image_free(&img);
    dataset_free(ds);
    /* a listed class missing from the tree is an error naming it */
    snprintf(p, sizeof p, "%s/train/%s", dir, keep[2]);
    snprintf(spec, sizeof spec, "rm -rf %s", p);
    assert_int_equal(system(spec), 0);
    snprintf(spec, sizeof spec, "imagefolder:%s", dir);
    assert_int_equal(dataset_open(&ds, spec, SPLIT_TRAIN, &opt), CLFT_ERR_FORMAT);
    assert_non_null(strstr(clft_last_error(), keep[2]));
}

/* ---- class filter and limit ---- */

static void test_class_filter_and_limit(void **state)
{
    (void)state;
    Dataset *ds;
    DatasetOptions opt = {.classes = (const int[]){7, 2, 4}, .n_keep = 3};
    assert_int_equal(dataset_open(&ds, "synthetic:8x8x1:200:10", SPLIT_TRAIN, &opt), CLFT_OK);
    assert_int_equal(ds->n, 60);
    assert_int_equal(ds->n_classes, 3);
    for (int i = 0; i < ds->n; i++) {
        int orig = ds->base[i] % 10; /* synthetic label = index % classes */
        assert_int_equal(ds->labels[i], orig == 7 ? 0 : orig == 2 ? 1 : 2);
    }
    dataset_free(ds);
    opt = (DatasetOptions){.limit = 25, .seed = 5};
    assert_int_equal(dataset_open(&ds, "synthetic:8x8x1:200:10", SPLIT_TRAIN, &opt), CLFT_OK);
    assert_int_equal(ds->n, 25);
    int count[10] = {0};
    for (int i = 0; i < ds->n; i++) {
        count[ds->labels[i]]++;
        if (i) assert_true(ds->base[i] > ds->base[i - 1]);
    }
    for (int c = 0; c < 10; c++) assert_true(count[c] == 2 || count[c] == 3); /* balanced */
    dataset_free(ds);
    assert_int_equal(dataset_open(&ds, "nonsense:x", SPLIT_TRAIN, NULL), CLFT_ERR_VALUE);
    assert_int_equal(dataset_open(&ds, "synthetic:8x8x2", SPLIT_TRAIN, NULL), CLFT_ERR_VALUE);
    const char *bad[] = {"synthetic:8x8x1junk", "synthetic:8x8x1:99999999999", "synthetic:8x8x1:10:0",
                         "synthetic:8x8x1:10:5:7", "synthetic:8xx8x1", "synthetic:9999999999x8x1"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        assert_int_equal(dataset_open(&ds, bad[k], SPLIT_TRAIN, NULL), CLFT_ERR_VALUE);
        assert_non_null(strstr(clft_last_error(), "expected WxHxC[:N[:CLASSES]]"));
    }
}

/* The Debian package's files: 60000 / 10000, 10 classes, 28x28x1, 6000 / 1000 per class. */
static void test_fashion_mnist_installed(void **state)
{
    (void)state;
    struct stat sb;
    if (stat("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz", &sb) != 0) skip();
    Dataset *ds;
    assert_int_equal(dataset_open(&ds, "fashion-mnist", SPLIT_TEST, NULL), CLFT_OK);
    assert_int_equal(ds->n, 10000);
    assert_int_equal(ds->n_classes, 10);
    assert_true(ds->H == 28 && ds->W == 28 && ds->C == 1);
    int count[10] = {0};
    for (int i = 0; i < ds->n; i++) count[ds->labels[i]]++;
    for (int c = 0; c < 10; c++) assert_int_equal(count[c], 1000);
    dataset_free(ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idx_valid_and_bad),
        cmocka_unit_test(test_cifar),
        cmocka_unit_test(test_idx_gzip_framing),
        cmocka_unit_test(test_jpeg_decode),
        cmocka_unit_test(test_jpeg_limits),
        cmocka_unit_test(test_imagefolder_imagenet100),
        cmocka_unit_test(test_class_filter_and_limit),
        cmocka_unit_test(test_fashion_mnist_installed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

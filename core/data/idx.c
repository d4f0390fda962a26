/* idx.c — Fashion-MNIST from the IDX files of Debian's dataset-fashion-mnist (gzip-compressed, read
 * with zlib). Reference: the IDX format of LeCun's MNIST page — a big-endian magic 0x00000803
 * (uint8, 3 dims) or 0x00000801 (uint8, 1 dim), the dimensions as big-endian int32, then the data.
 * Validated: magic, image dimensions, the data length against the header count, equal image and
 * label counts, labels < 10. Every error names the file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "core/data/data_internal.h"

#define IDX_MAGIC_U8_1D 0x00000801u
#define IDX_MAGIC_U8_3D 0x00000803u

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reads exactly len bytes; a short read is a truncated file. */
static ClftStatus gz_read_exact(gzFile g, const char *path, void *buf, size_t len, const char *what)
{
    size_t got = 0;
    while (got < len) {
        unsigned chunk = len - got > (1u << 30) ? (1u << 30) : (unsigned)(len - got);
        int r = gzread(g, (uint8_t *)buf + got, chunk);
        if (r < 0) {
            int zerr;
            const char *msg = gzerror(g, &zerr);
            clft_set_error("%s: corrupt gzip data (%s)", path, msg);
            return CLFT_ERR_FORMAT;
        }
        if (r == 0) {
            clft_set_error("%s: truncated: %s has %zu of %zu bytes", path, what, got, len);
            return CLFT_ERR_FORMAT;
        }
        got += (size_t)r;
    }
    return CLFT_OK;
}

/* Opens one IDX file, checks the magic and reads the dims; returns the open gzFile. */
static ClftStatus idx_header(const char *path, uint32_t magic, int ndim, uint32_t *dims, gzFile *out)
{
    gzFile g = gzopen(path, "rb");
    if (!g) {
        clft_set_error("%s: cannot open (missing file or directory)", path);
        return CLFT_ERR_IO;
    }
    uint8_t hdr[16];
    ClftStatus st = gz_read_exact(g, path, hdr, 4 + 4 * (size_t)ndim, "the header");
    if (st == CLFT_OK && be32(hdr) != magic) {
        clft_set_error("%s: wrong IDX magic 0x%08x (expected 0x%08x)", path, be32(hdr), magic);
        st = CLFT_ERR_FORMAT;
    }
    if (st != CLFT_OK) {
        gzclose(g);
        return st;
    }
    for (int d = 0; d < ndim; d++) dims[d] = be32(hdr + 4 + 4 * d);
    *out = g;
    return CLFT_OK;
}

/* After the data: anything more is a count mismatch. */
static ClftStatus idx_expect_end(gzFile g, const char *path, uint32_t count)
{
    uint8_t extra;
    if (gzread(g, &extra, 1) == 1) {
        clft_set_error("%s: more data than the header's count %u", path, count);
        return CLFT_ERR_FORMAT;
    }
    return CLFT_OK;
}

static ClftStatus idx_read_images(DatasetImpl *impl, const char *path)
{
    uint32_t dims[3];
    gzFile g;
    ClftStatus st = idx_header(path, IDX_MAGIC_U8_3D, 3, dims, &g);
    if (st != CLFT_OK) return st;
    if (dims[1] != 28 || dims[2] != 28 || dims[0] == 0 || dims[0] > 10000000u) {
        clft_set_error("%s: images are %ux%ux%u, expected Nx28x28 with 0 < N", path, dims[0],
                       dims[1], dims[2]);
        gzclose(g);
        return CLFT_ERR_FORMAT;
    }
    impl->n = (int)dims[0];
    impl->H = 28, impl->W = 28, impl->C = 1;
    impl->pixels = xmalloc((size_t)impl->n * 28 * 28); /* (n, 28, 28, 1) */
    st = gz_read_exact(g, path, impl->pixels, (size_t)impl->n * 28 * 28, "the pixel data");
    if (st == CLFT_OK) st = idx_expect_end(g, path, dims[0]);
    gzclose(g);
    return st;
}

static ClftStatus idx_read_labels(DatasetImpl *impl, const char *path)
{
    uint32_t dims[1];
    gzFile g;
    ClftStatus st = idx_header(path, IDX_MAGIC_U8_1D, 1, dims, &g);
    if (st != CLFT_OK) return st;
    if (dims[0] != (uint32_t)impl->n) {
        clft_set_error("%s: %u labels for %d images", path, dims[0], impl->n);
        gzclose(g);
        return CLFT_ERR_FORMAT;
    }
    uint8_t *raw = xmalloc((size_t)impl->n);
    st = gz_read_exact(g, path, raw, (size_t)impl->n, "the label data");
    if (st == CLFT_OK) st = idx_expect_end(g, path, dims[0]);
    gzclose(g);
    impl->labels = xmalloc((size_t)impl->n * sizeof(int));
    for (int i = 0; st == CLFT_OK && i < impl->n; i++) {
        if (raw[i] >= 10) {
            clft_set_error("%s: label %d of sample %d is not in 0..9", path, raw[i], i);
            st = CLFT_ERR_FORMAT;
        }
        impl->labels[i] = raw[i];
    }
    free(raw);
    return st;
}

ClftStatus idx_open_fashion_mnist(DatasetImpl *impl, const char *dir, DataSplit split)
{
    const char *prefix = split == SPLIT_TRAIN ? "train" : "t10k";
    char path[4096];
    impl->kind = BACKEND_MEMORY;
    impl->n_classes = 10;
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte.gz", dir, prefix);
    ClftStatus st = idx_read_images(impl, path);
    if (st != CLFT_OK) return st;
    snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte.gz", dir, prefix);
    return idx_read_labels(impl, path);
}

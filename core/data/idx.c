/* idx.c — Fashion-MNIST from the IDX files of Debian's dataset-fashion-mnist (gzip-compressed).
 * Reference: the IDX format of LeCun's MNIST page — a big-endian magic 0x00000803 (uint8, 3 dims)
 * or 0x00000801 (uint8, 1 dim), the dimensions as big-endian int32, then the data; gzip as RFC 1952
 * (one or more members, each with its CRC-32 and length checked by zlib's inflate).
 *
 * Validated: gzip framing (anything after the last member is trailing garbage, not ignored as
 * gzread would), magic, image dimensions, the data length against the header's count in 64-bit
 * arithmetic, equal image and label counts, labels < 10. The decompressed buffer grows with the
 * data actually present, never with the count a header claims. Every error names the file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "core/data/data_internal.h"

#define IDX_MAGIC_U8_1D 0x00000801u
#define IDX_MAGIC_U8_3D 0x00000803u
#define IDX_MAX_COUNT 10000000u       /* more samples than any IDX dataset clft reads */
#define IDX_MAX_GZ_BYTES (4ull << 30) /* compressed file size cap */
#define IDX_IMAGE_BYTES (28u * 28u)
_Static_assert(sizeof(size_t) >= 8, "IDX sizes (up to 7.84e9 bytes) need a 64-bit size_t");

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Grows buf so that it can hold `need` bytes (geometrically, capped at `limit`). */
static void grow(uint8_t **buf, size_t *cap, size_t need, size_t limit)
{
    if (need <= *cap) return;
    size_t c = *cap ? *cap : 65536;
    while (c < need)
        c = c > SIZE_MAX / 2 ? SIZE_MAX : 2 * c;
    if (c > limit) c = limit;
    uint8_t *p = realloc(*buf, c);
    if (!p) clft_die("out of memory allocating %zu bytes for decompressed IDX data", c);
    *buf = p, *cap = c;
}

/* Inflates every gzip member of gz[0..n) into a fresh buffer, stopping once more than `limit`
 * bytes came out (*len = limit + 1 then: the caller reports "more data"). */
static ClftStatus gz_inflate_all(const uint8_t *gz, size_t n, const char *what, size_t limit,
                                 uint8_t **out, size_t *len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (n < 2 || gz[0] != 0x1f || gz[1] != 0x8b) {
        clft_set_error("%s: not gzip data (no gzip magic 1f 8b)", what);
        return CLFT_ERR_FORMAT;
    }
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) clft_die("%s: inflateInit2 failed", what);
    uint8_t *buf = NULL;
    size_t cap = 0, have = 0;
    const size_t want = limit + 1; /* one byte past the limit tells "more" */
    ClftStatus st = CLFT_OK;
    z.next_in = (Bytef *)gz;
    for (size_t left = n; st == CLFT_OK && have < want;) {
        unsigned in_chunk = left > (1u << 30) ? (1u << 30) : (unsigned)left;
        z.next_in = (Bytef *)(gz + (n - left)), z.avail_in = in_chunk;
        grow(&buf, &cap, have + 1, want);
        size_t room = cap - have > (1u << 30) ? (1u << 30) : cap - have;
        z.next_out = buf + have, z.avail_out = (uInt)room;
        int r = inflate(&z, Z_NO_FLUSH);
        have += room - z.avail_out;
        left -= in_chunk - z.avail_in;
        if (r == Z_STREAM_END) {
            if (left == 0) break;
            if (left < 2 || gz[n - left] != 0x1f || gz[n - left + 1] != 0x8b) {
                clft_set_error("%s: %zu bytes of trailing garbage after the gzip data", what, left);
                st = CLFT_ERR_FORMAT;
            } else if (inflateReset(&z) != Z_OK) {
                clft_die("%s: inflateReset failed", what);
            }
        } else if (r == Z_BUF_ERROR && z.avail_out > 0) { /* no progress with room to write */
            clft_set_error(left ? "%s: corrupt gzip data (no progress)"
                                : "%s: truncated gzip data (the stream ends early)",
                           what);
            st = CLFT_ERR_FORMAT;
        } else if (r != Z_OK && r != Z_BUF_ERROR) {
            clft_set_error("%s: corrupt gzip data (%s)", what, z.msg ? z.msg : zError(r));
            st = CLFT_ERR_FORMAT;
        }
    }
    inflateEnd(&z);
    if (st != CLFT_OK) {
        free(buf);
        return st;
    }
    *out = buf, *len = have;
    return CLFT_OK;
}

/* Checks the header of decompressed IDX bytes; dims[0..ndim) and the data's size in *data_len. */
static ClftStatus idx_header(const uint8_t *b, size_t len, const char *what, uint32_t magic,
                             int ndim, uint32_t *dims)
{
    size_t hdr = 4 + 4 * (size_t)ndim;
    if (len < hdr) {
        clft_set_error("%s: truncated: the header has %zu of %zu bytes", what, len, hdr);
        return CLFT_ERR_FORMAT;
    }
    if (be32(b) != magic) {
        clft_set_error("%s: wrong IDX magic 0x%08x (expected 0x%08x)", what, be32(b), magic);
        return CLFT_ERR_FORMAT;
    }
    for (int d = 0; d < ndim; d++)
        dims[d] = be32(b + 4 + 4 * d);
    return CLFT_OK;
}

/* The data after the header must be exactly `expect` bytes. */
static ClftStatus idx_data_size(size_t have, size_t expect, const char *what, const char *part,
                                uint32_t count)
{
    if (have < expect) {
        clft_set_error("%s: truncated: %s has %zu of %zu bytes", what, part, have, expect);
        return CLFT_ERR_FORMAT;
    }
    if (have > expect) {
        clft_set_error("%s: more data than the header's count %u", what, count);
        return CLFT_ERR_FORMAT;
    }
    return CLFT_OK;
}

ClftStatus idx_parse_images(DatasetImpl *impl, const uint8_t *gz, size_t n, const char *what)
{
    uint8_t *b;
    size_t len;
    const size_t hdr = 16, limit = hdr + (size_t)IDX_MAX_COUNT * IDX_IMAGE_BYTES;
    ClftStatus st = gz_inflate_all(gz, n, what, limit, &b, &len);
    if (st != CLFT_OK) return st;
    uint32_t dims[3];
    st = idx_header(b, len, what, IDX_MAGIC_U8_3D, 3, dims);
    if (st == CLFT_OK &&
        (dims[1] != 28 || dims[2] != 28 || dims[0] == 0 || dims[0] > IDX_MAX_COUNT)) {
        clft_set_error("%s: images are %ux%ux%u, expected Nx28x28 with 0 < N <= %u", what, dims[0],
                       dims[1], dims[2], IDX_MAX_COUNT);
        st = CLFT_ERR_FORMAT;
    }
    if (st == CLFT_OK)
        st = idx_data_size(len - hdr, (size_t)dims[0] * IDX_IMAGE_BYTES, what, "the pixel data",
                           dims[0]);
    if (st != CLFT_OK) {
        free(b);
        return st;
    }
    memmove(b, b + hdr, len - hdr); /* the buffer becomes the (n, 28, 28, 1) pixels */
    free(impl->pixels);
    impl->pixels = b;
    impl->n = (int)dims[0];
    impl->H = 28, impl->W = 28, impl->C = 1;
    return CLFT_OK;
}

ClftStatus idx_parse_labels(DatasetImpl *impl, const uint8_t *gz, size_t n, const char *what)
{
    uint8_t *b;
    size_t len;
    const size_t hdr = 8, limit = hdr + IDX_MAX_COUNT;
    ClftStatus st = gz_inflate_all(gz, n, what, limit, &b, &len);
    if (st != CLFT_OK) return st;
    uint32_t dims[1];
    st = idx_header(b, len, what, IDX_MAGIC_U8_1D, 1, dims);
    if (st == CLFT_OK && dims[0] != (uint32_t)impl->n) {
        clft_set_error("%s: %u labels for %d images", what, dims[0], impl->n);
        st = CLFT_ERR_FORMAT;
    }
    if (st == CLFT_OK) st = idx_data_size(len - hdr, dims[0], what, "the label data", dims[0]);
    for (int i = 0; st == CLFT_OK && i < impl->n; i++)
        if (b[hdr + i] >= 10) {
            clft_set_error("%s: label %d of sample %d is not in 0..9", what, b[hdr + i], i);
            st = CLFT_ERR_FORMAT;
        }
    if (st == CLFT_OK) {
        free(impl->labels);
        impl->labels = xmalloc((size_t)impl->n * sizeof(int));
        for (int i = 0; i < impl->n; i++)
            impl->labels[i] = b[hdr + i];
    }
    free(b);
    return st;
}

/* Reads one .gz file and hands its bytes to `parse`. */
static ClftStatus idx_read(DatasetImpl *impl, const char *path,
                           ClftStatus (*parse)(DatasetImpl *, const uint8_t *, size_t,
                                               const char *))
{
    unsigned char *gz;
    size_t n;
    ClftStatus st = clft_file_read(path, IDX_MAX_GZ_BYTES, &gz, &n);
    if (st != CLFT_OK) return st;
    st = parse(impl, gz, n, path);
    free(gz);
    return st;
}

ClftStatus idx_open_fashion_mnist(DatasetImpl *impl, const char *dir, DataSplit split)
{
    const char *prefix = split == SPLIT_TRAIN ? "train" : "t10k";
    char path[4096];
    impl->kind = BACKEND_MEMORY;
    impl->n_classes = 10;
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte.gz", dir, prefix);
    ClftStatus st = idx_read(impl, path, idx_parse_images);
    if (st != CLFT_OK) return st;
    snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte.gz", dir, prefix);
    return idx_read(impl, path, idx_parse_labels);
}

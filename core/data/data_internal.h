/* data_internal.h — what the dataset backends (idx.c, cifar.c, imagefolder.c, synthetic in
 * dataset.c) share with dataset.c. Not part of the public interface. */
#ifndef CLFT_DATA_INTERNAL_H
#define CLFT_DATA_INTERNAL_H

#include "core/data/dataset.h"

typedef enum { BACKEND_MEMORY, BACKEND_IMAGEFOLDER, BACKEND_SYNTHETIC } BackendKind;

/* One backend's samples, before the class filter and the limit. */
struct DatasetImpl {
    BackendKind kind;
    int n, n_classes, C, H, W;
    int *labels;     /* (n) */
    uint8_t *pixels; /* (n, H, W, C), BACKEND_MEMORY */
    char *path_pool; /* BACKEND_IMAGEFOLDER: NUL-separated paths */
    size_t *path_off; /* (n) offsets into path_pool */
    uint64_t synth_seed; /* BACKEND_SYNTHETIC: SPLIT_TRAIN or SPLIT_TEST folded into the stream */
    int synth_split;
    int64_t max_pixels; /* BACKEND_IMAGEFOLDER: JPEG pixel cap, 0 = CLFT_JPEG_MAX_PIXELS */
};

ClftStatus idx_open_fashion_mnist(DatasetImpl *impl, const char *dir, DataSplit split);
ClftStatus cifar_open(DatasetImpl *impl, const char *dir, DataSplit split, int n_classes);

/* The parsers behind the files, on bytes in memory (`what` names the source in errors); the fuzz
 * targets in tests/fuzz/ call them directly. idx_parse_images sets n, H, W, C and pixels from the
 * gzip bytes of an images file; idx_parse_labels needs impl->n and sets labels. cifar_parse
 * appends the records of one batch (label_bytes 1: CIFAR-10, 2: CIFAR-100) to impl, whose
 * n_classes must be set; *cap is the capacity of impl's arrays, in records. */
ClftStatus idx_parse_images(DatasetImpl *impl, const uint8_t *gz, size_t n, const char *what);
ClftStatus idx_parse_labels(DatasetImpl *impl, const uint8_t *gz, size_t n, const char *what);
ClftStatus cifar_parse(DatasetImpl *impl, const uint8_t *bytes, size_t size, int label_bytes,
                       int *cap, const char *what);
ClftStatus imagefolder_open(DatasetImpl *impl, const char *dir, DataSplit split,
                            const DatasetOptions *opt);
ClftStatus imagefolder_get(const DatasetImpl *impl, int i, int min_side, DataImage *img);

#endif

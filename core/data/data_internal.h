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
};

ClftStatus idx_open_fashion_mnist(DatasetImpl *impl, const char *dir, DataSplit split);
ClftStatus cifar_open(DatasetImpl *impl, const char *dir, DataSplit split, int n_classes);
ClftStatus imagefolder_open(DatasetImpl *impl, const char *dir, DataSplit split,
                            const DatasetOptions *opt);
ClftStatus imagefolder_get(const DatasetImpl *impl, int i, int min_side, DataImage *img);

#endif

/* dataset.h — the datasets behind one read-only, thread-safe interface (DESIGN.md "Dataset").
 *
 * Specs (dataset_open):
 *   fashion-mnist[:DIR]   the four .gz IDX files of Debian's dataset-fashion-mnist (default DIR
 *                         /usr/share/datasets/fashion-mnist); magic, dimensions and counts validated.
 *   cifar10:DIR           data_batch_{1..5}.bin / test_batch.bin (DIR or DIR/cifar-10-batches-bin)
 *   cifar100:DIR          train.bin / test.bin, fine labels (DIR or DIR/cifar-100-binary)
 *   imagefolder:DIR       DIR/train/<class>/NAME.JPEG and DIR/val/<class>/NAME.JPEG (ImageNet layout;
 *                         classes sorted by name as torchvision's ImageFolder, files sorted by name).
 *                         Decoded with libjpeg-turbo to RGB; images vary in size.
 *   synthetic[:WxHxC[:N[:CLASSES]]]  seeded class-structured images generated on the fly
 *                         (default 32x32x3, N = 1000 train images, 10 classes; the test split has
 *                         max(N/5, CLASSES) images). Sample i has label i % CLASSES.
 *
 * Options apply in this order: the ImageNet-100 subset (imagefolder only), the class filter (keep the
 * listed class ids, labels remapped to 0..k-1 in the order given), then the limit (a class-balanced
 * selection of `limit` samples after a permutation seeded by opt->seed; kept in index order).
 *
 * Images come out as uint8 HWC in a DataImage whose buffers dataset_get grows on demand (realloc
 * only when a larger image than ever before arrives, so a worker's steady state does no malloc).
 * dataset_get is thread-safe: each thread passes its own DataImage.
 */
#ifndef CLFT_DATA_DATASET_H
#define CLFT_DATA_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "core/common.h"

typedef enum { SPLIT_TRAIN, SPLIT_TEST } DataSplit;

typedef enum { DATA_SUBSET_NONE, DATA_SUBSET_IMAGENET100 } DataSubset;

typedef struct {
    DataSubset subset;      /* imagefolder only */
    const char *class_list; /* ImageNet-100 list path; NULL = CLFT_SOURCE_DIR/data/imagenet100.class */
    const int *classes;     /* class filter: ids to keep (labels become their positions); NULL = all */
    int n_keep;             /* number of entries in classes */
    int limit;              /* keep at most this many samples (class-balanced); 0 = all */
    uint64_t seed;          /* seeds the limit's selection */
    int64_t max_pixels;     /* imagefolder: a JPEG whose header has more pixels (W x H) is an
                               error naming the file; 0 = CLFT_JPEG_MAX_PIXELS (core/data/jpeg.h) */
} DatasetOptions;

/* One decoded image. The buffers belong to the caller's DataImage and are grown by dataset_get. */
typedef struct {
    uint8_t *pixels; /* (H, W, C) */
    size_t cap;      /* bytes allocated in pixels */
    uint8_t *raw;    /* file bytes of the last JPEG read */
    size_t raw_cap;
    int H, W, C;
    int label;
} DataImage;

typedef struct DatasetImpl DatasetImpl;

typedef struct {
    char name[64];   /* e.g. "fashion-mnist/train" */
    int n;           /* number of samples after subset, filter and limit */
    int n_classes;
    int C;           /* channels of every image */
    int H, W;        /* fixed image size, or 0 for imagefolder (sizes vary) */
    int *labels;     /* (n) label of each sample, known without decoding */
    int *base;       /* (n) index into the backend's samples */
    int *class_map;  /* (backend classes) backend label -> label, or -1 when filtered out */
    DatasetImpl *impl;
} Dataset;

ClftStatus dataset_open(Dataset **out, const char *spec, DataSplit split, const DatasetOptions *opt);
void dataset_free(Dataset *ds);

/* Decodes sample i (0 <= i < n) into img. min_side > 0 lets a JPEG decoder use DCT scaling (1/8
 * steps) as long as the shorter side stays >= min_side; fixed-size sets ignore it. On a bad file
 * returns CLFT_ERR_FORMAT/IO with clft_last_error() naming the file. */
ClftStatus dataset_get(const Dataset *ds, int i, int min_side, DataImage *img);
void data_image_free(DataImage *img);

/* Grows img->pixels to hold (H, W, C) and sets the size fields. */
void data_image_reserve(DataImage *img, int H, int W, int C);

#endif

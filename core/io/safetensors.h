/* safetensors.h — read and write the safetensors format (8-byte little-endian header length, a
 * JSON header parsed with cJSON, then raw little-endian tensor data). Used for checkpoints, exported
 * backbones and the golden test fixtures. Reference: huggingface/safetensors format description.
 * Only F32, F64, I32 and I64 tensors are supported (all clft writes); "__metadata__" holds strings.
 */
#ifndef CLFT_SAFETENSORS_H
#define CLFT_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "core/common.h"

#define ST_MAX_DIMS 8

typedef enum { ST_F32, ST_F64, ST_I32, ST_I64 } StDtype;

typedef struct {
    char *name;
    StDtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    size_t nbytes;
    const void *data; /* points into the file's bytes */
} StTensor;

typedef struct {
    char *path;
    unsigned char *bytes; /* the whole file */
    size_t size;
    int n;
    StTensor *tensors;
    char *metadata_json; /* the "__metadata__" object as JSON text, or NULL */
} StFile;

/* Reads and validates a whole file; on failure returns CLFT_ERR_IO/FORMAT with clft_last_error()
 * naming the file and the problem. */
ClftStatus st_read(StFile *f, const char *path);
void st_close(StFile *f);
/* The tensor named `name`, or NULL. */
const StTensor *st_find(const StFile *f, const char *name);
/* A value of the "__metadata__" object, or NULL (pointer valid until st_close). */
const char *st_metadata(const StFile *f, const char *key);

/* Writer: add tensors (the data is copied only when written), then st_write() writes to a temporary
 * file in the same directory, fsyncs it and renames it over `path`. */
typedef struct {
    int n, cap;
    StTensor *tensors;
    int n_meta;
    char **meta_keys, **meta_values;
} StWriter;

void st_writer_init(StWriter *w);
void st_writer_add(StWriter *w, const char *name, StDtype dtype, int ndim, const int64_t *shape,
                   const void *data);
void st_writer_meta(StWriter *w, const char *key, const char *value);
ClftStatus st_write(const StWriter *w, const char *path);
void st_writer_free(StWriter *w);

#endif

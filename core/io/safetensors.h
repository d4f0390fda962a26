/* safetensors.h — read and write the safetensors format (8-byte little-endian header length, a
 * JSON header parsed with cJSON, then raw little-endian tensor data). Used for checkpoints,
 * exported backbones and the golden test fixtures. Reference: huggingface/safetensors format
 * description. Only F32, F64, I32 and I64 tensors are supported (all clft writes); "__metadata__"
 * holds strings.
 *
 * The reader validates the whole format before a byte of tensor data is trusted: a regular file;
 * a header of at most 100 MB that is valid UTF-8 JSON (what Python's json and the safetensors
 * crate accept), one object with unique names; each entry a supported dtype, at most 8 integer
 * dimensions whose byte count does not overflow, and two integer data_offsets inside the file
 * whose difference is that byte count; the tensors tile the data section exactly (no overlap, no
 * gap, nothing after the last); "__metadata__" is one object of strings. The writer refuses names
 * and metadata that are not valid UTF-8 (a JSON reader would reject the file).
 */
#ifndef CLFT_SAFETENSORS_H
#define CLFT_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "core/common.h"

#define ST_MAX_DIMS 8
#define ST_MAX_HEADER 100000000ull /* the safetensors crate's limit on the JSON header */
#define ST_MAX_FILE (1ull << 40)   /* files larger than this are refused before reading */

typedef enum { ST_F32, ST_F64, ST_I32, ST_I64 } StDtype;

typedef struct {
    char *name;
    StDtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    size_t nbytes;
    const void *data; /* the tensor's bytes, 8-byte aligned (valid until st_close) */
} StTensor;

typedef struct {
    char *path;
    unsigned char *bytes;   /* the whole file (data section moved to an aligned offset) */
    unsigned char *aligned; /* the tensors copied to aligned offsets, when the file's are not */
    size_t size;
    int n;
    StTensor *tensors;
    char *metadata_json; /* the "__metadata__" object as JSON text, or NULL */
    int n_meta;
    char **meta_keys, **meta_values; /* (n_meta) the "__metadata__" entries, in file order */
} StFile;

/* Reads and validates a whole file; on failure returns CLFT_ERR_IO/FORMAT with clft_last_error()
 * naming the file and the problem (f is then empty; st_close on it is harmless). */
ClftStatus st_read(StFile *f, const char *path);
/* The same checks on bytes in memory (copied); `name` stands for the path in messages. */
ClftStatus st_parse(StFile *f, const char *name, const unsigned char *bytes, size_t size);
void st_close(StFile *f);
/* The tensor named `name`, or NULL. */
const StTensor *st_find(const StFile *f, const char *name);
/* Finds tensor `name` and checks its dtype and shape: CLFT_ERR_FORMAT with one of
 * "<path>: no tensor 'x'", "<path>: tensor 'x' has dtype I32, expected F32" or
 * "<path>: tensor 'x' has shape (8, 1, 3, 3), expected (8, 1, 5, 5)". *out = the tensor or NULL. */
ClftStatus st_check(const StFile *f, const char *name, StDtype dtype, int ndim,
                    const int64_t *shape, const StTensor **out);
/* A value of the "__metadata__" object, or NULL (pointer valid until st_close). */
const char *st_metadata(const StFile *f, const char *key);
/* "F32", "F64", "I32", "I64". */
const char *st_dtype_name(StDtype d);
/* "(8, 1, 3, 3)" into out. */
void st_format_shape(char *out, size_t cap, int ndim, const int64_t *shape);

/* Writer: add tensors (the data is copied only when written), then st_write() writes to a temporary
 * file in the same directory, fsyncs it and renames it over `path`. st_write returns CLFT_ERR_VALUE
 * (naming the entry) when a name or metadata text is not valid UTF-8. */
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

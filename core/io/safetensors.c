/* safetensors.c — see safetensors.h. */
#include "core/io/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/io/atomic.h"

static const char *dtype_name(StDtype d)
{
    switch (d) {
    case ST_F32: return "F32";
    case ST_F64: return "F64";
    case ST_I32: return "I32";
    case ST_I64: return "I64";
    }
    return "?";
}

static size_t dtype_size(StDtype d) { return (d == ST_F64 || d == ST_I64) ? 8 : 4; }

static int dtype_parse(const char *s, StDtype *d)
{
    static const StDtype all[] = {ST_F32, ST_F64, ST_I32, ST_I64};
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, dtype_name(all[i]))) {
            *d = all[i];
            return 0;
        }
    return -1;
}

static ClftStatus fail(StFile *f, ClftStatus st, const char *why)
{
    clft_set_error("%s: %s", f->path, why);
    st_close(f);
    return st;
}

static ClftStatus parse_entry(StFile *f, const cJSON *item, size_t data_size, StTensor *t)
{
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(shape) || !cJSON_IsArray(offs) ||
        cJSON_GetArraySize(offs) != 2 || cJSON_GetArraySize(shape) > ST_MAX_DIMS) {
        clft_set_error("%s: tensor '%s' has a malformed header entry", f->path, item->string);
        return CLFT_ERR_FORMAT;
    }
    if (dtype_parse(dt->valuestring, &t->dtype)) {
        clft_set_error("%s: tensor '%s' has unsupported dtype %s", f->path, item->string,
                       dt->valuestring);
        return CLFT_ERR_FORMAT;
    }
    t->ndim = cJSON_GetArraySize(shape);
    size_t numel = 1;
    for (int d = 0; d < t->ndim; d++) {
        double v = cJSON_GetArrayItem(shape, d)->valuedouble;
        if (v < 0) {
            clft_set_error("%s: tensor '%s' has a negative dimension", f->path, item->string);
            return CLFT_ERR_FORMAT;
        }
        t->shape[d] = (int64_t)v;
        numel *= (size_t)v;
    }
    double b = cJSON_GetArrayItem(offs, 0)->valuedouble, e = cJSON_GetArrayItem(offs, 1)->valuedouble;
    if (b < 0 || e < b || (size_t)e > data_size || (size_t)(e - b) != numel * dtype_size(t->dtype)) {
        clft_set_error("%s: tensor '%s' has data offsets outside the file or of the wrong size "
                       "(file truncated?)",
                       f->path, item->string);
        return CLFT_ERR_FORMAT;
    }
    t->nbytes = (size_t)(e - b);
    t->name = strdup(item->string);
    /* Relative to the data section; st_read() adds 8 + header length. */
    t->data = f->bytes + (size_t)b;
    return CLFT_OK;
}

ClftStatus st_read(StFile *f, const char *path)
{
    memset(f, 0, sizeof *f);
    f->path = strdup(path);
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        clft_set_error("%s: cannot open (%s)", path, strerror(errno));
        free(f->path);
        f->path = NULL;
        return CLFT_ERR_IO;
    }
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    f->size = size > 0 ? (size_t)size : 0;
    f->bytes = xmalloc(f->size + 1);
    size_t got = fread(f->bytes, 1, f->size, fp);
    fclose(fp);
    if (got != f->size) return fail(f, CLFT_ERR_IO, "short read");
    if (f->size < 8) return fail(f, CLFT_ERR_FORMAT, "too short for a safetensors header");
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | f->bytes[i];
    if (hlen > f->size - 8) return fail(f, CLFT_ERR_FORMAT, "header length past end of file (truncated?)");
    cJSON *root = cJSON_ParseWithLength((const char *)f->bytes + 8, (size_t)hlen);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return fail(f, CLFT_ERR_FORMAT, "header is not a JSON object");
    }
    int count = cJSON_GetArraySize(root);
    f->tensors = xcalloc((size_t)count, sizeof(StTensor));
    size_t data_size = f->size - 8 - (size_t)hlen;
    const cJSON *item;
    cJSON_ArrayForEach(item, root)
    {
        if (!strcmp(item->string, "__metadata__")) {
            f->metadata_json = cJSON_PrintUnformatted(item);
            continue;
        }
        StTensor *t = &f->tensors[f->n];
        ClftStatus st = parse_entry(f, item, data_size, t);
        if (st != CLFT_OK) {
            cJSON_Delete(root);
            char msg[512];
            snprintf(msg, sizeof msg, "%s", clft_last_error());
            st_close(f);
            clft_set_error("%s", msg);
            return st;
        }
        t->data = (const unsigned char *)t->data + 8 + hlen;
        f->n++;
    }
    cJSON_Delete(root);
    return CLFT_OK;
}

void st_close(StFile *f)
{
    for (int i = 0; i < f->n; i++) free(f->tensors[i].name);
    free(f->tensors);
    free(f->bytes);
    free(f->path);
    free(f->metadata_json);
    memset(f, 0, sizeof *f);
}

const StTensor *st_find(const StFile *f, const char *name)
{
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}

const char *st_metadata(const StFile *f, const char *key)
{
    static _Thread_local char value[65536];
    if (!f->metadata_json) return NULL;
    cJSON *m = cJSON_Parse(f->metadata_json);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, key);
    const char *out = NULL;
    if (cJSON_IsString(v)) {
        snprintf(value, sizeof value, "%s", v->valuestring);
        out = value;
    }
    cJSON_Delete(m);
    return out;
}

void st_writer_init(StWriter *w) { memset(w, 0, sizeof *w); }

void st_writer_add(StWriter *w, const char *name, StDtype dtype, int ndim, const int64_t *shape,
                   const void *data)
{
    ASSERT(ndim >= 0 && ndim <= ST_MAX_DIMS);
    if (w->n == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 64;
        w->tensors = realloc(w->tensors, (size_t)w->cap * sizeof(StTensor));
        ASSERT(w->tensors);
    }
    StTensor *t = &w->tensors[w->n++];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    t->dtype = dtype;
    t->ndim = ndim;
    size_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        t->shape[d] = shape[d];
        numel *= (size_t)shape[d];
    }
    t->nbytes = numel * dtype_size(dtype);
    t->data = data;
}

void st_writer_meta(StWriter *w, const char *key, const char *value)
{
    w->meta_keys = realloc(w->meta_keys, (size_t)(w->n_meta + 1) * sizeof(char *));
    w->meta_values = realloc(w->meta_values, (size_t)(w->n_meta + 1) * sizeof(char *));
    ASSERT(w->meta_keys && w->meta_values);
    w->meta_keys[w->n_meta] = strdup(key);
    w->meta_values[w->n_meta] = strdup(value);
    w->n_meta++;
}

static char *build_header(const StWriter *w, size_t *len)
{
    cJSON *root = cJSON_CreateObject();
    if (w->n_meta) {
        cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
        for (int i = 0; i < w->n_meta; i++) cJSON_AddStringToObject(m, w->meta_keys[i], w->meta_values[i]);
    }
    size_t off = 0;
    for (int i = 0; i < w->n; i++) {
        const StTensor *t = &w->tensors[i];
        cJSON *e = cJSON_AddObjectToObject(root, t->name);
        cJSON_AddStringToObject(e, "dtype", dtype_name(t->dtype));
        cJSON *shape = cJSON_AddArrayToObject(e, "shape");
        for (int d = 0; d < t->ndim; d++) cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[d]));
        cJSON *offs = cJSON_AddArrayToObject(e, "data_offsets");
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(off + t->nbytes)));
        off += t->nbytes;
    }
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    /* Pad the header with spaces to a multiple of 8 so tensor data is 8-byte aligned. */
    size_t n = strlen(json), padded = (n + 7) / 8 * 8;
    json = realloc(json, padded + 1);
    ASSERT(json);
    memset(json + n, ' ', padded - n);
    json[padded] = '\0';
    *len = padded;
    return json;
}

ClftStatus st_write(const StWriter *w, const char *path)
{
    size_t hlen;
    char *header = build_header(w, &hlen);
    AtomicFile af;
    ClftStatus st = atomic_open(&af, path);
    if (st != CLFT_OK) {
        free(header);
        return st;
    }
    unsigned char lenbytes[8];
    for (int i = 0; i < 8; i++) lenbytes[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    fwrite(lenbytes, 1, 8, af.fp);
    fwrite(header, 1, hlen, af.fp);
    for (int i = 0; i < w->n; i++) fwrite(w->tensors[i].data, 1, w->tensors[i].nbytes, af.fp);
    free(header);
    return atomic_commit(&af);
}

void st_writer_free(StWriter *w)
{
    for (int i = 0; i < w->n; i++) free(w->tensors[i].name);
    for (int i = 0; i < w->n_meta; i++) {
        free(w->meta_keys[i]);
        free(w->meta_values[i]);
    }
    free(w->tensors);
    free(w->meta_keys);
    free(w->meta_values);
    memset(w, 0, sizeof *w);
}

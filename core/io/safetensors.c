/* safetensors.c — see safetensors.h. The reader checks what the format (huggingface/safetensors,
 * "Format" in its README) requires and cJSON alone does not: UTF-8 JSON, unique names, integer
 * shapes and offsets whose arithmetic cannot wrap, and a data section tiled exactly by the
 * tensors. */
#include "core/io/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
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

const char *st_dtype_name(StDtype d) { return dtype_name(d); }

/* ---- checks on the raw header bytes ---- */

/* What JSON readers (Python's json, serde) require of the header that cJSON lets pass: valid
 * UTF-8, no raw control characters inside strings, no \u0000 (a C string would end there). */
static const char *header_text_problem(const unsigned char *h, size_t n)
{
    int in_str = 0;
    for (size_t i = 0; i < n;) {
        size_t k = clft_utf8_seq(h + i, n - i);
        if (!k) return "the JSON header is not valid UTF-8";
        unsigned char c = h[i];
        if (in_str && c < 0x20) return "a JSON string in the header holds a raw control character";
        if (in_str && c == '\\') {
            if (i + 5 < n && h[i + 1] == 'u' && !memcmp(h + i + 2, "0000", 4))
                return "a JSON string in the header holds \\u0000";
            i += 2; /* the escaped character (ASCII in valid JSON) */
            continue;
        }
        if (c == '"') in_str = !in_str;
        if (!in_str && c == 0) return "the JSON header holds a NUL byte";
        i += k;
    }
    return NULL;
}

/* ---- the header entries ---- */

/* A JSON number that is an exact integer in [0, hi]. */
static int json_uint(const cJSON *v, double hi, uint64_t *out)
{
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!(d >= 0 && d <= hi) || d != floor(d)) return 0;
    *out = (uint64_t)d;
    return 1;
}

#define ST_MAX_EXACT 9007199254740992.0 /* 2^53: larger JSON numbers are not exact in a double */

static ClftStatus entry_error(const StFile *f, const char *name, const char *why)
{
    clft_set_error("%s: tensor '%s' %s", f->path, name, why);
    return CLFT_ERR_FORMAT;
}

/* dtype and shape of one entry; t->nbytes from them, with overflow checks. */
static ClftStatus parse_shape(const StFile *f, const cJSON *item, StTensor *t)
{
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    if (!cJSON_IsObject(item) || !cJSON_IsString(dt) || !cJSON_IsArray(shape))
        return entry_error(f, item->string,
                           "has a malformed header entry (needs dtype, shape, data_offsets)");
    if (dtype_parse(dt->valuestring, &t->dtype)) {
        char why[96];
        snprintf(why, sizeof why, "has unsupported dtype %.40s (F32, F64, I32, I64)",
                 dt->valuestring);
        return entry_error(f, item->string, why);
    }
    if (cJSON_GetArraySize(shape) > ST_MAX_DIMS)
        return entry_error(f, item->string, "has more than 8 dimensions");
    t->ndim = cJSON_GetArraySize(shape);
    uint64_t numel = 1;
    int overflow = 0;
    for (int d = 0; d < t->ndim; d++) {
        uint64_t v;
        if (!json_uint(cJSON_GetArrayItem(shape, d), ST_MAX_EXACT, &v))
            return entry_error(f, item->string,
                               "has a dimension that is not an integer in [0, 2^53]");
        t->shape[d] = (int64_t)v;
        overflow |= __builtin_mul_overflow(numel, v, &numel);
    }
    uint64_t nbytes;
    if (overflow || __builtin_mul_overflow(numel, (uint64_t)dtype_size(t->dtype), &nbytes) ||
        nbytes > SIZE_MAX)
        return entry_error(f, item->string, "has a shape whose byte count overflows 64 bits");
    t->nbytes = (size_t)nbytes;
    return CLFT_OK;
}

/* One tensor entry; *begin is its offset in the data section (parse_header sets t->data). */
static ClftStatus parse_entry(const StFile *f, const cJSON *item, size_t data_size, StTensor *t,
                              uint64_t *begin)
{
    ClftStatus st = parse_shape(f, item, t);
    if (st != CLFT_OK) return st;
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    uint64_t b, e;
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 ||
        !json_uint(cJSON_GetArrayItem(offs, 0), ST_MAX_EXACT, &b) ||
        !json_uint(cJSON_GetArrayItem(offs, 1), ST_MAX_EXACT, &e))
        return entry_error(f, item->string,
                           "has data_offsets that are not two integers in [0, 2^53]");
    if (b > e || e > data_size) {
        char why[160];
        snprintf(why, sizeof why,
                 "has data offsets [%llu, %llu) outside the %zu-byte data section "
                 "(file truncated?)",
                 (unsigned long long)b, (unsigned long long)e, data_size);
        return entry_error(f, item->string, why);
    }
    if (e - b != t->nbytes) {
        char why[160];
        snprintf(why, sizeof why, "has %llu bytes of data, its dtype and shape need %zu",
                 (unsigned long long)(e - b), t->nbytes);
        return entry_error(f, item->string, why);
    }
    t->name = strdup(item->string);
    if (!t->name) clft_die("out of memory");
    *begin = b;
    return CLFT_OK;
}

/* "__metadata__": an object of strings (the safetensors format's HashMap<String, String>). */
static ClftStatus parse_metadata(StFile *f, const cJSON *item)
{
    if (f->meta_keys) {
        clft_set_error("%s: two __metadata__ entries", f->path);
        return CLFT_ERR_FORMAT;
    }
    if (!cJSON_IsObject(item)) {
        clft_set_error("%s: __metadata__ is not a JSON object", f->path);
        return CLFT_ERR_FORMAT;
    }
    int n = cJSON_GetArraySize(item);
    f->meta_keys = xcalloc((size_t)n + 1, sizeof(char *));
    f->meta_values = xcalloc((size_t)n + 1, sizeof(char *));
    const cJSON *m;
    cJSON_ArrayForEach(m, item)
    {
        if (!cJSON_IsString(m)) {
            clft_set_error("%s: __metadata__ entry '%s' is not a string", f->path, m->string);
            return CLFT_ERR_FORMAT;
        }
        for (int i = 0; i < f->n_meta; i++)
            if (!strcmp(f->meta_keys[i], m->string)) {
                clft_set_error("%s: __metadata__ entry '%s' appears twice", f->path, m->string);
                return CLFT_ERR_FORMAT;
            }
        f->meta_keys[f->n_meta] = strdup(m->string);
        f->meta_values[f->n_meta] = strdup(m->valuestring);
        if (!f->meta_keys[f->n_meta] || !f->meta_values[f->n_meta]) clft_die("out of memory");
        f->n_meta++;
    }
    f->metadata_json = cJSON_PrintUnformatted(item);
    return CLFT_OK;
}

/* ---- the tensor table as a whole: unique names, data section tiled without gaps or overlaps ----
 */

typedef struct {
    uint64_t begin;
    int idx;
} Span;

static const StTensor *sort_tensors; /* qsort has no context pointer in C11 */

static int by_begin(const void *a, const void *b)
{
    const Span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    size_t nx = sort_tensors[x->idx].nbytes, ny = sort_tensors[y->idx].nbytes;
    return (nx > ny) - (nx < ny);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(sort_tensors[*(const int *)a].name, sort_tensors[*(const int *)b].name);
}

static ClftStatus check_names(const StFile *f)
{
    int *idx = xmalloc((size_t)(f->n ? f->n : 1) * sizeof(int));
    for (int i = 0; i < f->n; i++)
        idx[i] = i;
    sort_tensors = f->tensors;
    qsort(idx, (size_t)f->n, sizeof(int), by_name);
    ClftStatus st = CLFT_OK;
    for (int i = 1; i < f->n && st == CLFT_OK; i++)
        if (!strcmp(f->tensors[idx[i]].name, f->tensors[idx[i - 1]].name)) {
            clft_set_error("%s: tensor '%s' appears twice in the header", f->path,
                           f->tensors[idx[i]].name);
            st = CLFT_ERR_FORMAT;
        }
    free(idx);
    return st;
}

/* The safetensors format: the data section is exactly the tensors' bytes, in some order, with no
 * gap (a hole could hide another file) and no overlap (two tensors sharing bytes). */
static ClftStatus check_tiling(const StFile *f, const Span *spans_in, size_t data_size)
{
    Span *sp = xmalloc((size_t)(f->n ? f->n : 1) * sizeof(Span));
    memcpy(sp, spans_in, (size_t)f->n * sizeof(Span));
    sort_tensors = f->tensors;
    qsort(sp, (size_t)f->n, sizeof(Span), by_begin);
    uint64_t at = 0;
    ClftStatus st = CLFT_OK;
    for (int i = 0; i < f->n && st == CLFT_OK; i++) {
        const StTensor *t = &f->tensors[sp[i].idx];
        if (sp[i].begin < at)
            clft_set_error("%s: tensor '%s' [%llu, %llu) overlaps tensor '%s' ending at %llu",
                           f->path, t->name, (unsigned long long)sp[i].begin,
                           (unsigned long long)(sp[i].begin + t->nbytes),
                           f->tensors[sp[i - 1].idx].name, (unsigned long long)at);
        else if (sp[i].begin > at)
            clft_set_error("%s: %llu bytes before tensor '%s' belong to no tensor", f->path,
                           (unsigned long long)(sp[i].begin - at), t->name);
        if (sp[i].begin != at) st = CLFT_ERR_FORMAT;
        at = sp[i].begin + t->nbytes;
    }
    if (st == CLFT_OK && at != data_size) {
        clft_set_error("%s: %llu bytes after the last tensor belong to no tensor", f->path,
                       (unsigned long long)(data_size - at));
        st = CLFT_ERR_FORMAT;
    }
    free(sp);
    return st;
}

/* ---- reading ---- */

/* The entries of the parsed header into f (tensors and metadata), then the whole-table checks. */
static ClftStatus parse_table(StFile *f, const cJSON *root, size_t data_size, Span *spans)
{
    const cJSON *item;
    cJSON_ArrayForEach(item, root)
    {
        ClftStatus st;
        if (!strcmp(item->string, "__metadata__")) {
            st = parse_metadata(f, item);
        } else {
            StTensor *t = &f->tensors[f->n];
            st = parse_entry(f, item, data_size, t, &spans[f->n].begin);
            if (st == CLFT_OK) spans[f->n].idx = f->n, f->n++;
        }
        if (st != CLFT_OK) return st;
    }
    ClftStatus st = check_names(f);
    return st == CLFT_OK ? check_tiling(f, spans, data_size) : st;
}

/* Points each tensor at its data, 8-byte aligned: the data section is moved to an aligned offset
 * of f->bytes (which has 8 spare bytes); when a tensor's offset in it is not a multiple of 8 (an
 * I64 after an odd number of F32 elements, as clft's and st_write.py's files have), every tensor
 * is copied to an aligned place of its own buffer instead. */
static void place_data(StFile *f, size_t data_at, size_t data_size, const Span *spans)
{
    size_t aligned = (data_at + 7) / 8 * 8, need = 0;
    int all_aligned = 1;
    for (int i = 0; i < f->n; i++) {
        all_aligned &= spans[i].begin % 8 == 0;
        need += (f->tensors[i].nbytes + 7) / 8 * 8;
    }
    if (all_aligned) {
        memmove(f->bytes + aligned, f->bytes + data_at, data_size);
        for (int i = 0; i < f->n; i++)
            f->tensors[i].data = f->bytes + aligned + spans[i].begin;
        return;
    }
    f->aligned = xaligned_alloc(need); /* 64-byte aligned */
    size_t at = 0;
    for (int i = 0; i < f->n; i++) {
        memcpy(f->aligned + at, f->bytes + data_at + spans[i].begin, f->tensors[i].nbytes);
        f->tensors[i].data = f->aligned + at;
        at += (f->tensors[i].nbytes + 7) / 8 * 8;
    }
}

/* The header of f->bytes: its length, text and JSON, then the tensor table; places the data. */
static ClftStatus parse_header(StFile *f)
{
    if (f->size < 8) return fail(f, CLFT_ERR_FORMAT, "too short for a safetensors header");
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | f->bytes[i];
    if (hlen > f->size - 8)
        return fail(f, CLFT_ERR_FORMAT, "header length past end of file (truncated?)");
    if (hlen > ST_MAX_HEADER) return fail(f, CLFT_ERR_FORMAT, "header longer than 100 MB");
    const unsigned char *h = f->bytes + 8;
    const char *why = header_text_problem(h, (size_t)hlen);
    if (why) return fail(f, CLFT_ERR_FORMAT, why);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts((const char *)h, (size_t)hlen, &end, 0);
    int trailing = 0;
    for (const char *p = end; root && p < (const char *)h + hlen; p++)
        trailing |= !strchr(" \t\r\n", *p) || !*p;
    if (!cJSON_IsObject(root) || trailing) {
        cJSON_Delete(root);
        return fail(f, CLFT_ERR_FORMAT,
                    trailing ? "header has text after its JSON object"
                             : "header is not a JSON object");
    }
    size_t data_at = 8 + (size_t)hlen, data_size = f->size - data_at;
    int count = cJSON_GetArraySize(root);
    f->tensors = xcalloc((size_t)count + 1, sizeof(StTensor));
    Span *spans = xcalloc((size_t)count + 1, sizeof(Span));
    ClftStatus st = parse_table(f, root, data_size, spans);
    cJSON_Delete(root);
    if (st != CLFT_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", clft_last_error());
        free(spans);
        st_close(f);
        clft_set_error("%s", msg);
        return st;
    }
    place_data(f, data_at, data_size, spans);
    free(spans);
    return CLFT_OK;
}

ClftStatus st_parse(StFile *f, const char *name, const unsigned char *bytes, size_t size)
{
    memset(f, 0, sizeof *f);
    f->path = strdup(name);
    if (!f->path || size > SIZE_MAX - 16) clft_die("out of memory");
    f->bytes = xmalloc(size + 8);
    if (size) memcpy(f->bytes, bytes, size);
    f->size = size;
    return parse_header(f);
}

ClftStatus st_read(StFile *f, const char *path)
{
    memset(f, 0, sizeof *f);
    unsigned char *bytes;
    size_t size;
    ClftStatus st = clft_file_read(path, ST_MAX_FILE, &bytes, &size);
    if (st != CLFT_OK) return st;
    f->path = strdup(path);
    if (!f->path) clft_die("out of memory");
    unsigned char *b = realloc(bytes, size + 8); /* room to align the data section */
    if (!b) clft_die("%s: out of memory reading %zu bytes", path, size);
    f->bytes = b;
    f->size = size;
    return parse_header(f);
}

void st_close(StFile *f)
{
    for (int i = 0; i < f->n; i++) free(f->tensors[i].name);
    for (int i = 0; i < f->n_meta; i++)
        free(f->meta_keys[i]), free(f->meta_values[i]);
    free(f->meta_keys);
    free(f->meta_values);
    free(f->tensors);
    free(f->bytes);
    free(f->aligned);
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
    for (int i = 0; i < f->n_meta; i++)
        if (!strcmp(f->meta_keys[i], key)) return f->meta_values[i];
    return NULL;
}

void st_format_shape(char *out, size_t cap, int ndim, const int64_t *shape)
{
    size_t len = (size_t)snprintf(out, cap, "(");
    for (int d = 0; d < ndim && len < cap; d++)
        len += (size_t)snprintf(out + len, cap - len, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (len < cap) snprintf(out + len, cap - len, ")");
}

ClftStatus st_check(const StFile *f, const char *name, StDtype dtype, int ndim,
                    const int64_t *shape, const StTensor **out)
{
    const StTensor *t = st_find(f, name);
    *out = t;
    if (!t) {
        clft_set_error("%s: no tensor '%s'", f->path, name);
        return CLFT_ERR_FORMAT;
    }
    if (t->dtype != dtype) {
        clft_set_error("%s: tensor '%s' has dtype %s, expected %s", f->path, name,
                       dtype_name(t->dtype), dtype_name(dtype));
        return CLFT_ERR_FORMAT;
    }
    int same = t->ndim == ndim;
    for (int d = 0; same && d < ndim; d++)
        same = t->shape[d] == shape[d];
    if (!same) {
        char have[200], want[200];
        st_format_shape(have, sizeof have, t->ndim, t->shape);
        st_format_shape(want, sizeof want, ndim, shape);
        clft_set_error("%s: tensor '%s' has shape %s, expected %s", f->path, name, have, want);
        return CLFT_ERR_FORMAT;
    }
    return CLFT_OK;
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

/* Every text that goes into the JSON header is valid UTF-8 (cJSON copies bytes >= 0x80 as they are;
 * invalid sequences would make a header JSON readers reject). */
static ClftStatus check_texts(const StWriter *w, const char *path)
{
    const char *what = NULL, *bad = NULL;
    for (int i = 0; !bad && i < w->n; i++)
        if (!clft_utf8_valid(w->tensors[i].name, strlen(w->tensors[i].name)))
            what = "tensor name", bad = w->tensors[i].name;
    for (int i = 0; !bad && i < w->n_meta; i++) {
        if (!clft_utf8_valid(w->meta_keys[i], strlen(w->meta_keys[i])))
            what = "metadata key", bad = w->meta_keys[i];
        else if (!clft_utf8_valid(w->meta_values[i], strlen(w->meta_values[i])))
            what = "the value of metadata", bad = w->meta_keys[i];
    }
    if (!bad) return CLFT_OK;
    clft_set_error("%s: %s '%.80s' is not valid UTF-8 (a safetensors header is UTF-8 JSON)", path,
                   what, bad);
    return CLFT_ERR_VALUE;
}

ClftStatus st_write(const StWriter *w, const char *path)
{
    ClftStatus tst = check_texts(w, path);
    if (tst != CLFT_OK) return tst;
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

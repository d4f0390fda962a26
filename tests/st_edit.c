/* st_edit.c — writes a changed copy of a safetensors file, for the fault-injection tests
 * (tests/test_faults.sh): the corruptions a checkpoint must survive being checked for.
 *
 *     st_edit IN OUT set NAME INDEX VALUE       element INDEX of tensor NAME := VALUE
 *                                               (F32/F64: a number or nan; I32/I64: an integer)
 *     st_edit IN OUT zero NAME                  every byte of tensor NAME := 0
 *     st_edit IN OUT shape NAME D0 [D1 ...]     tensor NAME declared with another shape (same bytes)
 *     st_edit IN OUT meta KEY VALUE             metadata KEY := VALUE
 *     st_edit IN OUT drop NAME                  tensor NAME left out
 * Exit 0, or 2 with a message. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/io/safetensors.h"

static int fail(const char *what)
{
    fprintf(stderr, "st_edit: %s\n", what);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 5) return fail("usage: st_edit IN OUT set|zero|shape|meta|drop ...");
    StFile f;
    if (st_read(&f, argv[1]) != CLFT_OK) return fail(clft_last_error());
    const char *op = argv[3], *name = argv[4];
    StWriter w;
    st_writer_init(&w);
    void **copies = calloc((size_t)f.n, sizeof *copies);
    int hit = !strcmp(op, "meta");
    for (int i = 0; i < f.n; i++) {
        StTensor t = f.tensors[i];
        int me = !strcmp(t.name, name);
        hit |= me;
        if (me && !strcmp(op, "drop")) continue;
        copies[i] = malloc(t.nbytes ? t.nbytes : 1);
        memcpy(copies[i], t.data, t.nbytes);
        if (me && !strcmp(op, "zero")) memset(copies[i], 0, t.nbytes);
        if (me && !strcmp(op, "set")) {
            if (argc != 7) return fail("set NAME INDEX VALUE");
            long idx = strtol(argv[5], NULL, 10);
            size_t esize = t.dtype == ST_F32 || t.dtype == ST_I32 ? 4 : 8;
            if (idx < 0 || (size_t)(idx + 1) * esize > t.nbytes) return fail("index out of range");
            double v = strcmp(argv[6], "nan") ? strtod(argv[6], NULL) : (double)NAN;
            char *p = (char *)copies[i] + idx * esize;
            if (t.dtype == ST_F32) *(float *)p = (float)v;
            if (t.dtype == ST_F64) *(double *)p = v;
            if (t.dtype == ST_I32) *(int32_t *)p = (int32_t)strtol(argv[6], NULL, 10);
            if (t.dtype == ST_I64) *(int64_t *)p = strtoll(argv[6], NULL, 10);
        }
        if (me && !strcmp(op, "shape")) {
            t.ndim = argc - 5;
            for (int d = 0; d < t.ndim; d++) t.shape[d] = strtoll(argv[5 + d], NULL, 10);
        }
        st_writer_add(&w, t.name, t.dtype, t.ndim, t.shape, copies[i]);
    }
    if (!hit) return fail("no such tensor");
    /* the metadata: every key of the original, one of them replaced or added */
    static const char *const keys[] = {"config", "commit", "format", NULL};
    for (int k = 0; keys[k]; k++) {
        const char *v = st_metadata(&f, keys[k]);
        if (!strcmp(op, "meta") && !strcmp(keys[k], name)) v = argv[5];
        if (v) st_writer_meta(&w, keys[k], v);
    }
    if (!strcmp(op, "meta") && !st_metadata(&f, name) && strcmp(name, "config") &&
        strcmp(name, "commit") && strcmp(name, "format"))
        st_writer_meta(&w, name, argv[5]);
    if (st_write(&w, argv[2]) != CLFT_OK) return fail(clft_last_error());
    st_writer_free(&w);
    for (int i = 0; i < f.n; i++) free(copies[i]);
    free(copies);
    st_close(&f);
    return 0;
}

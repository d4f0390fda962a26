/* fuzz_safetensors.c — libFuzzer target for the safetensors reader of core/io/safetensors.c (the
 * 8-byte length, the JSON header, the tensor table and its tiling of the data section,
 * __metadata__). Input: a whole file.
 * Properties of every accepted file: each tensor's bytes are readable (ASan) and 8-byte aligned,
 * and tensors do not share bytes; names are unique (st_find finds each one itself); every metadata
 * key reads back. */
#include <stdlib.h>
#include <string.h>

#include "core/io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    StFile f;
    if (st_parse(&f, "fuzz.safetensors", data, size) != CLFT_OK) {
        ASSERT(!strncmp(clft_last_error(), "fuzz.safetensors: ", 18));
        ASSERT(f.bytes == NULL);
        return 0;
    }
    size_t total = 0;
    for (int i = 0; i < f.n; i++) {
        const StTensor *t = &f.tensors[i];
        ASSERT(st_find(&f, t->name) == t);
        const unsigned char *p = t->data;
        ASSERT((uintptr_t)p % 8 == 0);
        if (t->nbytes) {
            volatile unsigned char first = p[0], last = p[t->nbytes - 1]; /* ASan: in bounds */
            (void)first, (void)last;
        }
        total += t->nbytes;
        char shape[200];
        st_format_shape(shape, sizeof shape, t->ndim, t->shape);
        const StTensor *c;
        ASSERT(st_check(&f, t->name, t->dtype, t->ndim, t->shape, &c) == CLFT_OK && c == t);
    }
    ASSERT(total <= size); /* tiled: no byte counted twice */
    for (int i = 0; i < f.n_meta; i++)
        ASSERT(st_metadata(&f, f.meta_keys[i]) != NULL);
    st_close(&f);
    return 0;
}

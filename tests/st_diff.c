/* st_diff.c — compares two safetensors files tensor by tensor, bit for bit, except the tensors
 * named after them on the command line (e.g. elapsed_s, a wall-clock time). Exit 0 when equal,
 * 1 with the first difference named. Used by tests/test_pretrain.sh. */
#include <stdio.h>
#include <string.h>

#include "core/io/safetensors.h"

static int skipped(const char *name, int argc, char **argv)
{
    for (int i = 3; i < argc; i++)
        if (!strcmp(name, argv[i])) return 1;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: st_diff A.safetensors B.safetensors [ignored tensor ...]\n");
        return 2;
    }
    StFile a, b;
    if (st_read(&a, argv[1]) != CLFT_OK || st_read(&b, argv[2]) != CLFT_OK) {
        fprintf(stderr, "st_diff: %s\n", clft_last_error());
        return 2;
    }
    int status = 0;
    if (a.n != b.n) {
        fprintf(stderr, "st_diff: %d vs %d tensors\n", a.n, b.n);
        status = 1;
    }
    for (int i = 0; i < a.n && !status; i++) {
        const StTensor *ta = &a.tensors[i], *tb = st_find(&b, ta->name);
        if (skipped(ta->name, argc, argv)) continue;
        if (!tb || tb->nbytes != ta->nbytes || memcmp(ta->data, tb->data, ta->nbytes)) {
            fprintf(stderr, "st_diff: tensor '%s' differs\n", ta->name);
            status = 1;
        }
    }
    st_close(&a);
    st_close(&b);
    return status;
}

/* st_diff.c — compares two safetensors files tensor by tensor, bit for bit, except the tensors
 * named after them on the command line (e.g. elapsed_s, a wall-clock time). Exit 0 when equal,
 * 1 with the first difference named. Used by tests/test_pretrain.sh.
 *
 *   st_diff [--tol T] A.safetensors B.safetensors [ignored tensor ...]
 *
 * With --tol the float tensors (F32, F64) need only agree to a normalised error
 * max|a − b| / max|a| <= T each (integer tensors stay exact); it prints the worst tensor and its
 * error. For runs that differ by the order of float sums only (tests/test_dist.sh). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/io/safetensors.h"

static int skipped(const char *name, int first, int argc, char **argv)
{
    for (int i = first; i < argc; i++)
        if (!strcmp(name, argv[i])) return 1;
    return 0;
}

static double value(const StTensor *t, size_t i)
{
    return t->dtype == ST_F32 ? ((const float *)t->data)[i] : ((const double *)t->data)[i];
}

/* max|a − b| / max|a| of two float tensors of the same dtype and size (0 when both are zero). */
static double normalised_error(const StTensor *a, const StTensor *b)
{
    const size_t n = a->nbytes / (a->dtype == ST_F32 ? 4 : 8);
    double diff = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        double x = value(a, i), y = value(b, i);
        if (!(fabs(x - y) <= diff)) diff = fabs(x - y); /* NaN makes it NaN: a failure */
        if (fabs(x) > scale) scale = fabs(x);
    }
    return diff == 0 ? 0 : diff / (scale > 0 ? scale : 1);
}

int main(int argc, char **argv)
{
    double tol = -1;
    int first = 1;
    if (argc > 2 && !strcmp(argv[1], "--tol")) {
        char *end;
        tol = strtod(argv[2], &end);
        if (*end || !(tol >= 0)) {
            fprintf(stderr, "st_diff: --tol '%s' is not a tolerance\n", argv[2]);
            return 2;
        }
        first = 3;
    }
    if (argc < first + 2) {
        fprintf(stderr,
                "usage: st_diff [--tol T] A.safetensors B.safetensors [ignored tensor ...]\n");
        return 2;
    }
    StFile a, b;
    if (st_read(&a, argv[first]) != CLFT_OK || st_read(&b, argv[first + 1]) != CLFT_OK) {
        fprintf(stderr, "st_diff: %s\n", clft_last_error());
        return 2;
    }
    int status = 0;
    if (a.n != b.n) {
        fprintf(stderr, "st_diff: %d vs %d tensors\n", a.n, b.n);
        status = 1;
    }
    double worst = 0;
    const char *worst_name = "(none)";
    for (int i = 0; i < a.n && !status; i++) {
        const StTensor *ta = &a.tensors[i], *tb = st_find(&b, ta->name);
        if (skipped(ta->name, first + 2, argc, argv)) continue;
        if (!tb || tb->nbytes != ta->nbytes || tb->dtype != ta->dtype) {
            fprintf(stderr, "st_diff: tensor '%s' differs\n", ta->name);
            status = 1;
        } else if (tol >= 0 && (ta->dtype == ST_F32 || ta->dtype == ST_F64)) {
            double e = normalised_error(ta, tb);
            if (!(e <= worst)) worst = e, worst_name = ta->name;
            if (!(e <= tol)) {
                fprintf(stderr, "st_diff: tensor '%s' differs by %.3g (normalised), over %.3g\n",
                        ta->name, e, tol);
                status = 1;
            }
        } else if (memcmp(ta->data, tb->data, ta->nbytes)) {
            fprintf(stderr, "st_diff: tensor '%s' differs\n", ta->name);
            status = 1;
        }
    }
    if (tol >= 0 && !status)
        printf("st_diff: every tensor within %.3g; the worst, '%s', differs by %.3g (normalised)\n",
               tol, worst_name, worst);
    st_close(&a);
    st_close(&b);
    return status;
}

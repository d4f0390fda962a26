/* tensor.c — arenas and tensor views; see tensor.h. */
#include "core/tensor.h"

#include "core/common.h"

void arena_init(Arena *a, const char *name, const Backend *be)
{
    a->name = name;
    a->be = be;
    a->base = NULL;
    a->cap = 0;
    a->used = 0;
}

float *arena_take(Arena *a, size_t n)
{
    size_t rounded = (n + ARENA_ALIGN_FLOATS - 1) / ARENA_ALIGN_FLOATS * ARENA_ALIGN_FLOATS;
    float *p = a->base ? a->base + a->used : NULL;
    if (a->base && a->used + rounded > a->cap)
        clft_die("internal error: arena '%s' overflow (%zu + %zu > %zu floats): the take sequence "
                 "differs from the planning pass",
                 a->name, a->used, rounded, a->cap);
    a->used += rounded;
    return p;
}

void arena_commit(Arena *a)
{
    ASSERT(a->base == NULL);
    a->cap = a->used;
    a->base = backend_alloc(a->be, a->cap * sizeof(float));
    a->used = 0;
}

void arena_reset(Arena *a) { a->used = 0; }

void arena_free(Arena *a)
{
    if (a->be) backend_free(a->be, a->base);
    a->base = NULL;
    a->cap = a->used = 0;
}

double arena_mib(const Arena *a)
{
    size_t n = a->base ? a->cap : a->used;
    return (double)n * sizeof(float) / (1024.0 * 1024.0);
}

Tensor tensor_take(Arena *a, int n, int c, int h, int w)
{
    if (n <= 0 || c <= 0 || h <= 0 || w <= 0)
        clft_die("impossible tensor shape (%d, %d, %d, %d) in arena '%s'", n, c, h, w, a->name);
    Tensor t = {.n = n, .c = c, .h = h, .w = w};
    t.data = arena_take(a, tensor_numel(t));
    return t;
}

/* tensor.h — arenas (one allocation per lifetime class) and NCHW tensor views over them.
 *
 * DESIGN.md "Tensor": parameters live in ONE contiguous arena per model, gradients in another,
 * optimiser state in a third, buffers (BN running statistics, the queue) in a fourth, activations in
 * a fifth. EMA, weight decay, SGD, all-reduce and checkpointing are single passes over one buffer.
 *
 * An arena is planned before it is allocated: a first pass calls arena_take() on an arena whose
 * `base` is NULL (ARENA_PLAN), which only counts floats; arena_commit() then allocates exactly that
 * much, and a second pass takes the same sequence of pointers. After that, the steady-state training
 * step takes no memory from the heap.
 *
 * An arena belongs to a backend (DESIGN.md "Backends"): its memory is that backend's (device memory
 * for a GPU), allocated by be->alloc, and the host touches it only through the backend.
 */
#ifndef CLFT_TENSOR_H
#define CLFT_TENSOR_H

#include <stddef.h>

#include "core/backend/backend.h"

/* Every take is rounded up to this many floats (64 bytes) so each buffer starts cache-aligned. */
#define ARENA_ALIGN_FLOATS 16

typedef struct {
    const char *name; /* "params", "grads", "optim", "buffers", "acts": printed with its size */
    const Backend *be; /* whose memory it is */
    float *base;      /* NULL while planning; a backend buffer after arena_commit */
    size_t cap;       /* floats allocated (0 while planning) */
    size_t used;      /* floats taken so far */
} Arena;

void arena_init(Arena *a, const char *name, const Backend *be);
/* Returns `n` floats from the arena; while planning returns NULL and only counts. */
float *arena_take(Arena *a, size_t n);
/* Allocates on the arena's backend (zero-filled, 64-byte aligned) exactly what the planning pass
 * counted; resets `used`. */
void arena_commit(Arena *a);
/* Forgets all takes, keeps the memory (the next pass must take the same sequence). */
void arena_reset(Arena *a);
void arena_free(Arena *a);
double arena_mib(const Arena *a);

/* A 4-D view in NCHW order, contiguous. 2-D data (N, D) uses c = D, h = w = 1. */
typedef struct {
    float *data;
    int n, c, h, w;
} Tensor;

static inline size_t tensor_numel(Tensor t) { return (size_t)t.n * t.c * t.h * t.w; }
Tensor tensor_take(Arena *a, int n, int c, int h, int w);

#endif

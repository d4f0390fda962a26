/* queue.c — the MoCo negative queue ring buffer; see queue.h and PAPER.md §1. */
#include "core/contrast/queue.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/rng.h"

void queue_init(Queue *q, int K, int D, float *buf, uint64_t seed)
{
    ASSERT(K > 0 && D > 0);
    q->K = K;
    q->D = D;
    q->ptr = 0;
    q->owns_data = (buf == NULL);
    q->data = buf ? buf : xaligned_alloc((size_t)K * D * sizeof(float));
    Rng r;
    rng_init(&r, seed, RNG_STREAM_QUEUE, 0, 0);
    for (int i = 0; i < K; i++) {
        float *row = q->data + (size_t)i * D; /* (D,) */
        double ss = 0.0;
        for (int d = 0; d < D; d++) {
            double z = rng_normal(&r);
            row[d] = (float)z;
            ss += z * z;
        }
        /* A zero row has probability 0; guard anyway so the queue is always finite. */
        float inv = ss > 0.0 ? (float)(1.0 / sqrt(ss)) : 0.0f;
        for (int d = 0; d < D; d++) row[d] *= inv;
    }
}

void queue_free(Queue *q)
{
    if (q->owns_data) free(q->data);
    q->data = NULL;
}

void queue_push(Queue *q, const float *keys, int N)
{
    ASSERT(N >= 0 && N <= q->K);
    /* At most two contiguous copies: up to the end of the buffer, then from row 0. */
    int first = N < q->K - q->ptr ? N : q->K - q->ptr;
    memcpy(q->data + (size_t)q->ptr * q->D, keys, (size_t)first * q->D * sizeof(float));
    if (N > first)
        memcpy(q->data, keys + (size_t)first * q->D, (size_t)(N - first) * q->D * sizeof(float));
    q->ptr = (q->ptr + N) % q->K;
}

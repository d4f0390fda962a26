/* queue.c — the MoCo negative queue ring buffer; see queue.h and PAPER.md §1. */
#include "core/contrast/queue.h"

#include <math.h>

#include "core/common.h"
#include "core/rng.h"

void queue_init(Queue *q, const Backend *be, int K, int D, uint64_t seed)
{
    ASSERT(K > 0 && D > 0);
    q->be = be;
    q->K = K;
    q->D = D;
    q->ptr = 0;
    const size_t bytes = (size_t)K * D * sizeof(float);
    q->data = backend_alloc(be, bytes);
    float *host = backend_stage_begin(be, q->data, bytes); /* (K, D) */
    Rng r;
    rng_init(&r, seed, RNG_STREAM_QUEUE, 0, 0);
    for (int i = 0; i < K; i++) {
        float *row = host + (size_t)i * D; /* (D,) */
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
    backend_stage_end(be, q->data, host, bytes);
}

void queue_free(Queue *q)
{
    if (q->be) backend_free(q->be, q->data);
    q->data = NULL;
}

void queue_push(Queue *q, const float *keys, int N)
{
    ASSERT(N >= 0 && N <= q->K);
    /* At most two contiguous copies: up to the end of the buffer, then from row 0. */
    int first = N < q->K - q->ptr ? N : q->K - q->ptr;
    const size_t row = (size_t)q->D * sizeof(float);
    q->be->copy(q->data + (size_t)q->ptr * q->D, keys, (size_t)first * row);
    if (N > first) q->be->copy(q->data, keys + (size_t)first * q->D, (size_t)(N - first) * row);
    q->ptr = (q->ptr + N) % q->K;
}

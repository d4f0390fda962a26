/* queue.h — the MoCo negative queue: a K × D ring buffer of key features (PAPER.md §1).
 *
 * Initialised with seeded random unit vectors (Gaussian rows, L2-normalised, stream
 * RNG_STREAM_QUEUE), as MoCo's `F.normalize(torch.randn(K, D))`. After every step the batch's
 * ORIGINAL (untransformed) keys overwrite the oldest rows, starting at `ptr`, wrapping around K.
 * `data` and `ptr` are public so the trainer can save and restore them in checkpoints.
 */
#ifndef CLFT_QUEUE_H
#define CLFT_QUEUE_H

#include <stdint.h>

typedef struct {
    int K, D;
    float *data;   /* (K, D) row-major; row i is one negative key */
    int ptr;       /* next row to overwrite, in [0, K) */
    int owns_data; /* 1 when queue_init allocated `data` (freed by queue_free) */
} Queue;

/* Sets up a K × D queue over `buf` ((K, D) floats owned by the caller, e.g. a buffer arena) or,
 * when buf is NULL, over memory allocated here. Fills it with random unit rows drawn from
 * rng_init(seed, RNG_STREAM_QUEUE, 0, 0) and sets ptr = 0. */
void queue_init(Queue *q, int K, int D, float *buf, uint64_t seed);
void queue_free(Queue *q);
/* Writes keys (N, D) over rows ptr, ptr+1, ... (mod K) and advances ptr by N (mod K). N ≤ K. */
void queue_push(Queue *q, const float *keys, int N);

#endif

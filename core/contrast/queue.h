/* queue.h — the MoCo negative queue: a K × D ring buffer of key features (PAPER.md §1).
 *
 * Initialised with seeded random unit vectors (Gaussian rows, L2-normalised, stream
 * RNG_STREAM_QUEUE), as MoCo's `F.normalize(torch.randn(K, D))`. After every step the batch's
 * ORIGINAL (untransformed) keys overwrite the oldest rows, starting at `ptr`, wrapping around K.
 * `data` lives on the backend (its rows are computed on the host and uploaded once, so a seed
 * starts the same queue on every backend); `data` and `ptr` are public so the trainer can save and
 * restore them in checkpoints.
 */
#ifndef CLFT_QUEUE_H
#define CLFT_QUEUE_H

#include <stdint.h>

#include "core/backend/backend.h"

typedef struct {
    const Backend *be;
    int K, D;
    float *data;   /* (K, D) row-major on the backend; row i is one negative key */
    int ptr;       /* next row to overwrite, in [0, K) */
} Queue;

/* Allocates a K × D queue on `be`, fills it with random unit rows drawn on the host from
 * rng_init(seed, RNG_STREAM_QUEUE, 0, 0) and sets ptr = 0. */
void queue_init(Queue *q, const Backend *be, int K, int D, uint64_t seed);
void queue_free(Queue *q);
/* Writes keys (N, D) (on the backend) over rows ptr, ptr+1, ... (mod K) and advances ptr by N
 * (mod K). N ≤ K. */
void queue_push(Queue *q, const float *keys, int N);

#endif

/* loader.h — the threaded, deterministic data loader (DESIGN.md "Loader").
 *
 * Worker threads (pthreads) fill a ring of ready batches. Samples, not batches, are the unit of
 * work, so even one batch is spread over all threads. Every random draw for sample i of epoch e
 * comes from rng_init(&r, seed, RNG_STREAM_AUG, e, i) (view 1's draws, then view 2's, from the same
 * stream), and the epoch's order from rng_init(&r, seed, RNG_STREAM_ORDER, e, 0) with
 * rng_permutation: batches are bit-identical whatever the thread count or schedule, and
 * loader_seek(e, step) resumes at any step. All buffers are allocated in loader_init (the per-thread
 * decode and augmentation buffers grow only when a larger image than ever before arrives).
 *
 * Batch b of epoch e holds positions [b N, b N + n) of the epoch's permutation (n = N except for a
 * short last batch when tail = LOADER_KEEP_LAST).
 *
 * Sharded (data parallel, core/dist/dist.h): with shards = R > 1 the batch N is the global batch
 * of R processes and this loader yields only shard r's part, positions [b N + r N/R, b N + (r+1)
 * N/R) — the same samples, with the same draws, as rows r N/R ... of the unsharded batch, since a
 * sample's draws depend only on (seed, epoch, index). Needs LOADER_DROP_LAST and R dividing N.
 */
#ifndef CLFT_DATA_LOADER_H
#define CLFT_DATA_LOADER_H

#include <stdint.h>

#include "core/common.h"
#include "core/backend/backend.h"
#include "core/data/augment.h"
#include "core/data/dataset.h"

typedef enum { LOADER_SHUFFLE, LOADER_SEQUENTIAL } LoaderOrder;
typedef enum { LOADER_DROP_LAST, LOADER_KEEP_LAST } LoaderTail;

typedef struct {
    int batch;             /* N */
    int threads;           /* worker threads, >= 1 */
    uint64_t seed;
    int views;             /* 1 or 2 */
    const AugConfig *aug1; /* view 1 (copied at init) */
    const AugConfig *aug2; /* view 2 (copied at init); ignored when views == 1 */
    LoaderOrder order;
    LoaderTail tail;
    int ring;              /* ready batches kept ahead; 0 = 2 */
    const Backend *pinned; /* the batches' memory from pinned->host_alloc (page-locked memory for
                              fast uploads to that device); NULL, or a backend without one: plain
                              host memory */
    int shards;            /* R processes share each batch; 0 or 1 = not sharded */
    int shard;             /* r, this process's part, 0 <= r < R */
} LoaderOptions;

typedef struct {
    const float *x1;    /* (n, C, H, W) view 1 */
    const float *x2;    /* (n, C, H, W) view 2, or NULL when views == 1 */
    const int *labels;  /* (n) */
    const int *indices; /* (n) dataset indices */
    int n, C, H, W;
    int epoch, step;
} LoaderBatch;

typedef struct Loader Loader;

/* The dataset must outlive the loader. Fails (CLFT_ERR_VALUE) when N exceeds the dataset with
 * LOADER_DROP_LAST, or on inconsistent options; CLFT_ERR_IO when a worker thread cannot start. */
ClftStatus loader_init(Loader **out, const Dataset *ds, const LoaderOptions *opt);
/* The next batch; its pointers stay valid until the next call to loader_next/loader_seek/free.
 * A read or decode error in a worker is returned (with clft_last_error naming the file) by this
 * call and every later one. */
ClftStatus loader_next(Loader *l, LoaderBatch *b);
/* The next loader_next returns (epoch, step). */
void loader_seek(Loader *l, int epoch, int step);
int loader_steps_per_epoch(const Loader *l);
void loader_free(Loader *l);

#endif

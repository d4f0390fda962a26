/* checkpoint.h — a pre-training checkpoint as one safetensors file (DESIGN.md "Runs and files"):
 *
 *   encoder_q.<torchvision name>   query encoder parameters and BN buffers (+ head as fc.*)
 *   encoder_k.<torchvision name>   key encoder, same layout
 *   optim.momentum_buffer          (P) SGD momentum over the flat parameter arena
 *   queue (K, D), queue_ptr (1)    the negatives ring and its next row
 *   rng.shuffle (4), rng.ft (4)    the random streams that carry state across steps (I64 bit patterns;
 *                                  data order and augmentation are stateless: seeded by epoch and index)
 *   position (3)                   epochs completed, global steps done, steps done in the current epoch
 *   elapsed_s (1)                  wall time of the run so far (F64)
 *   __metadata__: config (the resolved INI), commit, world_size (processes of a data-parallel
 *                 run; absent in checkpoints from before it, which were all one process)
 *
 * Written to a temporary file, fsync'ed and renamed (core/io/atomic.h): a crash or a full disk never
 * leaves a half-written checkpoint in place of the previous one.
 *
 * A checkpoint is untrusted input: checkpoint_load checks everything it reads before it changes
 * anything — the format, every tensor's dtype and shape (the byte ranges are st_read's), the
 * finiteness of the weights, BN buffers, optimiser state and queue, the queue pointer, non-zero
 * random streams, the position against the run's epochs and steps, and the resolved config
 * against the run's.
 */
#ifndef CLFT_CHECKPOINT_H
#define CLFT_CHECKPOINT_H

#include "core/io/config.h"
#include "core/train/moco.h"

#define CHECKPOINT_FORMAT "clft-checkpoint-1"

typedef struct TrainPosition {
    int epoch;          /* epochs completed */
    long step;          /* global steps done */
    int step_in_epoch;  /* steps done in epoch `epoch` (0 at an epoch boundary) */
    double elapsed_s;
} TrainPosition;

/* Reads the state from mc's backend (in place on host memory) and writes it to `path`. */
ClftStatus checkpoint_save(const char *path, Moco *mc, const TrainPosition *pos,
                           const char *config_text);
/* What the run resuming from a checkpoint expects of it (checkpoint_load's e; NULL: only the
 * checks that need no run, e.g. tests). */
typedef struct {
    const Config *cfg;   /* the run's resolved config (NULL: not compared) */
    int epochs;          /* the run's epochs */
    int steps_per_epoch; /* of the run's data and batch */
    int world_size;      /* the run's processes (core/dist); 0: not compared */
} CheckpointExpect;

/* Restores everything checkpoint_save wrote into an initialised Moco of the same configuration,
 * uploading the tensors to its backend — after checking all of it (see above). A corrupt or
 * foreign file is CLFT_ERR_FORMAT (or IO), a checkpoint of another configuration CLFT_ERR_VALUE
 * naming the differing keys; either way mc and pos are unchanged. */
ClftStatus checkpoint_load(const char *path, Moco *mc, const CheckpointExpect *e,
                           TrainPosition *pos);

#endif

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
 *   __metadata__: config (the resolved INI), commit
 *
 * Written to a temporary file, fsync'ed and renamed (core/io/atomic.h): a crash or a full disk never
 * leaves a half-written checkpoint in place of the previous one.
 */
#ifndef CLFT_CHECKPOINT_H
#define CLFT_CHECKPOINT_H

#include "core/train/moco.h"

typedef struct {
    int epoch;          /* epochs completed */
    long step;          /* global steps done */
    int step_in_epoch;  /* steps done in epoch `epoch` (0 at an epoch boundary) */
    double elapsed_s;
} TrainPosition;

/* Reads the state from mc's backend (in place on host memory) and writes it to `path`. */
ClftStatus checkpoint_save(const char *path, Moco *mc, const TrainPosition *pos,
                           const char *config_text);
/* Restores everything checkpoint_save wrote into an initialised Moco of the same configuration,
 * uploading the tensors to its backend. A checkpoint of another architecture or queue size is
 * CLFT_ERR_FORMAT naming the tensor. */
ClftStatus checkpoint_load(const char *path, Moco *mc, TrainPosition *pos);

#endif

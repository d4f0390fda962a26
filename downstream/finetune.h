/* finetune.h — fine-tuning for `clft eval --protocol semisup` (semisup_finetune rows, eval.h):
 * the checkpoint's backbone + Linear(D, C) (W ~ N(0, 0.01²) from stream (RNG_STREAM_EVAL, 5, 0) of
 * run.seed, b = 0) trained end to end with SGD (lr FINETUNE_LR for all parameters, momentum 0.9,
 * wd 0, constant lr) for `epochs` epochs of batches of min(FINETUNE_BATCH, n) images (last partial
 * batch dropped) under eval_train_aug (RandomResizedCrop + flip). BN runs in TRAIN mode (batch
 * statistics, running statistics updated), as SimCLR's and MoCo's fine-tuning; evaluation uses
 * eval-mode BN with the updated running statistics and the centre crop. Everything but the final
 * classification of the test features runs on the run's backend.
 */
#ifndef CLFT_DOWNSTREAM_FINETUNE_H
#define CLFT_DOWNSTREAM_FINETUNE_H

#include "downstream/eval.h"

#define FINETUNE_LR 0.05f
#define FINETUNE_BATCH 64
#define FINETUNE_DEFAULT_EPOCHS 5

/* Fine-tunes a copy of the run's encoder + a classifier on train, then counts top-1 / top-5 on
 * test. CLFT_ERR_VALUE for fewer than 2 training images, CLFT_ERR_NUMERIC when the loss diverges.
 */
ClftStatus finetune_eval(EvalRun *r, const Dataset *train, const Dataset *test, int epochs,
                         TopkCounts *counts);

#endif

/* export.h — `clft export --format torchvision`: a run's query-encoder backbone as a safetensors
 * file with plain torchvision ResNet names and layouts (conv1.weight, bn1.running_mean,
 * layer1.0.conv1.weight, ..., no prefix, no fc), for torchvision's load_state_dict(strict=False)
 * and detectron2's convert-torchvision-to-d2.py (PAPER.md §5: VOC/COCO detection transfer).
 *
 * Metadata: format "clft-torchvision-1", arch, stem, width, stages, blocks, in_channels (so that
 * tests/check_export.py can build the same network for clft's resnet_small or widths != 64),
 * source (the checkpoint), epoch, commit. num_batches_tracked is not stored (torchvision only
 * uses it when BN momentum is None).
 *
 * The features file (export_features) holds `input` (N, C, H, W), standard-normal numbers from
 * stream (RNG_STREAM_EVAL, 6, 0) of seed 0, and `features` (N, D): the exported backbone's
 * global-pooled output for that input in eval mode — what a torchvision model loaded with the
 * exported weights must reproduce.
 */
#ifndef CLFT_DOWNSTREAM_EXPORT_H
#define CLFT_DOWNSTREAM_EXPORT_H

#include "downstream/eval.h"

/* Writes r's encoder backbone atomically to `path` (its directory is created). */
ClftStatus export_torchvision(EvalRun *r, const char *path);
/* Writes `input` and `features` for r->enc.N images (see above) to `path`. */
ClftStatus export_features(EvalRun *r, const char *path);

#endif

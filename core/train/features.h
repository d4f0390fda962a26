/* features.h — frozen-encoder features of a whole dataset: the evaluation transform (resize +
 * centre crop, normalise), BN in eval mode, the global-pooled backbone output before the head
 * (PAPER.md §5). Used by the kNN monitor, the linear probe and the other downstream protocols. */
#ifndef CLFT_FEATURES_H
#define CLFT_FEATURES_H

#include "core/data/augment.h"
#include "core/data/dataset.h"
#include "core/model/model.h"

/* How features_extract reads the data. */
typedef struct {
    const AugConfig *aug; /* the transform: features_eval_aug for the protocols, a random one for
                             augmented probe training */
    int threads;          /* loader workers; <= 0 = 1 */
    uint64_t seed;        /* a random transform's draws: per-sample streams of (seed, epoch) */
    int epoch;
} FeaturesOptions;

/* feats (ds->n, m->feat_dim) and labels (ds->n), in dataset order, in host memory: the model runs
 * on its backend, each batch uploaded and its features downloaded (in place on a host-memory
 * backend). The model's batch size is used; the last partial batch is padded (eval-mode BN makes
 * rows independent). */
ClftStatus features_extract(Model *m, const Dataset *ds, const FeaturesOptions *opt, float *feats,
                            int *labels);

/* The evaluation transform of `ds` for a model trained at `size` px: identity + normalise for
 * small fixed-size data, resize(size·8/7) + centre crop for larger images (ImageNet's 256/224). */
AugConfig features_eval_aug(const Dataset *ds, int size);

#endif

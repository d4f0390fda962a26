/* monitor.h — the kNN monitor run during pre-training (InstDisc/MoCo style): features of the
 * training set (as limited by data.train_limit / data.classes) and the test set under the eval
 * transform, weighted kNN (k, T from [eval]), top-1 in percent. */
#ifndef CLFT_MONITOR_H
#define CLFT_MONITOR_H

#include "core/data/dataset.h"
#include "core/io/config.h"
#include "core/train/train.h"

typedef struct {
    const Config *cfg;
    Dataset *train, *test;
    float *ftrain, *ftest; /* (n, feat_dim), allocated on first use */
    int *ltrain, *ltest;
} KnnMonitor;

ClftStatus knn_monitor_init(KnnMonitor *km, const Config *cfg);
TrainMonitor knn_monitor_hook(KnnMonitor *km);
void knn_monitor_free(KnnMonitor *km);

#endif

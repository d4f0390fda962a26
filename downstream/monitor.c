/* monitor.c — see monitor.h. */
#include "downstream/monitor.h"

#include <stdlib.h>
#include <string.h>

#include "core/train/features.h"
#include "downstream/knn.h"

ClftStatus knn_monitor_init(KnnMonitor *km, const Config *cfg)
{
    memset(km, 0, sizeof *km);
    km->cfg = cfg;
    DatasetOptions o = train_dataset_options(cfg);
    ClftStatus st = dataset_open(&km->train, cfg->data.spec, SPLIT_TRAIN, &o);
    if (st != CLFT_OK) return st;
    o.limit = 0;
    return dataset_open(&km->test, cfg->data.spec, SPLIT_TEST, &o);
}

static double monitor_knn(void *ctx, Model *enc, int epoch)
{
    KnnMonitor *km = ctx;
    const int D = enc->feat_dim;
    if (!km->ftrain) {
        km->ftrain = xmalloc((size_t)km->train->n * D * sizeof(float));
        km->ftest = xmalloc((size_t)km->test->n * D * sizeof(float));
        km->ltrain = xmalloc((size_t)km->train->n * sizeof(int));
        km->ltest = xmalloc((size_t)km->test->n * sizeof(int));
    }
    AugConfig aug = features_eval_aug(km->train, enc->H);
    FeaturesOptions fo = {.aug = &aug, .threads = km->cfg->data.workers};
    ClftStatus st = features_extract(enc, km->train, &fo, km->ftrain, km->ltrain);
    if (st == CLFT_OK) st = features_extract(enc, km->test, &fo, km->ftest, km->ltest);
    if (st != CLFT_OK) return -1.0;
    KnnOptions ko = KNN_OPTIONS_DEFAULT;
    ko.k = km->cfg->eval.knn_k;
    ko.T = (float)km->cfg->eval.knn_t;
    TopkCounts counts;
    st = knn_evaluate((KnnSet){km->ftrain, km->ltrain, km->train->n},
                      (KnnSet){km->ftest, km->ltest, km->test->n}, D, km->train->n_classes, &ko,
                      &counts);
    (void)epoch;
    return st == CLFT_OK ? 100.0 * topk_top1(&counts) : -1.0;
}

TrainMonitor knn_monitor_hook(KnnMonitor *km)
{
    TrainMonitor m = {.ctx = km, .knn = monitor_knn};
    return m;
}

void knn_monitor_free(KnnMonitor *km)
{
    if (km->train) dataset_free(km->train);
    if (km->test) dataset_free(km->test);
    free(km->ftrain);
    free(km->ftest);
    free(km->ltrain);
    free(km->ltest);
    memset(km, 0, sizeof *km);
}

/* eval_protocols.c — the five protocols of `clft eval` (eval.h; PAPER.md §5, issue 6) built from
 * eval.c's kNN, linear-probe and fine-tuning blocks and downstream/sampling.h's subsets. */
#include <stdlib.h>
#include <string.h>

#include "downstream/eval.h"
#include "downstream/finetune.h"
#include "downstream/sampling.h"

/* The training and test sets of a protocol and the `dataset` column of its rows. */
typedef struct {
    Dataset *train, *test;
    char name[CONFIG_STR + 160];
} EvalData;

static int n_sources(const EvalOptions *opt)
{
    return opt->floors == EVAL_FLOORS_ON ? 3 : 1;
}

static int train_limit(const EvalRun *r, const EvalOptions *opt)
{
    return opt->train_limit < 0 ? r->cfg.data.train_limit : opt->train_limit;
}

static EvalProbeTask probe_task(const EvalRun *r, const EvalOptions *opt, const char *protocol,
                                const char *dataset)
{
    EvalProbeMode mode = opt->probe;
    if (mode == EVAL_PROBE_FROM_CONFIG)
        mode = r->cfg.eval.linear_cached ? EVAL_PROBE_CACHED : EVAL_PROBE_AUGMENTED;
    EvalProbeTask t = {.protocol = protocol,
                       .dataset = dataset,
                       .probe = mode,
                       .epochs = opt->epochs > 0 ? opt->epochs : r->cfg.eval.linear_epochs,
                       .lr = (float)r->cfg.eval.linear_lr};
    return t;
}

static ClftStatus open_pair(const EvalRun *r, const EvalOptions *opt, const int *classes,
                            int n_keep, EvalData *d)
{
    memset(d, 0, sizeof *d);
    snprintf(d->name, sizeof d->name, "%s", r->spec);
    ClftStatus st = eval_open_data(r, SPLIT_TRAIN, classes, n_keep, train_limit(r, opt), &d->train);
    if (st == CLFT_OK) st = eval_open_data(r, SPLIT_TEST, classes, n_keep, 0, &d->test);
    return st;
}

static void close_pair(EvalData *d)
{
    if (d->train) dataset_free(d->train);
    if (d->test) dataset_free(d->test);
}

static void say(const EvalRun *r, const char *what)
{
    if (!r->quiet) fprintf(stderr, "clft eval: %s\n", what);
}

static ClftStatus protocol_knn_linear(EvalRun *r, const EvalOptions *opt, EvalResults *res)
{
    EvalData d;
    ClftStatus st = open_pair(r, opt, NULL, 0, &d);
    EvalProbeTask t = probe_task(r, opt, "linear", d.name);
    r->cache_features = 1; /* the same whole sets for knn and linear: see EvalRun */
    for (int s = 0; st == CLFT_OK && s < n_sources(opt); s++) {
        char msg[96];
        eval_source_name(msg, sizeof msg, opt->protocol == EVAL_KNN ? "knn" : "linear",
                         (EvalSource)s);
        say(r, msg);
        if (opt->protocol == EVAL_KNN)
            st = eval_knn(r, (EvalSource)s, d.train, d.test, "knn", d.name, res);
        else
            st = eval_linear(r, (EvalSource)s, d.train, d.test, &t, NULL, res);
    }
    r->cache_features = 0;
    close_pair(&d);
    return st;
}

/* One label fraction: linear probes of every source, then fine-tuning of the encoder. */
static ClftStatus semisup_fraction(EvalRun *r, const EvalOptions *opt, EvalData *d, double frac,
                                   int *idx, EvalResults *res)
{
    int k = 0;
    ClftStatus st = sampling_label_fraction(d->train->labels, d->train->n, d->train->n_classes,
                                            frac, (uint64_t)r->cfg.run.seed, idx, &k);
    if (st != CLFT_OK) return st;
    Dataset *sub = eval_view(d->train, idx, k);
    char name[CONFIG_STR + 200], msg[64];
    snprintf(name, sizeof name, "%s:frac=%g", r->spec, frac);
    EvalProbeTask t = probe_task(r, opt, "semisup_linear", name);
    for (int s = 0; st == CLFT_OK && s < n_sources(opt); s++) {
        snprintf(msg, sizeof msg, "semisup %g%%: linear probe (%d images)", 100.0 * frac, k);
        say(r, msg);
        st = eval_linear(r, (EvalSource)s, sub, d->test, &t, NULL, res);
    }
    if (st == CLFT_OK && opt->finetune == EVAL_FINETUNE_ON) {
        snprintf(msg, sizeof msg, "semisup %g%%: fine-tuning (%d images)", 100.0 * frac, k);
        say(r, msg);
        TopkCounts c;
        int epochs = opt->finetune_epochs > 0 ? opt->finetune_epochs : FINETUNE_DEFAULT_EPOCHS;
        st = finetune_eval(r, sub, d->test, epochs, &c);
        if (st == CLFT_OK) {
            eval_results_add(res, "semisup_finetune", name, "test", "top1", 100.0 * topk_top1(&c),
                             r->epoch);
            eval_results_add(res, "semisup_finetune", name, "test", "top5", 100.0 * topk_top5(&c),
                             r->epoch);
        }
    }
    eval_view_free(sub);
    return st;
}

static ClftStatus protocol_semisup(EvalRun *r, const EvalOptions *opt, EvalResults *res)
{
    EvalData d;
    ClftStatus st = open_pair(r, opt, NULL, 0, &d);
    int *idx = st == CLFT_OK ? xmalloc((size_t)d.train->n * sizeof(int)) : NULL; /* (Ntr) */
    const ConfigFloatList *fr = &r->cfg.eval.semisup_fractions;
    for (int i = 0; st == CLFT_OK && i < fr->n; i++)
        st = semisup_fraction(r, opt, &d, fr->v[i], idx, res);
    free(idx);
    close_pair(&d);
    return st;
}

/* Overall and per-shot-group top-1 of predictions pred (test->n) of a probe trained on sub. */
static void longtail_rows(const EvalRun *r, const Dataset *sub, const Dataset *test,
                          const int *pred, const char *protocol, const char *name, EvalResults *res)
{
    const int C = sub->n_classes;
    int *counts = xcalloc((size_t)C, sizeof(int));        /* (C) */
    ShotGroup *group = xcalloc((size_t)C, sizeof *group); /* (C) */
    ClftStatus st = sampling_class_counts(sub->labels, sub->n, C, counts);
    ASSERT(st == CLFT_OK);
    GroupOptions go = GROUP_OPTIONS_DEFAULT;
    sampling_shot_groups(counts, C, &go, group);
    GroupAccuracy acc = sampling_group_accuracy(pred, test->labels, test->n, group, C);
    static const char *const metric[] = {"top1_many", "top1_medium", "top1_few"};
    for (int g = 0; g < SHOT_N_GROUPS; g++)
        eval_results_add(res, protocol, name, "test", metric[g],
                         100.0 * sampling_group_acc(&acc, (ShotGroup)g), r->epoch);
    free(counts);
    free(group);
}

static ClftStatus protocol_longtail(EvalRun *r, const EvalOptions *opt, EvalResults *res)
{
    EvalData d;
    ClftStatus st = open_pair(r, opt, NULL, 0, &d);
    if (st != CLFT_OK) {
        close_pair(&d);
        return st;
    }
    int *idx = xmalloc((size_t)d.train->n * sizeof(int)); /* (Ntr) */
    int *pred = xmalloc((size_t)d.test->n * sizeof(int)); /* (Nte) */
    int k = 0;
    st = sampling_longtail(d.train->labels, d.train->n, d.train->n_classes, 0,
                           (double)r->cfg.eval.longtail_rho, (uint64_t)r->cfg.run.seed, idx, &k);
    Dataset *sub = st == CLFT_OK ? eval_view(d.train, idx, k) : NULL;
    char name[CONFIG_STR + 200], proto[64];
    snprintf(name, sizeof name, "%s:lt_rho=%d", r->spec, r->cfg.eval.longtail_rho);
    EvalProbeTask t = probe_task(r, opt, "longtail", name);
    for (int s = 0; st == CLFT_OK && s < n_sources(opt); s++) {
        say(r, "longtail: linear probe");
        int before = res->n;
        st = eval_linear(r, (EvalSource)s, sub, d.test, &t, pred, res);
        eval_source_name(proto, sizeof proto, "longtail", (EvalSource)s);
        /* a diverged probe recorded nan: its groups are nan too */
        if (st == CLFT_OK && res->n > before && res->rows[before].value == res->rows[before].value)
            longtail_rows(r, sub, d.test, pred, proto, name, res);
    }
    eval_view_free(sub);
    free(idx);
    free(pred);
    close_pair(&d);
    return st;
}

/* B = the classes of the dataset that the run did not pre-train on, as a list and as text. */
static ClftStatus transfer_classes(const EvalRun *r, int *B, int *nB, char *text, size_t cap)
{
    const ConfigIntList *A = &r->cfg.data.classes;
    if (A->n == 0) {
        clft_set_error("transfer: %s was pre-trained on every class of %s (data.classes is empty): "
                       "no held-out classes B",
                       r->dir, r->spec);
        return CLFT_ERR_VALUE;
    }
    Dataset *all;
    ClftStatus st = dataset_open(&all, r->spec, SPLIT_TEST, &(DatasetOptions){0});
    if (st != CLFT_OK) return st;
    int C = all->n_classes;
    dataset_free(all);
    *nB = 0;
    size_t len = 0;
    text[0] = '\0';
    for (int c = 0; c < C; c++) {
        int in_a = 0;
        for (int i = 0; i < A->n; i++)
            in_a |= A->v[i] == c;
        if (in_a || *nB >= CONFIG_LIST_MAX * 32) continue;
        B[(*nB)++] = c;
        if (len + 12 < cap)
            len += (size_t)snprintf(text + len, cap - len, "%s%d", len ? "," : "", c);
    }
    if (*nB < 2) {
        clft_set_error("transfer: %s leaves %d class%s of %s outside data.classes; a probe needs 2",
                       r->dir, *nB, *nB == 1 ? "" : "es", r->spec);
        return CLFT_ERR_VALUE;
    }
    return CLFT_OK;
}

static ClftStatus protocol_transfer(EvalRun *r, const EvalOptions *opt, EvalResults *res)
{
    int B[CONFIG_LIST_MAX * 32], nB = 0;
    char list[160];
    ClftStatus st = transfer_classes(r, B, &nB, list, sizeof list);
    if (st != CLFT_OK) return st;
    EvalData d;
    st = open_pair(r, opt, B, nB, &d);
    snprintf(d.name, sizeof d.name, "%s:classes=%s", r->spec, list);
    EvalProbeTask t = probe_task(r, opt, "transfer_linear", d.name);
    t.probe = EVAL_PROBE_CACHED;
    for (int s = 0; st == CLFT_OK && s < n_sources(opt); s++) {
        say(r, "transfer: kNN and linear probe on the held-out classes");
        st = eval_knn(r, (EvalSource)s, d.train, d.test, "transfer_knn", d.name, res);
        if (st == CLFT_OK) st = eval_linear(r, (EvalSource)s, d.train, d.test, &t, NULL, res);
    }
    close_pair(&d);
    return st;
}

ClftStatus eval_protocol_run(EvalRun *r, const EvalOptions *opt, EvalResults *res)
{
    switch (opt->protocol) {
    case EVAL_KNN:
    case EVAL_LINEAR:
        return protocol_knn_linear(r, opt, res);
    case EVAL_SEMISUP:
        return protocol_semisup(r, opt, res);
    case EVAL_LONGTAIL:
        return protocol_longtail(r, opt, res);
    case EVAL_TRANSFER:
        return protocol_transfer(r, opt, res);
    }
    clft_set_error("eval: unknown protocol %d", (int)opt->protocol);
    return CLFT_ERR_VALUE;
}

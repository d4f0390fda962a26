/* moco.c — see moco.h. */
#include "core/train/moco.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static ClftStatus check_options(const MocoOptions *opt)
{
    if (opt->model.head == HEAD_NONE) {
        clft_set_error("moco: the encoder needs a projection head (head.type linear or mlp)");
        return CLFT_ERR_VALUE;
    }
    const int R = dist_world(opt->dist);
    if (opt->K < opt->N * R) {
        clft_set_error("moco.K = %d must be at least the batch size %d", opt->K, opt->N * R);
        return CLFT_ERR_VALUE;
    }
    if (R > 1 && opt->variant.n_extra > 0) {
        clft_set_error("variant %s draws for each query, and its draws are not split over ranks: "
                       "run it in one process (not under mpirun -np %d)",
                       opt->variant.name ? opt->variant.name : "(unnamed)", R);
        return CLFT_ERR_VALUE;
    }
    return CLFT_OK;
}

/* The step's buffers on the backend, allocated once. */
static void alloc_buffers(Moco *mc)
{
    const Backend *be = mc->be;
    const int N = mc->opt.N, D = mc->D, B = N * mc->world;
    const size_t view = (size_t)N * mc->opt.C * mc->opt.H * mc->opt.W * sizeof(float);
    mc->hist = backend_alloc(be, sizeof(ScoreHist));
    mc->pre_hist = backend_alloc(be, sizeof(ScoreHist));
    mc->stats = backend_alloc(be, STEP_STAT_COUNT * sizeof(double));
    mc->flag = backend_alloc(be, sizeof(int));
    mc->perm = backend_alloc(be, (size_t)B * sizeof(int));
    if (!be->host_memory) {
        mc->x1_dev = backend_alloc(be, view);
        mc->x2_dev = backend_alloc(be, view);
    }
    mc->x2_shuf = backend_alloc(be, view);
    mc->k_feat = backend_alloc(be, (size_t)B * D * sizeof(float));
    mc->k_own = mc->k_feat + (size_t)mc->rank * N * D;
    if (mc->opt.dist) {
        mc->x2_all = backend_alloc(be, view * mc->world);
        mc->k_shuf_all = backend_alloc(be, (size_t)B * D * sizeof(float));
    }
    mc->dq_hat = backend_alloc(be, (size_t)N * D * sizeof(float));
    mc->dk_hat = backend_alloc(be, (size_t)N * D * sizeof(float));
    mc->dq = backend_alloc(be, (size_t)N * D * sizeof(float));
    mc->perm_host = xmalloc((size_t)B * sizeof(int));
    if (mc->opt.dist) mc->stats_all = xmalloc((size_t)mc->world * STEP_STAT_COUNT * sizeof(double));
}

ClftStatus moco_init(Moco *mc, const MocoOptions *opt)
{
    memset(mc, 0, sizeof *mc);
    mc->opt = *opt;
    mc->be = opt->be;
    mc->rank = dist_rank(opt->dist);
    mc->world = dist_world(opt->dist);
    ClftStatus st = check_options(opt);
    if (st != CLFT_OK) return st;
    ModelOptions qo = {.with_grads = 1, .bn_groups = opt->bn_groups};
    ModelOptions ko = {.with_grads = 0, .bn_groups = opt->bn_groups};
    st = model_init(&mc->q, mc->be, &opt->model, opt->N, opt->C, opt->H, opt->W, &qo);
    if (st != CLFT_OK) return st;
    st = model_init(&mc->k, mc->be, &opt->model, opt->N, opt->C, opt->H, opt->W, &ko);
    if (st != CLFT_OK) {
        model_free(&mc->q);
        return st;
    }
    const int N = opt->N, D = mc->q.out_dim;
    mc->D = D;
    Rng init;
    rng_init(&init, opt->seed, RNG_STREAM_INIT, 0, 0);
    model_init_weights(&mc->q, &init);
    model_copy_weights(&mc->k, &mc->q);
    arena_init(&mc->optim_arena, "optim", mc->be);
    arena_take(&mc->optim_arena, mc->q.param_arena.cap);
    arena_commit(&mc->optim_arena);
    queue_init(&mc->queue, mc->be, opt->K, D, opt->seed);
    infonce_init(&mc->nce, mc->be, N, D, opt->K, opt->variant.n_extra, opt->T);
    if (!opt->variant.is_identity) scores_pre_init(&mc->pre, mc->be, N, D);
    rng_init(&mc->rng_shuffle, opt->seed, RNG_STREAM_SHUFFLE, 0, 0);
    rng_init(&mc->rng_ft, opt->seed, RNG_STREAM_FT, 0, 0);
    alloc_buffers(mc);
    return CLFT_OK;
}

void moco_free(Moco *mc)
{
    const Backend *be = mc->be;
    model_free(&mc->q);
    model_free(&mc->k);
    arena_free(&mc->optim_arena);
    queue_free(&mc->queue);
    infonce_free(&mc->nce);
    scores_pre_free(&mc->pre);
    if (be) {
        void *bufs[] = {mc->hist,   mc->pre_hist, mc->stats,   mc->flag,   mc->perm,
                        mc->x1_dev, mc->x2_dev,   mc->x2_shuf, mc->k_feat, mc->dq_hat,
                        mc->dk_hat, mc->dq,       mc->x2_all,  mc->k_shuf_all};
        for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) backend_free(be, bufs[i]);
    }
    free(mc->perm_host);
    free(mc->stats_all);
    memset(mc, 0, sizeof *mc);
}

/* Keys of x2 under shuffle-BN: permute the batch, forward, un-permute into k_feat (B, D). The
 * permutation of the B = N·R samples is drawn on the host alike on every rank and uploaded (in
 * place on a host-memory backend). Data parallel (dist.h step 3): the key views are all-gathered
 * first, this rank forwards its N rows of the shuffled global batch, and the keys are all-gathered
 * before the un-permute; on one process (R = 1, rank 0) both all-gathers are the identity. */
static void key_forward(Moco *mc, const float *x2)
{
    const Backend *be = mc->be;
    const int N = mc->opt.N, D = mc->D, B = N * mc->world;
    const size_t img = (size_t)mc->opt.C * mc->opt.H * mc->opt.W;
    const int *perm_host = mc->fixed_perm;
    if (!perm_host) {
        rng_permutation(&mc->rng_shuffle, mc->perm_host, B);
        perm_host = mc->perm_host;
    }
    const int *perm = backend_write(be, mc->perm, perm_host, (size_t)B * sizeof(int));
    const float *x2_all = x2;
    if (mc->opt.dist) {
        dist_allgather(mc->opt.dist, mc->x2_all, x2, (size_t)N * img, "the key batch all-gather");
        x2_all = mc->x2_all;
    }
    /* this rank's rows of the shuffled batch: x2_shuf[i] = x2_all[perm[rank·N + i]] */
    be->gather_rows(mc->x2_shuf, x2_all, perm + (size_t)mc->rank * N, N, img);
    const float *k_shuf = model_forward(&mc->k, mc->x2_shuf, MODEL_TRAIN); /* (N, D) */
    if (mc->opt.dist) {
        dist_allgather(mc->opt.dist, mc->k_shuf_all, k_shuf, (size_t)N * D, "the key all-gather");
        k_shuf = mc->k_shuf_all;
    }
    be->scatter_rows(mc->k_feat, k_shuf, perm, B, D); /* row j of k_shuf is sample perm[j] */
}

/* Every rank's step statistics (R, STEP_STAT_COUNT) into the statistics over the B queries of the
 * step, in rank order on every rank (dist.h step 8). */
static void combine_stats(Moco *mc, const double *all, double *out)
{
    const int R = mc->world, C = STEP_STAT_COUNT;
    double col[2][64];
    ASSERT(R <= 64 || !"more than 64 ranks: widen combine_stats");
    for (int j = 0; j < C; j++) { /* plain means: loss, accuracy, neg moments, exp means */
        double m = 0;
        for (int r = 0; r < R; r++) m += all[r * C + j];
        out[j] = m / R;
    }
    const int pos[2] = {STEP_STAT_POST, STEP_STAT_PRE}; /* pos_mean, pos_var lead both blocks */
    for (int b = 0; b < 2; b++) {
        for (int r = 0; r < R; r++) {
            col[0][r] = all[r * C + pos[b]];
            col[1][r] = all[r * C + pos[b] + 1];
        }
        dist_combine_moments(col[0], col[1], R, mc->opt.N, &out[pos[b]], &out[pos[b] + 1]);
    }
}

/* The step statistics, downloaded once: loss, accuracy, post and pre moments (over the global
 * batch when data parallel). */
static void read_stats(Moco *mc, MocoStepResult *res)
{
    double host[STEP_STAT_COUNT], combined[STEP_STAT_COUNT];
    const double *s = backend_read(mc->be, host, mc->stats, sizeof host);
    res->bad_rank = -1;
    if (mc->opt.dist) {
        double *all = mc->stats_all;
        dist_host_allgather(mc->opt.dist, all, s, sizeof host, "the step statistics all-gather");
        for (int r = mc->world - 1; r >= 0; r--)
            if (!isfinite(all[r * STEP_STAT_COUNT + STEP_STAT_LOSS])) res->bad_rank = r;
        combine_stats(mc, all, combined);
        s = combined;
    }
    res->loss = s[STEP_STAT_LOSS];
    res->inst_acc = s[STEP_STAT_INST_ACC];
    memcpy(&res->post, s + STEP_STAT_POST, sizeof res->post);
    if (mc->opt.variant.is_identity)
        res->pre = (PreScoreStats){res->post.pos_mean, res->post.pos_var, res->post.neg_mean,
                                   res->post.neg_var};
    else
        memcpy(&res->pre, s + STEP_STAT_PRE, sizeof res->pre);
}

void moco_step(Moco *mc, const float *x1_host, const float *x2_host, const SgdOptions *sgd,
               int epoch, MocoStepResult *res)
{
    const Backend *be = mc->be;
    const int N = mc->opt.N, D = mc->D;
    const size_t view = (size_t)N * mc->opt.C * mc->opt.H * mc->opt.W * sizeof(float);
    const float *x1 = backend_write(be, mc->x1_dev, x1_host, view);
    const float *x2 = backend_write(be, mc->x2_dev, x2_host, view);
    const float *q = model_forward(&mc->q, x1, MODEL_TRAIN); /* (N, D), unit rows */
    /* θ_k ← m·θ_k + (1−m)·θ_q before the keys, as MoCo's builder.py (no-op on the first step). */
    be->ema_update(mc->k.param_arena.base, mc->q.param_arena.base, mc->q.param_arena.cap,
                   mc->opt.m);
    key_forward(mc, x2);

    VariantInput vin = {.N = N, .D = D, .K = mc->opt.K, .q = q, .k = mc->k_own,
                        .queue = mc->queue.data, .epoch = epoch};
    VariantOutput vout;
    mc->opt.variant.forward(mc->opt.variant.self, &vin, &mc->rng_ft, &vout);
    InfoNCEInput nin = {.q = vout.q, .k = vout.k, .queue = vout.queue, .extra = vout.extra,
                        .E = vout.E};
    infonce_forward(&mc->nce, &nin, mc->stats, mc->hist); /* + the score statistics */
    if (!mc->opt.variant.is_identity) /* the same statistics of the original scores */
        scores_pre(&mc->pre, mc->stats + STEP_STAT_PRE, mc->pre_hist, q, mc->k_own,
                   mc->queue.data, N, mc->opt.K);
    read_stats(mc, res);
    if (!isfinite(res->loss)) return; /* the caller stops the run; no update with a bad gradient */

    be->memset_zero(mc->dq_hat, (size_t)N * D * sizeof(float));
    be->memset_zero(mc->dk_hat, (size_t)N * D * sizeof(float));
    be->memset_zero(mc->dq, (size_t)N * D * sizeof(float));
    infonce_backward(&mc->nce, &nin, mc->dq_hat, mc->dk_hat);
    mc->opt.variant.backward(mc->opt.variant.self, mc->dq_hat, mc->dk_hat, mc->dq);
    model_zero_grads(&mc->q);
    model_backward(&mc->q, mc->dq);
    /* Data parallel: each rank's gradient is of its mean loss over N, so their mean is the
     * gradient of the mean over all B queries (dist.h step 6). */
    if (mc->opt.dist)
        dist_allreduce_mean(mc->opt.dist, mc->q.grad_arena.base, mc->q.grad_arena.cap,
                            "the gradient all-reduce");
    be->sgd_step(mc->q.param_arena.base, mc->q.grad_arena.base, mc->optim_arena.base,
                 mc->q.param_arena.cap, sgd);
    queue_push(&mc->queue, mc->k_feat, N * mc->world); /* every rank's keys: the same queue */
}

void moco_take_histograms(Moco *mc, ScoreHist *post, ScoreHist *pre)
{
    mc->be->download(post, mc->hist, sizeof *post);
    mc->be->download(pre, mc->pre_hist, sizeof *pre);
    mc->be->memset_zero(mc->hist, sizeof(ScoreHist));
    mc->be->memset_zero(mc->pre_hist, sizeof(ScoreHist));
    if (mc->opt.dist) { /* the counts of all ranks' queries */
        _Static_assert(sizeof(ScoreHist) % sizeof(uint64_t) == 0, "ScoreHist is counts only");
        const size_t n = sizeof(ScoreHist) / sizeof(uint64_t);
        dist_host_sum_u64(mc->opt.dist, (uint64_t *)post, n, "the histogram sum");
        dist_host_sum_u64(mc->opt.dist, (uint64_t *)pre, n, "the histogram sum");
    }
}

/* 1 when x (n floats on the backend) is all finite. */
static int all_finite(Moco *mc, const float *x, size_t n)
{
    int bad;
    mc->be->nonfinite(mc->flag, x, n);
    mc->be->download(&bad, mc->flag, sizeof bad);
    return !bad;
}

int moco_state_finite(Moco *mc)
{
    int ok = all_finite(mc, mc->q.param_arena.base, mc->q.param_arena.cap) &&
             all_finite(mc, mc->q.buffer_arena.base, mc->q.buffer_arena.cap) &&
             all_finite(mc, mc->k.param_arena.base, mc->k.param_arena.cap) &&
             all_finite(mc, mc->k.buffer_arena.base, mc->k.buffer_arena.cap) &&
             all_finite(mc, mc->optim_arena.base, mc->optim_arena.cap) &&
             all_finite(mc, mc->queue.data, (size_t)mc->queue.K * mc->queue.D);
    if (!mc->opt.dist) return ok;
    int *all = xmalloc((size_t)mc->world * sizeof(int));
    dist_host_allgather(mc->opt.dist, all, &ok, sizeof ok, "the finiteness check");
    for (int r = 0; r < mc->world; r++) ok = ok && all[r]; /* every rank stops, or none */
    free(all);
    return ok;
}

void moco_sync_buffers(Moco *mc)
{
    if (!mc->opt.dist) return;
    dist_allreduce_mean(mc->opt.dist, mc->q.buffer_arena.base, mc->q.buffer_arena.cap,
                        "the BN statistics all-reduce");
    dist_allreduce_mean(mc->opt.dist, mc->k.buffer_arena.base, mc->k.buffer_arena.cap,
                        "the BN statistics all-reduce");
}

void moco_share_state(Moco *mc)
{
    if (!mc->opt.dist) return;
    Dist *d = mc->opt.dist;
    const Arena *arenas[] = {&mc->q.param_arena, &mc->q.buffer_arena, &mc->k.param_arena,
                             &mc->k.buffer_arena, &mc->optim_arena};
    for (size_t i = 0; i < sizeof arenas / sizeof arenas[0]; i++)
        dist_broadcast(d, arenas[i]->base, arenas[i]->cap * sizeof(float), "the state broadcast");
    dist_broadcast(d, mc->queue.data, (size_t)mc->queue.K * mc->queue.D * sizeof(float),
                   "the state broadcast");
    struct {
        int queue_ptr;
        Rng shuffle, ft;
    } host = {mc->queue.ptr, mc->rng_shuffle, mc->rng_ft};
    dist_host_broadcast(d, &host, sizeof host, "the state broadcast");
    mc->queue.ptr = host.queue_ptr;
    mc->rng_shuffle = host.shuffle;
    mc->rng_ft = host.ft;
}

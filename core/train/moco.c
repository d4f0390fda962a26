/* moco.c — see moco.h. */
#include "core/train/moco.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

ClftStatus moco_init(Moco *mc, const MocoOptions *opt)
{
    memset(mc, 0, sizeof *mc);
    mc->opt = *opt;
    if (opt->model.head == HEAD_NONE) {
        clft_set_error("moco: the encoder needs a projection head (head.type linear or mlp)");
        return CLFT_ERR_VALUE;
    }
    if (opt->K < opt->N) {
        clft_set_error("moco.K = %d must be at least the batch size %d", opt->K, opt->N);
        return CLFT_ERR_VALUE;
    }
    ModelOptions qo = {.with_grads = 1, .bn_groups = opt->bn_groups};
    ModelOptions ko = {.with_grads = 0, .bn_groups = opt->bn_groups};
    ClftStatus st = model_init(&mc->q, &opt->model, opt->N, opt->C, opt->H, opt->W, &qo);
    if (st != CLFT_OK) return st;
    st = model_init(&mc->k, &opt->model, opt->N, opt->C, opt->H, opt->W, &ko);
    if (st != CLFT_OK) return st;
    const int N = opt->N, D = mc->q.out_dim;
    mc->D = D;
    Rng init;
    rng_init(&init, opt->seed, RNG_STREAM_INIT, 0, 0);
    model_init_weights(&mc->q, &init);
    memcpy(mc->k.param_arena.base, mc->q.param_arena.base, mc->q.param_arena.cap * sizeof(float));
    memcpy(mc->k.buffer_arena.base, mc->q.buffer_arena.base,
           mc->q.buffer_arena.cap * sizeof(float));
    arena_init(&mc->optim_arena, "optim");
    arena_take(&mc->optim_arena, mc->q.param_arena.cap);
    arena_commit(&mc->optim_arena);
    queue_init(&mc->queue, opt->K, D, NULL, opt->seed);
    infonce_init(&mc->nce, N, D, opt->K, opt->variant.n_extra, opt->T);
    scores_pre_init(&mc->pre, D);
    scores_hist_reset(&mc->hist);
    scores_hist_reset(&mc->pre_hist);
    if (!opt->variant.is_identity)
        mc->pre_block = xaligned_alloc((size_t)N * SCORES_PRE_BLOCK * sizeof(float));
    rng_init(&mc->rng_shuffle, opt->seed, RNG_STREAM_SHUFFLE, 0, 0);
    rng_init(&mc->rng_ft, opt->seed, RNG_STREAM_FT, 0, 0);
    mc->perm = xmalloc((size_t)N * sizeof(int));
    mc->x2_shuf = xaligned_alloc((size_t)N * opt->C * opt->H * opt->W * sizeof(float));
    mc->k_feat = xaligned_alloc((size_t)N * D * sizeof(float));
    mc->dq_hat = xaligned_alloc((size_t)N * D * sizeof(float));
    mc->dk_hat = xaligned_alloc((size_t)N * D * sizeof(float));
    mc->dq = xaligned_alloc((size_t)N * D * sizeof(float));
    return CLFT_OK;
}

void moco_free(Moco *mc)
{
    model_free(&mc->q);
    model_free(&mc->k);
    arena_free(&mc->optim_arena);
    queue_free(&mc->queue);
    infonce_free(&mc->nce);
    scores_pre_free(&mc->pre);
    free(mc->perm);
    free(mc->pre_block);
    free(mc->x2_shuf);
    free(mc->k_feat);
    free(mc->dq_hat);
    free(mc->dk_hat);
    free(mc->dq);
    memset(mc, 0, sizeof *mc);
}

/* Keys of x2 under shuffle-BN: permute the batch, forward, un-permute into k_feat (N, D). */
static void key_forward(Moco *mc, const float *x2)
{
    const int N = mc->opt.N, D = mc->D;
    const size_t img = (size_t)mc->opt.C * mc->opt.H * mc->opt.W;
    const int *perm = mc->fixed_perm;
    if (!perm) {
        rng_permutation(&mc->rng_shuffle, mc->perm, N);
        perm = mc->perm;
    }
    for (int i = 0; i < N; i++) memcpy(mc->x2_shuf + i * img, x2 + perm[i] * img, img * sizeof(float));
    const float *k_shuf = model_forward(&mc->k, mc->x2_shuf, MODEL_TRAIN);
    for (int i = 0; i < N; i++) /* row i of the shuffled batch is sample perm[i] */
        memcpy(mc->k_feat + (size_t)perm[i] * D, k_shuf + (size_t)i * D, D * sizeof(float));
}

void moco_step(Moco *mc, const float *x1, const float *x2, const SgdOptions *sgd, int epoch,
               MocoStepResult *res)
{
    const int N = mc->opt.N, D = mc->D;
    const float *q = model_forward(&mc->q, x1, MODEL_TRAIN); /* (N, D), unit rows */
    /* θ_k ← m·θ_k + (1−m)·θ_q before the keys, as MoCo's builder.py (no-op on the first step). */
    ema_update(mc->k.param_arena.base, mc->q.param_arena.base, mc->q.param_arena.cap, mc->opt.m);
    key_forward(mc, x2);

    VariantInput vin = {.N = N, .D = D, .K = mc->opt.K, .q = q, .k = mc->k_feat,
                        .queue = mc->queue.data, .epoch = epoch};
    VariantOutput vout;
    mc->opt.variant.forward(mc->opt.variant.self, &vin, &mc->rng_ft, &vout);
    InfoNCEInput nin = {.q = vout.q, .k = vout.k, .queue = vout.queue, .extra = vout.extra,
                        .E = vout.E};
    infonce_forward(&mc->nce, &nin);
    res->loss = mc->nce.loss;
    res->inst_acc = mc->nce.inst_acc;
    scores_compute(&res->post, &mc->hist, &mc->nce);
    if (mc->opt.variant.is_identity) {
        res->pre = (PreScoreStats){res->post.pos_mean, res->post.pos_var, res->post.neg_mean,
                                   res->post.neg_var};
    } else {
        scores_pre_compute(&mc->pre, &res->pre, q, mc->k_feat, mc->queue.data, N, mc->opt.K);
        scores_pre_hist(&mc->pre_hist, q, mc->k_feat, mc->queue.data, N, D, mc->opt.K,
                        mc->pre_block);
    }
    if (!isfinite(res->loss)) return; /* the caller stops the run; no update with a bad gradient */

    memset(mc->dq_hat, 0, (size_t)N * D * sizeof(float));
    memset(mc->dk_hat, 0, (size_t)N * D * sizeof(float));
    memset(mc->dq, 0, (size_t)N * D * sizeof(float));
    infonce_backward(&mc->nce, &nin, mc->dq_hat, mc->dk_hat);
    mc->opt.variant.backward(mc->opt.variant.self, mc->dq_hat, mc->dk_hat, mc->dq);
    model_zero_grads(&mc->q);
    model_backward(&mc->q, mc->dq);
    sgd_step(mc->q.param_arena.base, mc->q.grad_arena.base, mc->optim_arena.base,
             mc->q.param_arena.cap, sgd);
    queue_push(&mc->queue, mc->k_feat, N);
}

/* moco.h — one MoCo training step (PAPER.md §1, §2; DESIGN.md "One training step, as data"):
 *
 *   q  = norm(head_q(enc_q(x1)))                       grad, split-BN over G groups
 *   θ_k ← m·θ_k + (1−m)·θ_q
 *   k  = unshuffle(norm(head_k(enc_k(shuffle(x2)))))   no grad, EMA weights, split-BN
 *   q̂, k̂, queuê = variant.forward(q, k, queue)        identity for plain MoCo
 *   logits = [q̂·k̂, q̂·queuêᵀ]/T → InfoNCE → dL/dq̂, dL/dk̂ → variant.backward → dL/dq
 *   backward through head_q/enc_q, SGD step; enqueue the ORIGINAL k
 *
 * The EMA runs before the keys, exactly where MoCo's builder.py runs it, so a checkpoint's key
 * encoder equals the official code's after the same steps. Both encoders use split-BN
 * over G contiguous sub-batches, emulating G devices with their own BN statistics; the key batch
 * is permuted before and un-permuted after (shuffle-BN), so a query's key never shares BN
 * statistics with it by construction. Everything is allocated in moco_init.
 */
#ifndef CLFT_MOCO_H
#define CLFT_MOCO_H

#include "core/contrast/infonce.h"
#include "core/contrast/queue.h"
#include "core/contrast/scores.h"
#include "core/model/model.h"
#include "core/optim/optim.h"
#include "core/contrast/variant_hook.h"

typedef struct {
    int N, C, H, W;      /* batch shape of each view */
    int K;               /* queue length */
    float T;             /* temperature */
    float m;             /* key-encoder momentum */
    int bn_groups;       /* split-BN groups G (1 = plain BN) */
    ModelConfig model;   /* encoder + head; head_dim is D */
    VariantHook variant; /* instantiated by the caller (variants/), released by the caller */
    uint64_t seed;
} MocoOptions;

typedef struct {
    double loss, inst_acc;
    ScoreStats post;    /* statistics of the scores used in the loss (post-transform) */
    PreScoreStats pre;  /* of the original q·k, q·queue (= post when the variant is the identity) */
} MocoStepResult;

typedef struct {
    MocoOptions opt;
    int D;
    Model q, k;         /* query encoder (with gradients) and key encoder: same parameter layout */
    Arena optim_arena;  /* SGD momentum buffers, the parameter arena's size */
    Queue queue;        /* (K, D) */
    InfoNCE nce;
    PreScores pre;
    ScoreHist hist;     /* post-transform score histogram, accumulated until the epoch's end */
    ScoreHist pre_hist; /* pre-transform (original q·k, q·queue) histogram; variants only */
    float *pre_block;   /* (N, SCORES_PRE_BLOCK) scratch of scores_pre_hist; NULL for identity */
    Rng rng_shuffle;    /* shuffle-BN permutations */
    Rng rng_ft;         /* the variant's draws */
    int *perm;          /* (N) this step's key permutation */
    const int *fixed_perm; /* tests only: use this permutation instead of drawing one */
    float *x2_shuf;     /* (N, C, H, W) the permuted key batch */
    float *k_feat;      /* (N, D) keys in query order */
    float *dq_hat, *dk_hat, *dq; /* (N, D) each */
} Moco;

/* Builds both encoders (query initialised from the init stream, key = copy), the queue (random unit
 * rows from the queue stream), InfoNCE workspace and the variant's state. */
ClftStatus moco_init(Moco *mc, const MocoOptions *opt);
void moco_free(Moco *mc);
/* One step on the views x1 (queries) and x2 (keys), each (N, C, H, W). */
void moco_step(Moco *mc, const float *x1, const float *x2, const SgdOptions *sgd, int epoch,
               MocoStepResult *res);

#endif

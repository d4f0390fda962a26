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
 *
 * Everything lives on one backend (opt.be). The step's host↔backend traffic is: the upload of the
 * two views (none on a host-memory backend: the loader's batches are used in place), the upload of
 * its random draws (the key permutation here, the variant's in variants/), and one download of the
 * step statistics (loss, instance accuracy, score moments) for the NaN guard and scores.csv. The
 * histograms stay on the backend until moco_take_histograms at the epoch's end.
 *
 * Data parallel (opt.dist, core/dist/dist.h): with R ranks, N and bn_groups are this rank's share
 * of the global batch B = R·N and of the global groups; the key batch is all-gathered and
 * shuffled across ranks with one permutation of B, the gradient arena all-reduced (mean) before
 * SGD, the queue refilled with the B keys of all ranks, the statistics combined over the B
 * queries; dist.h writes the step out and the single process it equals. With opt.dist NULL (one
 * process) the step is exactly the one above and calls nothing of core/dist.
 */
#ifndef CLFT_MOCO_H
#define CLFT_MOCO_H

#include "core/contrast/infonce.h"
#include "core/contrast/queue.h"
#include "core/contrast/scores.h"
#include "core/model/model.h"
#include "core/optim/optim.h"
#include "core/contrast/variant_hook.h"
#include "core/dist/dist.h"

typedef struct {
    const Backend *be;   /* where the encoders, queue and every op of the step live */
    int N, C, H, W;      /* batch shape of each view (this rank's N: optim.batch / ranks) */
    int K;               /* queue length */
    float T;             /* temperature */
    float m;             /* key-encoder momentum */
    int bn_groups;       /* split-BN groups G (1 = plain BN) of this rank's N */
    ModelConfig model;   /* encoder + head; head_dim is D */
    VariantHook variant; /* instantiated by the caller (variants/), released by the caller */
    uint64_t seed;
    Dist *dist;          /* the ranks of a data-parallel run, attached to be; NULL: one process */
} MocoOptions;

typedef struct {
    double loss, inst_acc;
    ScoreStats post;    /* statistics of the scores used in the loss (post-transform) */
    PreScoreStats pre;  /* of the original q·k, q·queue (= post when the variant is the identity) */
    int bad_rank;       /* data parallel: the first rank whose loss is not finite, else -1 */
} MocoStepResult;

typedef struct {
    MocoOptions opt;
    const Backend *be;
    int D;
    Model q, k;         /* query encoder (with gradients) and key encoder: same parameter layout */
    Arena optim_arena;  /* SGD momentum buffers, the parameter arena's size */
    Queue queue;        /* (K, D) */
    InfoNCE nce;
    PreScores pre;
    /* On the backend: */
    ScoreHist *hist;     /* post-transform score histogram, accumulated until the epoch's end */
    ScoreHist *pre_hist; /* pre-transform (original q·k, q·queue) histogram; variants only */
    double *stats;       /* (STEP_STAT_COUNT) this step's statistics */
    int *flag;           /* (1) the finiteness test's answer */
    int *perm;           /* (B) this step's key permutation of the global batch (B = N on one
                            process) */
    float *x1_dev, *x2_dev; /* (N, C, H, W) the uploaded views; NULL on a host-memory backend */
    float *x2_shuf;      /* (N, C, H, W) the permuted key batch */
    float *k_feat;       /* (B, D) keys of the global batch in query order */
    float *k_own;        /* (N, D) this rank's keys: rows rank·N ... of k_feat (k_feat itself on
                            one process) */
    float *x2_all;       /* (B, C, H, W) the all-gathered key batch; NULL on one process */
    float *k_shuf_all;   /* (B, D) the all-gathered keys in shuffled order; NULL on one process */
    int rank, world;     /* this process's place (0 and 1 on one process) */
    float *dq_hat, *dk_hat, *dq; /* (N, D) each */
    /* On the host: */
    Rng rng_shuffle;     /* shuffle-BN permutations */
    Rng rng_ft;          /* the variant's draws */
    int *perm_host;      /* (B) where the permutation is drawn */
    double *stats_all;   /* (R, STEP_STAT_COUNT) all ranks' step statistics; NULL on one process */
    const int *fixed_perm; /* tests only: use this permutation (B) instead of drawing one */
} Moco;

/* Builds both encoders on opt->be (query initialised from the init stream on the host, key =
 * copy), the queue (random unit rows from the queue stream), InfoNCE workspace; the variant's
 * state was created on the same backend by the caller. */
ClftStatus moco_init(Moco *mc, const MocoOptions *opt);
void moco_free(Moco *mc);
/* One step on the views x1 (queries) and x2 (keys), each (N, C, H, W) in host memory (the
 * loader's batches). */
void moco_step(Moco *mc, const float *x1, const float *x2, const SgdOptions *sgd, int epoch,
               MocoStepResult *res);
/* The epoch's histograms (downloaded), then zeroed on the backend for the next epoch. */
void moco_take_histograms(Moco *mc, ScoreHist *post, ScoreHist *pre);
/* 1 when every query-encoder parameter, the optimiser state and the queue are finite (a pass
 * over the arenas on the backend; for the NaN guard before a checkpoint). Data parallel: on every
 * rank (a collective). */
int moco_state_finite(Moco *mc);
/* Data parallel: the BN running statistics of both encoders averaged over the ranks (dist.h),
 * before anything reads them (kNN monitor, checkpoint). A collective; nothing on one process. */
void moco_sync_buffers(Moco *mc);
/* Data parallel: every rank's state (weights, BN buffers, optimiser state, queue and its pointer,
 * the random streams) set to rank 0's — after rank 0 has resumed from a checkpoint. A collective;
 * nothing on one process. */
void moco_share_state(Moco *mc);

#endif

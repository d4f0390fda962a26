/* backend.h — a backend is memory plus compute: one table of function pointers, looked up by name
 * once (`--device cpu|cpu-ref|cuda`), in the manner of ggml's backend interface (DESIGN.md
 * "Backends").
 *
 *   memory   alloc/free, zeroing, copies host→backend, backend→host and backend→backend, an
 *            optional pinned-host allocator (for the loader's batches), synchronise;
 *   compute  every op the training step and the evaluators run.
 *
 * Every buffer an op receives lives on that backend ("device pointers"): the host never reads or
 * writes one except through upload/download, and the named boundaries below are the only traffic:
 *   - batch upload (x1, x2), and the step's random draws (shuffle permutation, FT's λ and queue
 *     permutation, MoCHi's picks) — drawn on the host whatever the device;
 *   - per step, a download of the step statistics (loss, instance accuracy, score moments);
 *   - the score histograms at the end of an epoch;
 *   - features for kNN / linear evaluation;
 *   - initial values (weights, queue, BN running variance), checkpoint save and load.
 * A backend whose memory IS host memory (cpu, cpu-ref: `host_memory` = 1) lets the helpers below
 * skip those copies: the host then reads and writes the buffers in place, so the CPU path copies
 * nothing it did not copy before the table existed.
 *
 * Op conventions (as llm.c): outputs first, then inputs, then the shape, then scratch; every
 * buffer is contiguous float32 NCHW (or row-major (rows, cols)) with its shape in a comment;
 * backward ops ACCUMULATE (+=) into parameter gradients and into an activation gradient unless
 * told that they are its first writer (BnShape.din_set, add_relu's set_a/set_b); GEMMs are
 * row-major C(M,N) = A(M,K)·B(K,N). The formulas of each op are in the header of the module that
 * calls it (core/nn/nn.h for layers, core/contrast/ headers, variants/ft.h, variants/mochi.h,
 * core/optim/optim.h); core/backend/ref/ holds the plain reference kernels that spell them out.
 *
 * An entry left NULL is an op this backend does not implement: backend_select() refuses such a
 * backend for a run that needs the op (one line naming the device and the op), never falling back
 * to the host silently.
 */
#ifndef CLFT_BACKEND_H
#define CLFT_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "core/common.h"
#include "core/nn/nn.h"

struct InfoNCE;
struct InfoNCEInput;
struct PreScores;
struct SgdOptions;

/* The statistics one step downloads (the NaN guard and scores.csv need them every step), as one
 * contiguous block of doubles on the backend: InfoNCE writes loss and instance accuracy, the score
 * ops the moments of the scores used in the loss (post) and of the original scores (pre). */
enum {
    STEP_STAT_LOSS = 0,
    STEP_STAT_INST_ACC = 1,
    STEP_STAT_POST = 2, /* 6: pos_mean, pos_var, neg_mean, neg_var, exp_pos_mean, exp_neg_mean */
    STEP_STAT_PRE = 8,  /* 4: pos_mean, pos_var, neg_mean, neg_var */
    STEP_STAT_COUNT = 12
};

/* Arithmetic of the convolutions and GEMMs (everything else — BN statistics, InfoNCE, FT, the
 * score statistics, SGD, the master weights and the queue — is fp32 whatever the precision).
 * tf32: GPU tensor cores with 10-bit mantissa inputs; bf16: bf16 inputs, fp32 accumulation. */
typedef enum { PRECISION_FP32, PRECISION_TF32, PRECISION_BF16 } Precision;

/* How a process uses its backend, fixed when it is opened. */
typedef struct {
    Precision precision;
    int deterministic; /* 1: only deterministic algorithms (cuDNN), bit-reproducible runs */
    int device;        /* which device of the machine (a GPU ordinal; one per MPI rank) */
} BackendOptions;

typedef struct Backend {
    const char *name;    /* "cpu", "cpu-ref", "cuda" */
    const char *summary; /* one line for --version */
    int host_memory;     /* 1: its buffers are host memory (see above) */
    int nhwc;            /* 1: its 4-D activations are channels-last (core/nn/nn.h "Layout") */
    /* Opens the device for this process with these options: CLFT_OK, or a status with
     * clft_last_error() saying why it is not usable (no GPU, no driver, a precision it does not
     * offer). NULL: always usable, fp32 only. */
    ClftStatus (*open)(const BackendOptions *opt);

    /* ---- memory ---- */
    void *(*alloc)(size_t bytes); /* 64-byte aligned, zero-filled; NULL when it cannot */
    void (*free)(void *p);
    void *(*host_alloc)(size_t bytes); /* pinned host memory (NULL entry: plain host memory) */
    void (*host_free)(void *p);
    void (*memset_zero)(void *p, size_t bytes);
    void (*upload)(void *dst, const void *host_src, size_t bytes);
    void (*download)(void *host_dst, const void *src, size_t bytes);
    void (*copy)(void *dst, const void *src, size_t bytes);
    void (*synchronize)(void);

    /* ---- layers (core/nn/nn.h) ---- */
    /* Plans a convolution of shape s once, at model init (the primitives / algorithms a backend
     * chooses for it), storing the backend's handle in s->plan; NULL entry: nothing to plan. The
     * workspace size is asked after planning. conv2d_unplan releases s->plan. */
    ClftStatus (*conv2d_plan)(ConvShape *s);
    void (*conv2d_unplan)(ConvShape *s);
    size_t (*conv2d_workspace_floats)(const ConvShape *s);
    void (*conv2d_forward)(float *out, const float *in, const float *weight, const ConvShape *s,
                           float *ws);
    void (*conv2d_backward)(float *din, float *dweight, const float *dout, const float *in,
                            const float *weight, const ConvShape *s, float *ws);
    void (*batchnorm_forward)(float *out, float *save_mean, float *save_rstd, const float *in,
                              const float *gamma, const float *beta, float *running_mean,
                              float *running_var, const BnShape *s, BnMode mode);
    void (*batchnorm_backward)(float *din, float *dgamma, float *dbeta, const float *dout,
                               const float *in, const float *save_mean, const float *save_rstd,
                               const float *gamma, const float *out, const BnShape *s,
                               BnMode mode);
    void (*relu_forward)(float *out, const float *in, size_t n);
    void (*relu_backward)(float *din, const float *dout, const float *out, size_t n);
    void (*maxpool_forward)(float *out, int *argmax, const float *in, const PoolShape *s);
    void (*maxpool_backward)(float *din, const float *dout, const int *argmax, const PoolShape *s);
    void (*avgpool_forward)(float *out, const float *in, int N, int C, int HW);
    void (*avgpool_backward)(float *din, const float *dout, int N, int C, int HW);
    void (*linear_forward)(float *out, const float *in, const float *weight, const float *bias,
                           int N, int D_in, int D_out);
    void (*linear_backward)(float *din, float *dweight, float *dbias, const float *dout,
                            const float *in, const float *weight, int N, int D_in, int D_out);
    void (*l2norm_forward)(float *out, float *norm, const float *in, int N, int D);
    void (*l2norm_backward)(float *din, const float *dout, const float *out, const float *norm,
                            int N, int D);
    void (*add_relu_forward)(float *y, const float *a, const float *b, size_t n);
    void (*add_relu_backward)(float *da, float *db, const float *dout, const float *out, size_t n,
                              int set_a, int set_b);
    void (*add_inplace)(float *y, const float *x, size_t n); /* y += x */
    void (*zero)(float *y, size_t n); /* y = 0 (an activation gradient before its first adder) */
    /* out (N, C, H, W) in this backend's layout ← in (N, C, H, W) in NCHW, the loader's layout (the
     * network input; NULL entry on an NCHW backend) */
    void (*from_nchw)(float *out, const float *in, int N, int C, int HW);
    /* bf16 storage (core/nn/nn.h "bf16 storage"), optional: 1 when this process opened the
     * backend at bf16 and its layers keep the trunk's activations in bf16 — convolutions and BN by
     * the flags of their shapes (ConvShape.src_bf16/dst_bf16, BnShape.bf16), the join and the
     * pools by the entries below (max-pool's backward reads only argmax: the fp32 entry serves).
     * NULL: activations are fp32 at every precision. */
    int (*bf16_storage)(void);
    void (*add_relu_forward_bf16)(uint16_t *y, const uint16_t *a, const uint16_t *b, size_t n);
    void (*add_relu_backward_bf16)(float *da, float *db, const float *dout, const uint16_t *out,
                                   size_t n, int set_a, int set_b);
    void (*maxpool_forward_bf16)(uint16_t *out, int *argmax, const uint16_t *in,
                                 const PoolShape *s);
    void (*avgpool_forward_bf16)(float *out, const uint16_t *in, int N, int C, int HW);

    /* ---- rows: the key shuffle (shuffle-BN) ---- */
    /* out[i] = in[idx[i]] and out[idx[i]] = in[i], for rows of `row` floats, i < N */
    void (*gather_rows)(float *out, const float *in, const int *idx, int N, size_t row);
    void (*scatter_rows)(float *out, const float *in, const int *idx, int N, size_t row);

    /* ---- contrast (core/contrast/infonce.h, scores.h) ---- */
    /* loss, instance accuracy and the post-transform score moments into stats (STEP_STAT_LOSS,
     * _INST_ACC, _POST), the scores added to *hist (a ScoreHist) when hist is not NULL: the score
     * statistics are fused into the loss's pass over the logits */
    void (*infonce_forward)(struct InfoNCE *w, const struct InfoNCEInput *in, double *stats,
                            void *hist);
    void (*infonce_backward)(struct InfoNCE *w, const struct InfoNCEInput *in, float *dq_hat,
                             float *dk_hat);
    /* the pre-transform statistics (4 doubles into pre) of the original q (N, D), k (N, D) and
     * queue (K, D), and their scores added to *hist (a ScoreHist), in one pass over q·queueᵀ;
     * p: the workspace (core/contrast/scores.h PreScores) */
    void (*scores_pre)(struct PreScores *p, double *pre, void *hist, const float *q,
                       const float *k, const float *queue, int N, int K);

    /* ---- feature mixing (variants/ft.h, variants/mochi.h) ----
     * λ is `lam` (D) when not NULL (one value per dimension), else the scalar lam0. */
    /* â = λa + (1−λ)b, b̂ = λb + (1−λ)a row by row (N, D); with renorm both are scaled to unit
     * rows and their norms before scaling kept in a_norm, b_norm (N) */
    void (*pair_mix_forward)(float *a_hat, float *b_hat, float *a_norm, float *b_norm,
                             const float *a, const float *b, const float *lam, float lam0, int N,
                             int D, int renorm);
    /* da (N, D) += dL/da through â and b̂, given da_hat, db_hat of the last forward */
    void (*pair_mix_backward)(float *da, const float *da_hat, const float *db_hat,
                              const float *a_hat, const float *b_hat, const float *a_norm,
                              const float *b_norm, const float *lam, float lam0, int N, int D,
                              int renorm);
    /* out[i] = λ∘x[i] + (1−λ)∘x[perm[i]] for the K rows of x (K, D); renorm: unit rows */
    void (*row_mix)(float *out, const float *x, const int *perm, const float *lam, float lam0,
                    int K, int D, int renorm);
    /* idx (N, k): for each row n of q (N, D), the rows j of x (K, D) with the k largest q_n·x_j
     * (ties: lower j first); scores: topk_scratch_floats(K, k) floats of scratch */
    void (*topk_rows)(int *idx, const float *q, const float *x, int N, int D, int K, int k,
                      float *scores);
    /* out[n, e] = normalise(c a + (1 − c) b), c = coef[n, e], a = x[pick[pos_a[n, e]]] (or q_n
     * when pos_a[n, e] < 0), b = x[pick[pos_b[n, e]]], pick = idx row n (N, k); out (N, E, D) */
    void (*mix_picked)(float *out, const float *q, const float *x, const int *idx, int k,
                       const int *pos_a, const int *pos_b, const float *coef, int N, int E, int D);

    /* ---- optimiser (core/optim/optim.h) ---- */
    void (*sgd_step)(float *theta, const float *grad, float *buf, size_t n,
                     const struct SgdOptions *opt);
    void (*ema_update)(float *theta_k, const float *theta_q, size_t n, float m);

    /* ---- evaluation ---- */
    /* C (M, N) = alpha op(A) op(B) + beta C, row-major; op(X) = Xᵀ when trans_x */
    void (*gemm)(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                 int lda, const float *B, int ldb, float beta, float *C, int ldc);
    /* loss (1 double) = mean cross-entropy of logits (N, C) against labels (N); the logits become
     * dL/dlogits = (softmax − onehot) / N */
    void (*softmax_xent)(double *loss, float *logits, const int *labels, int N, int C);
    /* 1 in *flag when any of x[0..n) is NaN or ±inf (flag: one int on the backend) */
    void (*nonfinite)(int *flag, const float *x, size_t n);
} Backend;

#define TOPK_BLOCK 64 /* query rows per topk_rows score block: (TOPK_BLOCK, K) floats */
/* Scratch of topk_rows: the score block and a k-entry heap (values and rows). */
static inline size_t topk_scratch_floats(int K, int k) { return (size_t)TOPK_BLOCK * K + 2 * (size_t)k; }

/* The built backend called `name`, or NULL. */
const Backend *backend_find(const char *name);
/* The built backends' names, space-separated ("cpu cpu-ref"), for messages and --version. */
const char *backend_names(void);
/* NULL-terminated list of the built backends. */
const Backend *const *backend_all(void);
/* The backend that computes on host memory for host-side evaluation (kNN, linear probe): "cpu". */
const Backend *backend_host(void);

/* Which op groups a run needs; backend_select refuses a backend missing one of them. */
typedef enum {
    BACKEND_NEEDS_TRAIN = 1, /* the MoCo step: layers, rows, contrast, optimiser */
    BACKEND_NEEDS_MIX = 2,   /* a variant's feature mixing */
    BACKEND_NEEDS_EVAL = 4,  /* feature extraction and fine-tuning */
} BackendNeeds;

/* The backend for --device `name`, opened with `opt` (NULL: fp32, defaults) and checked to
 * implement what `needs` says. On failure returns NULL with clft_last_error() one line naming the
 * device and why (not built — listing the built ones —, not usable here, a precision it does not
 * offer, or an op it lacks). */
const Backend *backend_select(const char *name, int needs, const BackendOptions *opt);
/* The options the last backend_select opened with (fp32 before any). */
const BackendOptions *backend_options(void);

/* Checked memory of a backend: die with file:line and the size when the backend cannot. */
void *backend_alloc_impl(const Backend *be, size_t bytes, const char *file, int line);
#define backend_alloc(be, bytes) backend_alloc_impl((be), (bytes), __FILE__, __LINE__)
void backend_free(const Backend *be, void *p);

/* Host data headed for a backend buffer `dev` (bytes): on a host-memory backend the buffer itself
 * is returned (write in place, nothing to copy), else a host staging buffer; backend_stage_end
 * uploads it (when it was not dev) and frees it. For initial values and checkpoint load. */
void *backend_stage_begin(const Backend *be, void *dev, size_t bytes);
void backend_stage_end(const Backend *be, void *dev, void *staged, size_t bytes);
/* Host view of a backend buffer: `dev` itself on a host-memory backend, else `host` (bytes
 * downloaded into it). For checkpoints, features and statistics. */
const void *backend_read(const Backend *be, void *host, const void *dev, size_t bytes);
/* A backend buffer holding host data `host`: `host` itself on a host-memory backend, else `dev`
 * after uploading. For the batch upload. */
const void *backend_write(const Backend *be, void *dev, const void *host, size_t bytes);

#endif

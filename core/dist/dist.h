/* dist.h — data-parallel pre-training over several processes (DESIGN.md "Data parallel"; PAPER.md
 * §1 shuffle-BN; issue 17), as facebookresearch/moco runs MoCo with PyTorch DDP on 8 GPUs.
 *
 * One process per device, started by `mpirun -np R clft pretrain ...`: Open MPI collectives on host
 * memory for CPU ranks (cpu, cpu-im2col, cpu-ref), NCCL on the backend's CUDA stream for GPU ranks
 * (MPI starts the processes and broadcasts the NCCL id, as llm.c does). A process that mpirun did
 * not start (no OMPI_COMM_WORLD_SIZE in its environment) or that is the only one (-np 1) gets no
 * communicator (dist_init's *out = NULL) and never calls MPI: it runs exactly as before this layer.
 * CLFT_DIST_FORCE=1 under `mpirun -np 1` makes a communicator of one rank all the same, so the
 * data-parallel step and its transport (NCCL on one GPU) run with R = 1: a check of the path on a
 * machine with a single device (tests/test_dist.sh).
 * A build without MPI links dist_none.c instead of dist_mpi.c (CMake chooses; no #ifdef in shared
 * code) and refuses to run as one of several ranks.
 *
 * ---- The step with R ranks (core/train/moco.c) ----
 * optim.batch B is the GLOBAL batch and moco.shuffle_groups G the global number of split-BN groups;
 * rank r holds N = B/R samples — positions [bB + rN, bB + rN + N) of the epoch's permutation for
 * global step b (the loader's per-sample seeding makes any sample reproducible on any rank) — and
 * runs split-BN with G/R groups of its N, i.e. exactly the single process's groups r·G/R ...
 * (r+1)·G/R − 1. Per step every rank:
 *   1. q = norm(head_q(enc_q(x1)))              its N queries, G/R groups        (no communication)
 *   2. θ_k ← m θ_k + (1−m) θ_q                  identical on every rank
 *   3. x2_all = all-gather(x2)                  (B, C, H, W) in rank order = the global key batch
 *      perm = the step's permutation of B       the same draw on every rank (the shared seed) and
 *                                               the single process's draw
 *      k_shuf = keys of x2_all[perm[rN .. rN+N)] its slice of the shuffled batch, G/R groups
 *      k_all = unshuffle(all-gather(k_shuf))    (B, D) in query order; own keys = rows rN .. rN+N
 *   4. the variant on (q, own keys, queue)      FT's draws (λ, the queue permutation) come from the
 *                                               shared stream: identical on every rank
 *   5. InfoNCE over its N queries, the per-rank mean; backward to the gradient arena
 *   6. grads = all-reduce-mean(grads)           one collective over the whole gradient arena
 *   7. SGD (identical on every rank), queue_push(k_all): B keys, every rank holds the same queue
 *   8. statistics: each rank's (loss, accuracy, score moments) all-gathered and combined on the
 *      host into the moments over the B queries (dist_combine_moments below); the score
 *      histograms are summed over the ranks at the epoch's end.
 * BN running statistics stay per rank while training (they are not read in training mode) and are
 * averaged over the ranks (one all-reduce of each encoder's buffer arena) before anything reads
 * them: the kNN monitor and every checkpoint. Each rank's update is running ← (1−μ) running +
 * μ·(mean over its groups), linear in the group statistics, so from the same start the average of
 * the ranks' running statistics is the single process's (mean over all G groups), up to rounding.
 *
 * ---- The single-process equivalent ----
 * A single process with the SAME config (optim.batch = B, moco.shuffle_groups = G): its G
 * contiguous groups of the B queries and of the B shuffled keys are the ranks' groups, its
 * permutation is the ranks' shared one, its loss is the mean over B = the mean of the ranks' means
 * (equal N), so its gradient is the ranks' averaged gradient. Only the order of float summations
 * differs (the all-reduce adds R partial gradients; a convolution over N images may block its sums
 * differently from one over B), so losses, score moments and parameters agree to float rounding —
 * tests/test_dist.sh measures how closely. Variants that draw per query (MoCHi) are refused with
 * R > 1: their draws would repeat across ranks.
 *
 * ---- Failures ----
 * Every collective is bounded: a watchdog thread aborts the job when one waits more than the
 * timeout (DistOptions.timeout_s, default DIST_TIMEOUT_DEFAULT_S) with one line naming the rank and
 * the collective. clft_die on any rank prints one line "clft: rank r of R: <why>" and aborts every
 * rank (MPI_Abort); ranks other than 0 wait DIST_REPORT_DELAY_S first, so an error every rank meets
 * (a bad flag, a missing file) is reported once, by rank 0. A rank that dies (SIGKILL) is noticed
 * by mpirun, which names it and stops the others. Only rank 0 writes (config.ini, CSVs, checkpoints),
 * so the last checkpoint is never touched by a failure elsewhere.
 */
#ifndef CLFT_DIST_H
#define CLFT_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "core/backend/backend.h"
#include "core/common.h"

#define DIST_TIMEOUT_DEFAULT_S 600.0 /* a collective waiting this long: a rank hangs or died */
#define DIST_REPORT_DELAY_S 2.0      /* ranks > 0 report a fatal error this much after rank 0 */

typedef struct Dist Dist;

typedef struct {
    double timeout_s; /* bound on any one collective's wait; 0 = DIST_TIMEOUT_DEFAULT_S */
} DistOptions;

/* Joins the job this process was started in. Under mpirun with more than one process: MPI
 * initialised, clft_die hooked (see "Failures"), *out the communicator. Otherwise *out = NULL and
 * MPI is never called. Fails (CLFT_ERR_VALUE) when started as one of several ranks by a build
 * without MPI. */
ClftStatus dist_init(Dist **out, const DistOptions *opt);
/* Ends MPI (after the last collective); NULL: nothing. */
void dist_finalize(Dist *d);

int dist_rank(const Dist *d);       /* 0 for NULL */
int dist_world(const Dist *d);      /* 1 for NULL */
int dist_local_rank(const Dist *d); /* rank among the processes of this node (the GPU ordinal) */

/* The transport for buffers of backend `be`: MPI in place on host memory; NCCL on the cuda backend
 * when built with NCCL; otherwise MPI through host staging. Collective; call once, after the
 * backend is opened (NCCL binds to its current device). */
ClftStatus dist_attach(Dist *d, const Backend *be);
/* "mpi", "nccl" or "mpi-staged" after dist_attach; "none" for NULL. */
const char *dist_transport(const Dist *d);

/* Collectives over buffers of the attached backend. `what` names the call in a timeout message. */
/* x (n) ← the mean over ranks of x */
void dist_allreduce_mean(Dist *d, float *x, size_t n, const char *what);
/* out (R, n) ← every rank's in (n), in rank order; out must not overlap in */
void dist_allgather(Dist *d, float *out, const float *in, size_t n, const char *what);
/* x (bytes) ← rank 0's x */
void dist_broadcast(Dist *d, void *x, size_t bytes, const char *what);

/* Collectives over host memory (MPI whatever the backend). */
void dist_host_allgather(Dist *d, void *out, const void *in, size_t bytes, const char *what);
void dist_host_broadcast(Dist *d, void *x, size_t bytes, const char *what);
void dist_host_sum_u64(Dist *d, uint64_t *x, size_t n, const char *what);
void dist_barrier(Dist *d, const char *what);
/* Collective agreement before a step that must not start unless every rank can: 1 when `ok` on
 * every rank. Otherwise the lowest rank whose ok is 0 gets 0 — to report its error with clft_die,
 * which stops the job — and every other rank waits here to be stopped by it (bounded by the
 * timeout), so the job prints one line. 1 = ok for NULL. */
int dist_all_ok(Dist *d, int ok, const char *what);

/* One line for `clft --version`: the MPI (and NCCL) this build uses, or that it has none. Calls no
 * MPI function. */
const char *dist_summary(void);

/* Seconds this rank has spent inside collectives (waiting for the others included). */
double dist_comm_seconds(const Dist *d);

/* Combines R ranks' moments of equally many (n each) values: mean[r], var[r] (unbiased, ÷(n−1))
 * into the mean and unbiased variance of all R·n values, summed in rank order (deterministic, the
 * same on every rank): Σ(x − m)² = Σ_r ((n−1) var_r + n (mean_r − m)²). */
void dist_combine_moments(const double *mean, const double *var, int R, long n, double *mean_out,
                          double *var_out);

#endif

/* dist_nccl.c — the NCCL transport of the dist layer for the cuda backend (see dist.h,
 * dist_internal.h), built when CMake finds CUDA, NCCL and MPI. One communicator of `world` ranks,
 * one GPU each (the backend opened BackendOptions.device = the node-local rank), created with
 * ncclCommInitRank from the unique id rank 0 broadcast over MPI, as llm.c does. Every collective is
 * enqueued on the backend's compute stream, so it is ordered after the ops that produced its input
 * and before those that read its output, and then waited for here: the wait polls the stream and
 * NCCL's asynchronous error (a peer that died), and the caller's watchdog bounds it. */
#include <cuda_runtime_api.h>
#include <nccl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend/cuda/cuda.h"
#include "core/dist/dist_internal.h"

_Static_assert(sizeof(ncclUniqueId) == DIST_NCCL_ID_BYTES, "ncclUniqueId is 128 bytes");

struct DistNccl {
    ncclComm_t comm;
    cudaStream_t stream;
    int world;
};

#define NCCL_CHECK(call)                                                                           \
    do {                                                                                           \
        ncclResult_t r_ = (call);                                                                  \
        if (r_ != ncclSuccess)                                                                     \
            clft_die("%s:%d: %s failed: %s (%s)", __FILE__, __LINE__, #call,                       \
                     ncclGetErrorString(r_), ncclGetLastError(NULL));                              \
    } while (0)

int dist_nccl_built(void) { return 1; }

void dist_nccl_unique_id(void *id)
{
    ncclUniqueId u;
    NCCL_CHECK(ncclGetUniqueId(&u));
    memcpy(id, &u, sizeof u);
}

ClftStatus dist_nccl_open(DistNccl **out, const void *id, int rank, int world)
{
    DistNccl *n = xcalloc(1, sizeof *n);
    ncclUniqueId u;
    memcpy(&u, id, sizeof u);
    ncclResult_t r = ncclCommInitRank(&n->comm, world, u, rank);
    if (r != ncclSuccess) {
        clft_set_error("NCCL: ncclCommInitRank (rank %d of %d) failed: %s (%s)", rank, world,
                       ncclGetErrorString(r), ncclGetLastError(NULL));
        free(n);
        return CLFT_ERR_VALUE;
    }
    n->stream = (cudaStream_t)cuda_compute_stream();
    n->world = world;
    *out = n;
    return CLFT_OK;
}

void dist_nccl_close(DistNccl *n)
{
    if (!n) return;
    ncclCommDestroy(n->comm);
    free(n);
}

/* Until the stream has run the collective; NCCL's asynchronous error (a rank died) is fatal. */
static void wait_done(DistNccl *n)
{
    for (;;) {
        cudaError_t e = cudaStreamQuery(n->stream);
        if (e == cudaSuccess) return;
        if (e != cudaErrorNotReady)
            clft_die("NCCL collective: the CUDA stream failed: %s (%s)", cudaGetErrorName(e),
                     cudaGetErrorString(e));
        ncclResult_t async = ncclSuccess;
        NCCL_CHECK(ncclCommGetAsyncError(n->comm, &async));
        if (async != ncclSuccess) {
            ncclCommAbort(n->comm);
            clft_die("NCCL collective failed: %s (a rank died or its network failed)",
                     ncclGetErrorString(async));
        }
        sched_yield();
    }
}

void dist_nccl_allreduce_mean(DistNccl *n, float *x, size_t count)
{
    NCCL_CHECK(ncclAllReduce(x, x, count, ncclFloat32, ncclAvg, n->comm, n->stream));
    wait_done(n);
}

void dist_nccl_allgather(DistNccl *n, float *out, const float *in, size_t count)
{
    NCCL_CHECK(ncclAllGather(in, out, count, ncclFloat32, n->comm, n->stream));
    wait_done(n);
}

void dist_nccl_broadcast(DistNccl *n, void *x, size_t bytes)
{
    NCCL_CHECK(ncclBroadcast(x, x, bytes, ncclUint8, 0, n->comm, n->stream));
    wait_done(n);
}

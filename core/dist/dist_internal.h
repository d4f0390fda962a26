/* dist_internal.h — what the dist implementation files share (private to core/dist/): the NCCL
 * transport's entries, implemented by dist_nccl.c when CUDA and NCCL are built and by
 * dist_nccl_none.c otherwise (CMake chooses; dist_mpi.c calls them without #ifdef). */
#ifndef CLFT_DIST_INTERNAL_H
#define CLFT_DIST_INTERNAL_H

#include <stddef.h>

#include "core/common.h"

#define DIST_NCCL_ID_BYTES 128 /* sizeof(ncclUniqueId) */

typedef struct DistNccl DistNccl;

/* 1 when this build has the NCCL transport. */
int dist_nccl_built(void);
/* A fresh NCCL unique id into id (DIST_NCCL_ID_BYTES; rank 0 only, broadcast over MPI). */
void dist_nccl_unique_id(void *id);
/* Joins the NCCL communicator of `world` ranks named by id, on the CUDA device and compute stream
 * of the opened cuda backend. Blocks until every rank has joined. */
ClftStatus dist_nccl_open(DistNccl **out, const void *id, int rank, int world);
void dist_nccl_close(DistNccl *n);
/* The collectives, enqueued on the backend's stream and waited for (NCCL's asynchronous errors are
 * checked while waiting; the caller's watchdog bounds the wait). Buffers are device memory. */
void dist_nccl_allreduce_mean(DistNccl *n, float *x, size_t count);
void dist_nccl_allgather(DistNccl *n, float *out, const float *in, size_t count);
void dist_nccl_broadcast(DistNccl *n, void *x, size_t bytes);

#endif

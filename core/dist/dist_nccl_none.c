/* dist_nccl_none.c — the NCCL entries of a build without CUDA or NCCL (dist_internal.h): never
 * called: dist_nccl_built() says there is no NCCL, and dist_mpi.c then stages through the host. */
#include "core/dist/dist_internal.h"

int dist_nccl_built(void) { return 0; }
void dist_nccl_unique_id(void *id) { (void)id; }
ClftStatus dist_nccl_open(DistNccl **out, const void *id, int rank, int world)
{
    (void)id, (void)rank, (void)world;
    *out = NULL;
    clft_set_error("this clft was built without NCCL");
    return CLFT_ERR_VALUE;
}
void dist_nccl_close(DistNccl *n) { (void)n; }
void dist_nccl_allreduce_mean(DistNccl *n, float *x, size_t count)
{
    (void)n, (void)x, (void)count;
}
void dist_nccl_allgather(DistNccl *n, float *out, const float *in, size_t count)
{
    (void)n, (void)out, (void)in, (void)count;
}
void dist_nccl_broadcast(DistNccl *n, void *x, size_t bytes) { (void)n, (void)x, (void)bytes; }

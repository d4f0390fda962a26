/* dist_none.c — the dist layer of a build without MPI (CMake links it when no MPI is found): every
 * process is a single one. Started by mpirun as one of several, it refuses to run rather than
 * train R unconnected copies of the same model. */
#include "core/dist/dist.h"

#include <stdlib.h>
#include <string.h>

ClftStatus dist_init(Dist **out, const DistOptions *opt)
{
    (void)opt;
    *out = NULL;
    const char *size = getenv("OMPI_COMM_WORLD_SIZE");
    long n = 1;
    if (!size || parse_int(size, 1, 1 << 20, &n) != CLFT_OK || n == 1) return CLFT_OK;
    clft_set_error("started by mpirun as one of %ld processes, but this clft was built without MPI "
                   "(install libopenmpi-dev and rebuild; CMake's summary says what it found)",
                   n);
    return CLFT_ERR_VALUE;
}

void dist_finalize(Dist *d) { (void)d; }
int dist_rank(const Dist *d) { return (void)d, 0; }
int dist_world(const Dist *d) { return (void)d, 1; }
int dist_local_rank(const Dist *d) { return (void)d, 0; }
double dist_comm_seconds(const Dist *d) { return (void)d, 0.0; }
const char *dist_transport(const Dist *d) { return (void)d, "none"; }
ClftStatus dist_attach(Dist *d, const Backend *be) { return (void)d, (void)be, CLFT_OK; }

/* With no communicator every collective is over one rank: nothing to do. */
void dist_allreduce_mean(Dist *d, float *x, size_t n, const char *what)
{
    (void)d, (void)x, (void)n, (void)what;
}

void dist_allgather(Dist *d, float *out, const float *in, size_t n, const char *what)
{
    (void)d, (void)out, (void)in, (void)n, (void)what;
    ASSERT(!"dist_allgather needs a communicator");
}

void dist_broadcast(Dist *d, void *x, size_t bytes, const char *what)
{
    (void)d, (void)x, (void)bytes, (void)what;
}

void dist_host_allgather(Dist *d, void *out, const void *in, size_t bytes, const char *what)
{
    (void)d, (void)what;
    memcpy(out, in, bytes);
}

void dist_host_broadcast(Dist *d, void *x, size_t bytes, const char *what)
{
    (void)d, (void)x, (void)bytes, (void)what;
}

void dist_host_sum_u64(Dist *d, uint64_t *x, size_t n, const char *what)
{
    (void)d, (void)x, (void)n, (void)what;
}

void dist_barrier(Dist *d, const char *what) { (void)d, (void)what; }

int dist_all_ok(Dist *d, int ok, const char *what) { return (void)d, (void)what, ok; }

const char *dist_summary(void) { return "none (built without MPI: one process only)"; }

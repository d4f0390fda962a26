/* dist_mpi.c — the communicator over Open MPI (see dist.h), chosen by CMake when MPI is found.
 * Host-memory backends use MPI in place; the cuda backend NCCL (dist_nccl.c) when built, else MPI
 * through a host staging buffer. Every collective is timed and bounded by the watchdog thread. */
#include "core/dist/dist.h"

#include <mpi.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "core/dist/dist_internal.h"

/* The MPI library's name and version, from mpi.h's own macros (no MPI call). */
#define DIST_STR_(x) #x
#define DIST_STR(x) DIST_STR_(x)
#ifdef OMPI_MAJOR_VERSION
#define DIST_MPI_NAME                                                                              \
    "MPI (Open MPI " DIST_STR(OMPI_MAJOR_VERSION) "." DIST_STR(OMPI_MINOR_VERSION) "." DIST_STR(  \
        OMPI_RELEASE_VERSION) ")"
#else
#define DIST_MPI_NAME "MPI " DIST_STR(MPI_VERSION) "." DIST_STR(MPI_SUBVERSION)
#endif

typedef enum { TRANSPORT_NONE, TRANSPORT_MPI, TRANSPORT_NCCL, TRANSPORT_STAGED } Transport;

struct Dist {
    int rank, world, local_rank;
    double timeout_s;
    const Backend *be;
    Transport transport;
    DistNccl *nccl;
    void *stage; /* host staging buffer (TRANSPORT_STAGED), stage_bytes long */
    size_t stage_bytes;
    double comm_s; /* time inside collectives */
    double t_enter;
    /* The watchdog: a collective sets `deadline` (clft_now() seconds, 0 = none) and `what`. */
    pthread_t watchdog, main_thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    double deadline;
    const char *what;
    int stop;
};

static Dist *the_dist; /* for the clft_die hook: one communicator per process */

#define MPI_CHECK(call)                                                                            \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != MPI_SUCCESS) {                                                                  \
            char why_[MPI_MAX_ERROR_STRING];                                                       \
            int len_ = 0;                                                                          \
            MPI_Error_string(rc_, why_, &len_);                                                    \
            clft_die("%s:%d: %s failed: %s", __FILE__, __LINE__, #call, why_);                     \
        }                                                                                          \
    } while (0)

/* clft_die on a rank: one line naming it, then every rank is stopped. Ranks > 0 wait first, so an
 * error every rank meets is reported once, by rank 0 (whose abort ends them while they wait). */
static void die_hook(const char *msg)
{
    Dist *d = the_dist;
    if (d->rank > 0) {
        struct timespec t = {(time_t)DIST_REPORT_DELAY_S, 0};
        nanosleep(&t, NULL);
    }
    fprintf(stderr, "clft: rank %d of %d: %s\n", d->rank, d->world, msg);
    fflush(stderr);
    /* MPI may be called only from the thread that initialised it (MPI_THREAD_FUNNELED); from any
     * other thread a non-zero exit is the signal: mpirun then stops every rank. */
    if (pthread_equal(pthread_self(), d->main_thread)) MPI_Abort(MPI_COMM_WORLD, 1);
    _exit(1);
}

static void *watchdog_main(void *arg)
{
    Dist *d = arg;
    pthread_mutex_lock(&d->mu);
    while (!d->stop) {
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        t.tv_sec += 1;
        pthread_cond_timedwait(&d->cv, &d->mu, &t);
        if (d->deadline > 0 && clft_now() > d->deadline) {
            char others[64];
            if (d->world == 2) snprintf(others, sizeof others, "rank %d", 1 - d->rank);
            else snprintf(others, sizeof others, "one of the other %d ranks", d->world - 1);
            fprintf(stderr,
                    "clft: rank %d of %d: %s waited %.0f s for %s, which hangs or died; stopping "
                    "every rank\n",
                    d->rank, d->world, d->what, d->timeout_s, others);
            fflush(stderr);
            _exit(1); /* not MPI_Abort: this is not MPI's thread (see die_hook) */
        }
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

static void enter(Dist *d, const char *what)
{
    pthread_mutex_lock(&d->mu);
    d->t_enter = clft_now();
    d->deadline = d->t_enter + d->timeout_s;
    d->what = what;
    pthread_mutex_unlock(&d->mu);
}

static void leave(Dist *d)
{
    pthread_mutex_lock(&d->mu);
    d->deadline = 0;
    d->comm_s += clft_now() - d->t_enter;
    pthread_mutex_unlock(&d->mu);
}

/* The local rank: rank among the processes that share this node's memory. */
static int node_rank(void)
{
    MPI_Comm node;
    int r = 0;
    MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
    MPI_CHECK(MPI_Comm_rank(node, &r));
    MPI_CHECK(MPI_Comm_free(&node));
    return r;
}

ClftStatus dist_init(Dist **out, const DistOptions *opt)
{
    *out = NULL;
    const char *size = getenv("OMPI_COMM_WORLD_SIZE");
    long n = 1;
    if (!size || parse_int(size, 1, 1 << 20, &n) != CLFT_OK) return CLFT_OK;
    const char *force = getenv("CLFT_DIST_FORCE"); /* tests: a communicator even under -np 1 */
    if (n == 1 && !(force && !strcmp(force, "1"))) return CLFT_OK;
    int provided = 0;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        clft_set_error("MPI_Init_thread failed (started by mpirun as one of %ld processes)", n);
        return CLFT_ERR_VALUE;
    }
    Dist *d = xcalloc(1, sizeof *d);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &d->rank));
    MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &d->world));
    d->local_rank = node_rank();
    d->timeout_s = opt && opt->timeout_s > 0 ? opt->timeout_s : DIST_TIMEOUT_DEFAULT_S;
    d->main_thread = pthread_self();
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    if (pthread_create(&d->watchdog, NULL, watchdog_main, d) != 0)
        clft_die("dist: cannot start the watchdog thread");
    the_dist = d;
    clft_set_die_hook(die_hook);
    *out = d;
    return CLFT_OK;
}

void dist_finalize(Dist *d)
{
    if (!d) return;
    pthread_mutex_lock(&d->mu);
    d->stop = 1;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    pthread_join(d->watchdog, NULL);
    if (d->nccl) dist_nccl_close(d->nccl);
    MPI_Finalize();
    clft_set_die_hook(NULL);
    the_dist = NULL;
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cv);
    free(d->stage);
    free(d);
}

int dist_rank(const Dist *d) { return d ? d->rank : 0; }
int dist_world(const Dist *d) { return d ? d->world : 1; }
int dist_local_rank(const Dist *d) { return d ? d->local_rank : 0; }
double dist_comm_seconds(const Dist *d) { return d ? d->comm_s : 0.0; }

const char *dist_transport(const Dist *d)
{
    static const char *const names[] = {"none", "mpi", "nccl", "mpi-staged"};
    return d ? names[d->transport] : "none";
}

ClftStatus dist_attach(Dist *d, const Backend *be)
{
    if (!d) return CLFT_OK;
    d->be = be;
    if (be->host_memory) {
        d->transport = TRANSPORT_MPI;
        return CLFT_OK;
    }
    if (!strcmp(be->name, "cuda") && dist_nccl_built()) {
        unsigned char id[DIST_NCCL_ID_BYTES];
        if (d->rank == 0) dist_nccl_unique_id(id);
        dist_host_broadcast(d, id, sizeof id, "the NCCL id broadcast");
        enter(d, "joining the NCCL communicator");
        ClftStatus st = dist_nccl_open(&d->nccl, id, d->rank, d->world);
        leave(d);
        if (st != CLFT_OK) return st;
        d->transport = TRANSPORT_NCCL;
        return CLFT_OK;
    }
    d->transport = TRANSPORT_STAGED;
    return CLFT_OK;
}

/* A host buffer of at least `bytes` for the staged transport. */
static void *stage(Dist *d, size_t bytes)
{
    if (bytes > d->stage_bytes) {
        free(d->stage);
        d->stage = xmalloc(bytes);
        d->stage_bytes = bytes;
    }
    return d->stage;
}

/* MPI counts are int: sums and broadcasts go in chunks of at most this many elements. */
#define MPI_CHUNK ((size_t)1 << 30)

static void mpi_sum_floats(float *x, size_t n)
{
    for (size_t i = 0; i < n; i += MPI_CHUNK) {
        size_t c = n - i < MPI_CHUNK ? n - i : MPI_CHUNK;
        MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, x + i, (int)c, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD));
    }
}

static void mpi_bcast_bytes(void *x, size_t bytes)
{
    for (size_t i = 0; i < bytes; i += MPI_CHUNK) {
        size_t c = bytes - i < MPI_CHUNK ? bytes - i : MPI_CHUNK;
        MPI_CHECK(MPI_Bcast((char *)x + i, (int)c, MPI_BYTE, 0, MPI_COMM_WORLD));
    }
}

static void mpi_allgather_floats(float *out, const float *in, size_t n, int world)
{
    ASSERT(n * (size_t)world <= (size_t)2147483647);
    MPI_CHECK(MPI_Allgather(in, (int)n, MPI_FLOAT, out, (int)n, MPI_FLOAT, MPI_COMM_WORLD));
}

/* x /= R on host memory (the sum of R ranks' values into their mean). */
static void divide(float *x, size_t n, int R)
{
    const float r = (float)R;
    for (size_t i = 0; i < n; i++) x[i] /= r;
}

void dist_allreduce_mean(Dist *d, float *x, size_t n, const char *what)
{
    if (!d || n == 0) return;
    enter(d, what);
    if (d->transport == TRANSPORT_NCCL) {
        dist_nccl_allreduce_mean(d->nccl, x, n);
    } else if (d->transport == TRANSPORT_STAGED) {
        float *h = stage(d, n * sizeof(float));
        d->be->download(h, x, n * sizeof(float));
        mpi_sum_floats(h, n);
        divide(h, n, d->world);
        d->be->upload(x, h, n * sizeof(float));
    } else {
        mpi_sum_floats(x, n);
        divide(x, n, d->world);
    }
    leave(d);
}

void dist_allgather(Dist *d, float *out, const float *in, size_t n, const char *what)
{
    ASSERT(d); /* one process has nothing to gather: its callers copy */
    enter(d, what);
    if (d->transport == TRANSPORT_NCCL) {
        dist_nccl_allgather(d->nccl, out, in, n);
    } else if (d->transport == TRANSPORT_STAGED) {
        float *h = stage(d, (size_t)(d->world + 1) * n * sizeof(float));
        d->be->download(h, in, n * sizeof(float));
        mpi_allgather_floats(h + n, h, n, d->world);
        d->be->upload(out, h + n, (size_t)d->world * n * sizeof(float));
    } else {
        mpi_allgather_floats(out, in, n, d->world);
    }
    leave(d);
}

void dist_broadcast(Dist *d, void *x, size_t bytes, const char *what)
{
    if (!d || bytes == 0) return;
    enter(d, what);
    if (d->transport == TRANSPORT_NCCL) {
        dist_nccl_broadcast(d->nccl, x, bytes);
    } else if (d->transport == TRANSPORT_STAGED) {
        void *h = stage(d, bytes);
        if (d->rank == 0) d->be->download(h, x, bytes);
        mpi_bcast_bytes(h, bytes);
        if (d->rank != 0) d->be->upload(x, h, bytes);
    } else {
        mpi_bcast_bytes(x, bytes);
    }
    leave(d);
}

void dist_host_allgather(Dist *d, void *out, const void *in, size_t bytes, const char *what)
{
    if (!d) {
        memcpy(out, in, bytes);
        return;
    }
    ASSERT(bytes * (size_t)d->world <= (size_t)2147483647);
    enter(d, what);
    MPI_CHECK(MPI_Allgather(in, (int)bytes, MPI_BYTE, out, (int)bytes, MPI_BYTE, MPI_COMM_WORLD));
    leave(d);
}

void dist_host_broadcast(Dist *d, void *x, size_t bytes, const char *what)
{
    if (!d) return;
    enter(d, what);
    mpi_bcast_bytes(x, bytes);
    leave(d);
}

void dist_host_sum_u64(Dist *d, uint64_t *x, size_t n, const char *what)
{
    if (!d) return;
    ASSERT(n <= (size_t)2147483647);
    enter(d, what);
    MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, x, (int)n, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD));
    leave(d);
}

void dist_barrier(Dist *d, const char *what)
{
    if (!d) return;
    enter(d, what);
    MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD));
    leave(d);
}

int dist_all_ok(Dist *d, int ok, const char *what)
{
    if (!d) return ok;
    int *all = xmalloc((size_t)d->world * sizeof(int));
    dist_host_allgather(d, all, &ok, sizeof ok, what);
    int first = -1;
    for (int r = d->world - 1; r >= 0; r--)
        if (!all[r]) first = r;
    free(all);
    if (first < 0) return 1;
    if (first == d->rank) return 0;
    /* Rank `first` reports and aborts the job; its abort ends this process while it sleeps. */
    char what_wait[96];
    snprintf(what_wait, sizeof what_wait, "waiting for rank %d to report its error", first);
    enter(d, what_wait);
    for (;;) pause();
}

const char *dist_summary(void)
{
    static char line[160];
    snprintf(line, sizeof line, "%s%s: mpirun -np N clft pretrain ...", DIST_MPI_NAME,
             dist_nccl_built() ? " + NCCL for cuda ranks" : "");
    return line;
}

/* blas.c — see blas.h. */
#include "core/backend/blas.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* openblas_config.h declares these, but only in some packagings; declare what we use. */
char *openblas_get_corename(void);
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);

static int name_in(const char *name, const char *const *list)
{
    for (int i = 0; list[i]; i++)
        if (strcasecmp(name, list[i]) == 0) return 1;
    return 0;
}

/* The core clft asks for, or NULL when OpenBLAS's own choice is already the best correct one. */
static const char *better_core(const char *current)
{
    static const char *const avx512_cores[] = {"skylakex", "cooperlake", "sapphirerapids", NULL};
    static const char *const avx2_cores[] = {"haswell", "zen", "skylakex", "cooperlake",
                                             "sapphirerapids", NULL};
    __builtin_cpu_init();
    int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                 __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (avx512 && !name_in(current, avx512_cores)) return "SkylakeX";
    if (!avx512 && avx2 && !name_in(current, avx2_cores)) return "Haswell";
    return NULL;
}

void blas_setup(char **argv)
{
    if (getenv("OPENBLAS_CORETYPE")) return;
    const char *off = getenv("CLFT_BLAS_AUTO");
    if (off && strcmp(off, "0") == 0) return;
    const char *want = better_core(openblas_get_corename());
    if (!want || !argv) return;
    /* Remember what OpenBLAS chose by itself, for blas_core_origin() in the new process. */
    setenv("CLFT_BLAS_UPGRADED_FROM", openblas_get_corename(), 1);
    setenv("OPENBLAS_CORETYPE", want, 1);
    execv("/proc/self/exe", argv);
    /* exec failed (no /proc): carry on with the slower kernels, but say so. */
    fprintf(stderr, "clft: warning: could not re-exec to select OpenBLAS core %s; running %s\n", want,
            openblas_get_corename());
    unsetenv("CLFT_BLAS_UPGRADED_FROM");
}

const char *blas_core_name(void) { return openblas_get_corename(); }

const char *blas_core_origin(void)
{
    static char buf[128];
    const char *from = getenv("CLFT_BLAS_UPGRADED_FROM");
    if (from) {
        snprintf(buf, sizeof buf, "upgraded by clft from %s", from);
        return buf;
    }
    if (getenv("OPENBLAS_CORETYPE")) return "OPENBLAS_CORETYPE from the environment";
    return "auto-detected by OpenBLAS";
}

void blas_set_threads(int n)
{
    openblas_set_num_threads(n);
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
}

int blas_get_threads(void) { return openblas_get_num_threads(); }

/* blas.h — choosing and reporting the OpenBLAS kernel set.
 *
 * Debian's OpenBLAS 0.3.21 (DYNAMIC_ARCH) does not recognise some recent CPUs and falls back to its
 * Prescott kernels, several times below the machine's sgemm peak. OpenBLAS picks its kernels once,
 * in its library constructor, from OPENBLAS_CORETYPE; so blas_setup() — the first call of every
 * main() — checks the CPU's features against the core OpenBLAS chose and, when OpenBLAS chose an
 * older core than the CPU supports, re-executes the program once with OPENBLAS_CORETYPE set to the
 * best correct core (SkylakeX for AVX-512, Haswell for AVX2+FMA). A user's own OPENBLAS_CORETYPE is
 * always respected. CLFT_BLAS_AUTO=0 turns the re-exec off.
 */
#ifndef CLFT_BLAS_H
#define CLFT_BLAS_H

void blas_setup(char **argv);
/* The kernel set OpenBLAS runs, as it names it ("Cooperlake", "SkylakeX", "Haswell", ...). */
const char *blas_core_name(void);
/* How the core was chosen: "auto-detected", "OPENBLAS_CORETYPE from the environment" or
 * "upgraded by clft from <old>". */
const char *blas_core_origin(void);
/* OpenBLAS's threads and the layers' OpenMP threads (nn_threads()); call it before building models. */
void blas_set_threads(int n);
int blas_get_threads(void);

#endif

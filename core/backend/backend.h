/* backend.h — the backend table: one function pointer per layer operation of core/nn/nn.h, with the
 * same names (without a suffix) and identical signatures, chosen once at run time by name
 * (`--device cpu|cuda`). Model code calls be->conv2d_forward(...) and never names a backend.
 * Reference: ggml's backend interface (a struct of function pointers looked up by name).
 *
 * Buffers passed to a backend live where that backend computes (host memory for "cpu").
 */
#ifndef CLFT_BACKEND_H
#define CLFT_BACKEND_H

#include "core/nn/nn.h"

typedef struct Backend {
    const char *name;
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
    void (*add_inplace)(float *y, const float *x, size_t n);
} Backend;

/* The CPU table: the functions of core/nn (im2col + OpenBLAS sgemm). */
extern const Backend backend_cpu;

/* The backend called `name` ("cpu", later "cuda"), or NULL when none of that name is built. */
const Backend *backend_find(const char *name);

#endif

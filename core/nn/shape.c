/* shape.c — layer shape arithmetic (output sizes, the CPU thread count the shapes are planned
 * for); see nn.h. The kernels themselves are backend ops (core/backend/). */
#include "core/common.h"
#include "core/nn/nn.h"

#ifdef _OPENMP
#include <omp.h>
#endif

int nn_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

int conv2d_shape(ConvShape *s)
{
    if (s->N < 1 || s->C_in < 1 || s->H < 1 || s->W < 1 || s->C_out < 1 || s->KH < 1 || s->KW < 1 ||
        s->stride < 1 || s->pad < 0 || s->H + 2 * s->pad < s->KH || s->W + 2 * s->pad < s->KW) {
        clft_set_error("conv2d: impossible shape: input (%d,%d,%d,%d), weight (%d,%d,%d,%d), "
                       "stride %d, pad %d",
                       s->N, s->C_in, s->H, s->W, s->C_out, s->C_in, s->KH, s->KW, s->stride,
                       s->pad);
        return -1;
    }
    s->H_out = (s->H + 2 * s->pad - s->KH) / s->stride + 1;
    s->threads = nn_threads();
    s->W_out = (s->W + 2 * s->pad - s->KW) / s->stride + 1;
    return 0;
}

int maxpool_shape(PoolShape *s)
{
    if (s->N < 1 || s->C < 1 || s->H < 1 || s->W < 1 || s->k < 1 || s->stride < 1 || s->pad < 0 ||
        2 * s->pad > s->k || s->H + 2 * s->pad < s->k || s->W + 2 * s->pad < s->k) {
        clft_set_error(
            "maxpool: impossible shape: input (%d,%d,%d,%d), kernel %d, stride %d, pad %d", s->N,
            s->C, s->H, s->W, s->k, s->stride, s->pad);
        return -1;
    }
    s->H_out = (s->H + 2 * s->pad - s->k) / s->stride + 1;
    s->W_out = (s->W + 2 * s->pad - s->k) / s->stride + 1;
    return 0;
}

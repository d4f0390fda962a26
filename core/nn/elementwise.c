/* elementwise.c — relu, row-wise L2 normalisation and the residual add.
 *
 * Reference: torch.relu (gradient 0 at 0: din += dout where out > 0), torch.nn.functional.normalize
 * (x / max(||x||₂, eps), eps = 1e-12; below eps the divisor is the constant eps).
 */
#include <math.h>

#include "core/nn/nn.h"

#define L2NORM_EPS 1e-12

void relu_forward(float *out, const float *in, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

void relu_backward(float *din, const float *dout, const float *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        din[i] += out[i] > 0.0f ? dout[i] : 0.0f;
}

void l2norm_forward(float *out, float *norm, const float *in, int N, int D)
{
    for (int n = 0; n < N; n++) {
        const float *x = in + (size_t)n * D; /* (D) */
        double sq = 0.0;
        for (int d = 0; d < D; d++)
            sq += (double)x[d] * x[d];
        double r = sqrt(sq);
        if (r < L2NORM_EPS) r = L2NORM_EPS;
        norm[n] = (float)r;
        for (int d = 0; d < D; d++)
            out[(size_t)n * D + d] = (float)(x[d] / r);
    }
}

/* Above eps: d(x/r) = (dy - y (y·dy)) / r. Clamped at eps: r is a constant, so din = dy / eps. */
void l2norm_backward(float *din, const float *dout, const float *out, const float *norm, int N,
                     int D)
{
    for (int n = 0; n < N; n++) {
        const float *y = out + (size_t)n * D, *dy = dout + (size_t)n * D; /* (D) */
        float *dx = din + (size_t)n * D;
        const double r = norm[n];
        double dot = 0.0;
        if (norm[n] > (float)L2NORM_EPS) /* compare in float: norm[] holds the float of eps */
            for (int d = 0; d < D; d++)
                dot += (double)y[d] * dy[d];
        for (int d = 0; d < D; d++)
            dx[d] += (float)((dy[d] - y[d] * dot) / r);
    }
}

void add_inplace(float *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] += x[i];
}

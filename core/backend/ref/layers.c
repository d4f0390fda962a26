/* layers.c — the reference layer kernels: direct loops with double accumulation, written from the
 * formulas in core/nn/nn.h (PyTorch's definitions) and nothing else. They are the spec the fast CPU
 * kernels and every other backend are tested against (tests/test_backend_parity.c). */
#include <math.h>
#include <string.h>

#include "core/backend/ref/ref.h"

size_t conv2d_workspace_floats_ref(const ConvShape *s)
{
    (void)s;
    return 0;
}

static size_t in_at(const ConvShape *s, int n, int c, int h, int w)
{
    return (((size_t)n * s->C_in + c) * s->H + h) * s->W + w;
}

static size_t w_at(const ConvShape *s, int co, int ci, int kh, int kw)
{
    return (((size_t)co * s->C_in + ci) * s->KH + kh) * s->KW + kw;
}

void conv2d_forward_ref(float *out, const float *in, const float *weight, const ConvShape *s,
                        float *ws)
{
    (void)ws;
    const int Ho = s->H_out, Wo = s->W_out;
    for (int n = 0; n < s->N; n++)
        for (int co = 0; co < s->C_out; co++)
            for (int oh = 0; oh < Ho; oh++)
                for (int ow = 0; ow < Wo; ow++) {
                    double acc = 0.0;
                    for (int ci = 0; ci < s->C_in; ci++)
                        for (int kh = 0; kh < s->KH; kh++)
                            for (int kw = 0; kw < s->KW; kw++) {
                                int ih = oh * s->stride - s->pad + kh;
                                int iw = ow * s->stride - s->pad + kw;
                                if (ih < 0 || ih >= s->H || iw < 0 || iw >= s->W) continue;
                                acc += (double)in[in_at(s, n, ci, ih, iw)] *
                                       weight[w_at(s, co, ci, kh, kw)];
                            }
                    out[(((size_t)n * s->C_out + co) * Ho + oh) * Wo + ow] = (float)acc;
                }
}

void conv2d_backward_ref(float *din, float *dweight, const float *dout, const float *in,
                         const float *weight, const ConvShape *s, float *ws)
{
    (void)ws;
    const int Ho = s->H_out, Wo = s->W_out;
    if (din && s->din_set) memset(din, 0, (size_t)s->N * s->C_in * s->H * s->W * sizeof(float));
    for (int n = 0; n < s->N; n++)
        for (int co = 0; co < s->C_out; co++)
            for (int oh = 0; oh < Ho; oh++)
                for (int ow = 0; ow < Wo; ow++) {
                    float g = dout[(((size_t)n * s->C_out + co) * Ho + oh) * Wo + ow];
                    for (int ci = 0; ci < s->C_in; ci++)
                        for (int kh = 0; kh < s->KH; kh++)
                            for (int kw = 0; kw < s->KW; kw++) {
                                int ih = oh * s->stride - s->pad + kh;
                                int iw = ow * s->stride - s->pad + kw;
                                if (ih < 0 || ih >= s->H || iw < 0 || iw >= s->W) continue;
                                size_t ii = in_at(s, n, ci, ih, iw), wi = w_at(s, co, ci, kh, kw);
                                dweight[wi] += g * in[ii];
                                if (din) din[ii] += g * weight[wi];
                            }
                }
}

/* x[n, c, i] of an (N, C, HW) tensor */
#define AT(x, n, c, i) (x)[((size_t)(n) * C + (c)) * HW + (i)]

void batchnorm_forward_ref(float *out, float *save_mean, float *save_rstd, const float *in,
                           const float *gamma, const float *beta, float *running_mean,
                           float *running_var, const BnShape *s, BnMode mode)
{
    const int C = s->C, HW = s->HW, G = s->groups, ng = s->N / G;
    const double M = (double)ng * HW;
    for (int c = 0; c < C; c++) {
        double mean_sum = 0.0, uvar_sum = 0.0;
        for (int g = 0; g < G; g++) {
            double mean, var;
            if (mode == BN_TRAIN) {
                double sum = 0.0, sq = 0.0;
                for (int n = g * ng; n < (g + 1) * ng; n++)
                    for (int i = 0; i < HW; i++) sum += AT(in, n, c, i);
                mean = sum / M;
                for (int n = g * ng; n < (g + 1) * ng; n++)
                    for (int i = 0; i < HW; i++) sq += (AT(in, n, c, i) - mean) * (AT(in, n, c, i) - mean);
                var = sq / M;
                mean_sum += mean;
                uvar_sum += sq / (M - 1.0);
            } else {
                mean = running_mean[c];
                var = running_var[c];
            }
            const double rstd = 1.0 / sqrt(var + s->eps);
            save_mean[g * C + c] = (float)mean;
            save_rstd[g * C + c] = (float)rstd;
            for (int n = g * ng; n < (g + 1) * ng; n++)
                for (int i = 0; i < HW; i++) {
                    double y = (AT(in, n, c, i) - mean) * rstd * gamma[c] + beta[c];
                    AT(out, n, c, i) = (float)(s->relu && y < 0.0 ? 0.0 : y);
                }
        }
        if (mode == BN_TRAIN) {
            running_mean[c] = (float)((1.0 - s->momentum) * running_mean[c] + s->momentum * mean_sum / G);
            running_var[c] = (float)((1.0 - s->momentum) * running_var[c] + s->momentum * uvar_sum / G);
        }
    }
}

void batchnorm_backward_ref(float *din, float *dgamma, float *dbeta, const float *dout,
                            const float *in, const float *save_mean, const float *save_rstd,
                            const float *gamma, const float *out, const BnShape *s, BnMode mode)
{
    const int C = s->C, HW = s->HW, G = s->groups, ng = s->N / G;
    const double M = (double)ng * HW;
    for (int c = 0; c < C; c++)
        for (int g = 0; g < G; g++) {
            const double mean = save_mean[g * C + c], rstd = save_rstd[g * C + c];
            double sg = 0.0, sgx = 0.0; /* Σ g and Σ g x̂ */
            for (int n = g * ng; n < (g + 1) * ng; n++)
                for (int i = 0; i < HW; i++) {
                    double gr = s->relu && !(AT(out, n, c, i) > 0.0f) ? 0.0 : AT(dout, n, c, i);
                    sg += gr;
                    sgx += gr * (AT(in, n, c, i) - mean) * rstd;
                }
            dbeta[c] += (float)sg;
            dgamma[c] += (float)sgx;
            if (!din) continue;
            for (int n = g * ng; n < (g + 1) * ng; n++)
                for (int i = 0; i < HW; i++) {
                    double gr = s->relu && !(AT(out, n, c, i) > 0.0f) ? 0.0 : AT(dout, n, c, i);
                    double xh = (AT(in, n, c, i) - mean) * rstd;
                    double d = mode == BN_TRAIN ? gamma[c] * rstd * (gr - sg / M - xh * sgx / M)
                                                : gamma[c] * rstd * gr;
                    AT(din, n, c, i) = (float)(s->din_set ? d : AT(din, n, c, i) + d);
                }
        }
}
#undef AT

void relu_forward_ref(float *out, const float *in, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

void relu_backward_ref(float *din, const float *dout, const float *out, size_t n)
{
    for (size_t i = 0; i < n; i++) din[i] += out[i] > 0.0f ? dout[i] : 0.0f;
}

void maxpool_forward_ref(float *out, int *argmax, const float *in, const PoolShape *s)
{
    const int H = s->H, W = s->W, Ho = s->H_out, Wo = s->W_out;
    for (size_t p = 0; p < (size_t)s->N * s->C; p++)
        for (int oh = 0; oh < Ho; oh++)
            for (int ow = 0; ow < Wo; ow++) {
                float best = 0.0f;
                int arg = -1;
                for (int kh = 0; kh < s->k; kh++)
                    for (int kw = 0; kw < s->k; kw++) {
                        int ih = oh * s->stride - s->pad + kh, iw = ow * s->stride - s->pad + kw;
                        if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue; /* −inf padding */
                        float v = in[p * H * W + (size_t)ih * W + iw];
                        if (arg < 0 || v > best || isnan(v)) best = v, arg = ih * W + iw;
                    }
                out[(p * Ho + oh) * Wo + ow] = best;
                argmax[(p * Ho + oh) * Wo + ow] = arg;
            }
}

void maxpool_backward_ref(float *din, const float *dout, const int *argmax, const PoolShape *s)
{
    const size_t plane = (size_t)s->H * s->W, oplane = (size_t)s->H_out * s->W_out;
    for (size_t p = 0; p < (size_t)s->N * s->C; p++)
        for (size_t o = 0; o < oplane; o++) din[p * plane + argmax[p * oplane + o]] += dout[p * oplane + o];
}

void avgpool_forward_ref(float *out, const float *in, int N, int C, int HW)
{
    for (size_t p = 0; p < (size_t)N * C; p++) {
        double sum = 0.0;
        for (int i = 0; i < HW; i++) sum += in[p * HW + i];
        out[p] = (float)(sum / HW);
    }
}

void avgpool_backward_ref(float *din, const float *dout, int N, int C, int HW)
{
    for (size_t p = 0; p < (size_t)N * C; p++)
        for (int i = 0; i < HW; i++) din[p * HW + i] += (float)((double)dout[p] / HW);
}

void linear_forward_ref(float *out, const float *in, const float *weight, const float *bias, int N,
                        int D_in, int D_out)
{
    for (int n = 0; n < N; n++)
        for (int o = 0; o < D_out; o++) {
            double acc = bias ? bias[o] : 0.0;
            for (int i = 0; i < D_in; i++) acc += (double)in[(size_t)n * D_in + i] * weight[(size_t)o * D_in + i];
            out[(size_t)n * D_out + o] = (float)acc;
        }
}

void linear_backward_ref(float *din, float *dweight, float *dbias, const float *dout,
                         const float *in, const float *weight, int N, int D_in, int D_out)
{
    for (int o = 0; o < D_out; o++) {
        double db = 0.0;
        for (int n = 0; n < N; n++) db += dout[(size_t)n * D_out + o];
        if (dbias) dbias[o] += (float)db;
        for (int i = 0; i < D_in; i++) {
            double dw = 0.0;
            for (int n = 0; n < N; n++) dw += (double)dout[(size_t)n * D_out + o] * in[(size_t)n * D_in + i];
            dweight[(size_t)o * D_in + i] += (float)dw;
        }
    }
    if (!din) return;
    for (int n = 0; n < N; n++)
        for (int i = 0; i < D_in; i++) {
            double acc = 0.0;
            for (int o = 0; o < D_out; o++) acc += (double)dout[(size_t)n * D_out + o] * weight[(size_t)o * D_in + i];
            din[(size_t)n * D_in + i] += (float)acc;
        }
}

void l2norm_forward_ref(float *out, float *norm, const float *in, int N, int D)
{
    for (int n = 0; n < N; n++) {
        double sq = 0.0;
        for (int d = 0; d < D; d++) sq += (double)in[(size_t)n * D + d] * in[(size_t)n * D + d];
        double r = sqrt(sq) > 1e-12 ? sqrt(sq) : 1e-12;
        norm[n] = (float)r;
        for (int d = 0; d < D; d++) out[(size_t)n * D + d] = (float)(in[(size_t)n * D + d] / r);
    }
}

void l2norm_backward_ref(float *din, const float *dout, const float *out, const float *norm, int N,
                         int D)
{
    for (int n = 0; n < N; n++) {
        const float *y = out + (size_t)n * D, *dy = dout + (size_t)n * D;
        double dot = 0.0;
        if (norm[n] > (float)1e-12) /* clamped at eps, the norm is a constant */
            for (int d = 0; d < D; d++) dot += (double)y[d] * dy[d];
        for (int d = 0; d < D; d++) din[(size_t)n * D + d] += (float)((dy[d] - y[d] * dot) / norm[n]);
    }
}

void add_relu_forward_ref(float *y, const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i] > 0.0f ? a[i] + b[i] : 0.0f;
}

void add_relu_backward_ref(float *da, float *db, const float *dout, const float *out, size_t n,
                           int set_a, int set_b)
{
    for (size_t i = 0; i < n; i++) {
        const float g = out[i] > 0.0f ? dout[i] : 0.0f;
        da[i] = set_a ? g : da[i] + g;
        db[i] = set_b ? g : db[i] + g;
    }
}

void add_inplace_ref(float *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}

void zero_ref(float *y, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = 0.0f;
}

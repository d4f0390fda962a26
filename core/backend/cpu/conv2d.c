/* conv2d.c — 2-D convolution (no bias), forward and backward, as torch.nn.functional.conv2d.
 *
 * Reference: PyTorch conv2d docs (output size floor((H + 2 pad - KH) / stride) + 1,
 * cross-correlation, weight (C_out, C_in, KH, KW)); the im2col + GEMM formulation of Chellapilla et
 * al. 2006.
 *
 * A chunk of B images is unfolded side by side into one column matrix col (C_in*KH*KW, B*HWo) so
 * that the GEMMs of small feature maps (ResNet's last stages: 4x4, 8x8) are wide enough to run near
 * sgemm peak; B is a function of the shape only (conv_chunk), so the workspace size is too.
 *   forward:        out_b (C_out, B*HWo)  = W (C_out, CKK) · col (CKK, B*HWo)
 *   backward data:  dcol (CKK, B*HWo)     = Wᵀ · dout_b,   then col2im adds dcol into din
 *   backward weight: dW (C_out, CKK)     += dout_b · colᵀ  (sgemm with beta = 1)
 * A 1x1, stride-1, unpadded convolution with B = 1 uses the input itself as its column matrix.
 * Threads (s->threads, set by conv2d_shape from nn_threads()): the batch is split statically into
 * T equal image ranges; each thread unfolds and multiplies its own chunks with a single-threaded
 * sgemm (OpenBLAS's pool is set to 1 thread for the duration), so im2col/col2im and the layout
 * copies run in parallel and the narrow GEMMs (C_out = 32, 64) are not split again. dW: thread 0
 * accumulates into dweight, the others into private partials added afterwards in thread order.
 * Workspace, per thread: col (CKK, B*HWo); when B > 1, a (C_out, B*HWo) buffer for out_b / dout_b;
 * when T > 1, a (C_out, CKK) dW partial.
 */
#include <cblas.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#else
static int omp_get_thread_num(void)
{
    return 0;
}
#endif

#include "core/backend/blas.h"
#include "core/backend/cpu/im2col.h"
#include "core/common.h"
#include "core/backend/cpu/cpu.h"
#include "core/nn/nn.h"

/* Target number of GEMM columns per chunk: OpenBLAS's sgemm with very few columns runs well under
 * peak (a (512 x 4608) weight times a 4x4 map per image is 16 columns), while a column matrix that
 * outgrows the core's L2 cache makes im2col/col2im and the GEMM stream it from memory. Measured on
 * the 2-core EPYC (bench_moco --child, 2 threads, batch 256; median of 4 rounds): 256 columns gave
 * mini 604 img/s against 598 for 512 and 565 for 1024, mini32 296 against 288 / 270, resnet18 30.5
 * against 30.3 / 29.4. Override with -DCONV_TARGET_COLS=... (the workspace size follows). */
#ifndef CONV_TARGET_COLS
#define CONV_TARGET_COLS 256
#endif


/* Images per GEMM: enough to reach CONV_TARGET_COLS columns, at most N. */
static int conv_chunk(const ConvShape *s)
{
    int hw = s->H_out * s->W_out;
    int b = (CONV_TARGET_COLS + hw - 1) / hw;
    return b < s->N ? b : s->N;
}

static int conv_is_pointwise(const ConvShape *s)
{
    return s->KH == 1 && s->KW == 1 && s->stride == 1 && s->pad == 0;
}

/* Floats of one thread's slice of the workspace: col, obuf (B > 1), and (threads > 1) a private
 * dW partial (C_out, CKK) for backward. */
static size_t conv_dw_offset(const ConvShape *s)
{
    size_t b = (size_t)conv_chunk(s), hwo = (size_t)s->H_out * s->W_out;
    size_t n = (size_t)s->C_in * s->KH * s->KW * b * hwo;
    if (b > 1) n += (size_t)s->C_out * b * hwo;
    return n;
}

static size_t conv_thread_floats(const ConvShape *s)
{
    size_t n = conv_dw_offset(s);
    if (s->threads > 1) n += (size_t)s->C_out * s->C_in * s->KH * s->KW;
    return (n + 15) & ~(size_t)15; /* keep every thread's slice 64-byte aligned */
}

size_t conv2d_workspace_floats_cpu(const ConvShape *s)
{
    ASSERT(s->threads >= 1);
    return (size_t)s->threads * conv_thread_floats(s);
}

/* Per-image (C_out, HWo) blocks <-> one (C_out, B*HWo) matrix. */
static void chunk_gather(float *dst, const float *src, int B, int C, int hwo)
{
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            memcpy(dst + ((size_t)c * B + b) * hwo, src + ((size_t)b * C + c) * hwo,
                   sizeof(float) * (size_t)hwo);
}

static void chunk_scatter(float *dst, const float *src, int B, int C, int hwo)
{
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            memcpy(dst + ((size_t)b * C + c) * hwo, src + ((size_t)c * B + b) * hwo,
                   sizeof(float) * (size_t)hwo);
}

/* The static split: thread t of T owns images [lo, hi), an equal share (±1) of the batch, cut into
 * the fewest chunks of at most B images, of equal size (±1); the split depends only on the shape
 * and T. */
static void thread_images(const ConvShape *s, int t, int *lo, int *hi)
{
    *lo = (int)((long)s->N * t / s->threads);
    *hi = (int)((long)s->N * (t + 1) / s->threads);
}

static void conv_forward_chunks(float *out, const float *in, const float *weight,
                                const ConvShape *s, float *ws, int n_lo, int n_hi)
{
    const int hwo = s->H_out * s->W_out, ckk = s->C_in * s->KH * s->KW, B = conv_chunk(s);
    const size_t in_img = (size_t)s->C_in * s->H * s->W, out_img = (size_t)s->C_out * hwo;
    float *col = ws;                                  /* (CKK, B*HWo) */
    float *obuf = ws + (size_t)ckk * B * hwo;         /* (C_out, B*HWo), when B > 1 */
    const int n = n_hi - n_lo, cnt = (n + B - 1) / B; /* chunks of equal size (±1), each <= B */
    for (int k = 0; k < cnt; k++) {
        const int n0 = n_lo + (int)((long)n * k / cnt);
        const int bc = n_lo + (int)((long)n * (k + 1) / cnt) - n0, L = bc * hwo;
        const float *cm = col;
        if (bc == 1 && conv_is_pointwise(s)) {
            cm = in + n0 * in_img; /* the input (C_in, HW) is its own column matrix */
        } else {
            for (int b = 0; b < bc; b++)
                im2col(col + (size_t)b * hwo, L, in + (n0 + b) * in_img, s);
        }
        float *dst = bc == 1 ? out + n0 * out_img : obuf;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->C_out, L, ckk, 1.0f, weight, ckk,
                    cm, L, 0.0f, dst, L);
        if (bc > 1) chunk_scatter(out + n0 * out_img, obuf, bc, s->C_out, hwo);
    }
}

/* With T > 1 threads, each runs single-threaded sgemm on its own chunks (OpenBLAS's pool is set to
 * one thread meanwhile): im2col, col2im and the layout copies run in parallel too, and the narrow
 * GEMMs (C_out = 32, 64) are not split further. */
void conv2d_forward_cpu(float *out, const float *in, const float *weight, const ConvShape *s, float *ws)
{
    ASSERT(s->H_out >= 1 && s->W_out >= 1 && s->threads >= 1);
    if (s->threads == 1) {
        int lo, hi;
        thread_images(s, 0, &lo, &hi);
        conv_forward_chunks(out, in, weight, s, ws, lo, hi);
        return;
    }
    const int saved = blas_get_threads();
    blas_set_threads(1);
    const size_t per = conv_thread_floats(s);
#pragma omp parallel num_threads(s->threads)
    {
        const int t = omp_get_thread_num();
        int lo, hi;
        thread_images(s, t, &lo, &hi);
        conv_forward_chunks(out, in, weight, s, ws + (size_t)t * per, lo, hi);
    }
    blas_set_threads(saved);
}

static void conv_backward_chunks(float *din, float *dweight, const float *dout, const float *in,
                                 const float *weight, const ConvShape *s, float *ws, int n_lo,
                                 int n_hi)
{
    const int hwo = s->H_out * s->W_out, ckk = s->C_in * s->KH * s->KW, B = conv_chunk(s);
    const size_t in_img = (size_t)s->C_in * s->H * s->W, out_img = (size_t)s->C_out * hwo;
    float *col = ws;                          /* (CKK, B*HWo): columns, then their gradient */
    float *obuf = ws + (size_t)ckk * B * hwo; /* (C_out, B*HWo), when B > 1 */
    const int n = n_hi - n_lo, cnt = (n + B - 1) / B; /* chunks of equal size (±1), each <= B */
    for (int k = 0; k < cnt; k++) {
        const int n0 = n_lo + (int)((long)n * k / cnt);
        const int bc = n_lo + (int)((long)n * (k + 1) / cnt) - n0, L = bc * hwo;
        const int direct = bc == 1 && conv_is_pointwise(s);
        const float *dm = dout + n0 * out_img; /* (C_out, L) */
        if (bc > 1) {
            chunk_gather(obuf, dm, bc, s->C_out, hwo);
            dm = obuf;
        }
        const float *cm = direct ? in + n0 * in_img : col;
        if (!direct)
            for (int b = 0; b < bc; b++)
                im2col(col + (size_t)b * hwo, L, in + (n0 + b) * in_img, s);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s->C_out, ckk, L, 1.0f, dm, L, cm, L,
                    1.0f, dweight, ckk);
        if (!din) continue;
        if (direct) {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, ckk, L, s->C_out, 1.0f, weight,
                        ckk, dm, L, 1.0f, din + n0 * in_img, L);
            continue;
        }
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, ckk, L, s->C_out, 1.0f, weight, ckk,
                    dm, L, 0.0f, col, L);
        for (int b = 0; b < bc; b++)
            col2im_add(din + (n0 + b) * in_img, col + (size_t)b * hwo, L, s);
    }
}

/* Thread 0 accumulates into dweight itself, thread t > 0 into its private partial; the partials
 * are then added in thread order (a fixed order: bit-reproducible for a fixed thread count). */
void conv2d_backward_cpu(float *din, float *dweight, const float *dout, const float *in,
                     const float *weight, const ConvShape *s, float *ws)
{
    ASSERT(s->H_out >= 1 && s->W_out >= 1 && s->threads >= 1);
    if (din && s->din_set) /* the first writer: col2im adds, so start from zeros */
        memset(din, 0, (size_t)s->N * s->C_in * s->H * s->W * sizeof(float));
    if (s->threads == 1) {
        int lo, hi;
        thread_images(s, 0, &lo, &hi);
        conv_backward_chunks(din, dweight, dout, in, weight, s, ws, lo, hi);
        return;
    }
    const size_t per = conv_thread_floats(s), nw = (size_t)s->C_out * s->C_in * s->KH * s->KW;
    const int saved = blas_get_threads();
    blas_set_threads(1);
#pragma omp parallel num_threads(s->threads)
    {
        const int t = omp_get_thread_num();
        float *wst = ws + (size_t)t * per;
        float *dw = t == 0 ? dweight : wst + conv_dw_offset(s); /* (C_out, CKK) */
        if (t > 0) memset(dw, 0, nw * sizeof(float));
        int lo, hi;
        thread_images(s, t, &lo, &hi);
        conv_backward_chunks(din, dw, dout, in, weight, s, wst, lo, hi);
#pragma omp barrier
        /* dweight += Σ_{t>0} partial_t, in thread order; split over the weights. */
        const size_t w_lo = nw * (size_t)t / (size_t)s->threads;
        const size_t w_hi = nw * (size_t)(t + 1) / (size_t)s->threads;
        for (int u = 1; u < s->threads; u++) {
            const float *pu = ws + (size_t)u * per + conv_dw_offset(s);
            for (size_t i = w_lo; i < w_hi; i++)
                dweight[i] += pu[i];
        }
    }
    blas_set_threads(saved);
}

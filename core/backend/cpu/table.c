/* table.c — the CPU backends: "cpu" (channels-last, oneDNN convolutions) and "cpu-im2col" (NCHW,
 * im2col + OpenBLAS), sharing host memory, OpenBLAS GEMMs and OpenMP loops for everything else. */
#include <stdlib.h>
#include <string.h>

#include "core/backend/cpu/cpu.h"

void *alloc_cpu(size_t bytes)
{
    size_t rounded = (bytes + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    if (p) memset(p, 0, rounded);
    return p;
}

void free_cpu(void *p) { free(p); }

void memset_zero_cpu(void *p, size_t bytes) { memset(p, 0, bytes); }

void copy_cpu(void *dst, const void *src, size_t bytes) { memcpy(dst, src, bytes); }

void synchronize_cpu(void) {}

/* The entries the two CPU tables share: everything but the layout-dependent layers. */
#define CPU_SHARED_OPS \
    BACKEND_HOST_MEMORY, \
    .relu_forward = relu_forward_cpu, \
    .relu_backward = relu_backward_cpu, \
    .linear_forward = linear_forward_cpu, \
    .linear_backward = linear_backward_cpu, \
    .l2norm_forward = l2norm_forward_cpu, \
    .l2norm_backward = l2norm_backward_cpu, \
    .add_relu_forward = add_relu_forward_cpu, \
    .add_relu_backward = add_relu_backward_cpu, \
    .add_inplace = add_inplace_cpu, \
    .zero = zero_cpu, \
    .gather_rows = gather_rows_cpu, \
    .scatter_rows = scatter_rows_cpu, \
    .infonce_forward = infonce_forward_cpu, \
    .infonce_backward = infonce_backward_cpu, \
    .scores_pre = scores_pre_cpu, \
    .pair_mix_forward = pair_mix_forward_cpu, \
    .pair_mix_backward = pair_mix_backward_cpu, \
    .row_mix = row_mix_cpu, \
    .topk_rows = topk_rows_cpu, \
    .mix_picked = mix_picked_cpu, \
    .sgd_step = sgd_step_cpu, \
    .ema_update = ema_update_cpu, \
    .gemm = gemm_cpu, \
    .softmax_xent = softmax_xent_cpu, \
    .nonfinite = nonfinite_cpu

/* "cpu": channels-last activations (bf16 storage in bf16 runs), oneDNN convolutions (fp32 or
 * bf16), OpenBLAS GEMMs. */
const Backend backend_cpu = {
    .name = "cpu",
    .summary = "host memory, channels-last, oneDNN convolutions (fp32, bf16), OpenBLAS GEMMs",
    .nhwc = 1,
    .open = dnnl_open,
    .conv2d_plan = conv2d_plan_dnnl,
    .conv2d_unplan = conv2d_unplan_dnnl,
    .conv2d_workspace_floats = conv2d_workspace_floats_dnnl,
    .conv2d_forward = conv2d_forward_dnnl,
    .conv2d_backward = conv2d_backward_dnnl,
    .batchnorm_forward = batchnorm_forward_nhwc,
    .batchnorm_backward = batchnorm_backward_nhwc,
    .maxpool_forward = maxpool_forward_nhwc,
    .maxpool_backward = maxpool_backward_nhwc,
    .avgpool_forward = avgpool_forward_nhwc,
    .avgpool_backward = avgpool_backward_nhwc,
    .from_nchw = from_nchw_cpu,
    .bf16_storage = dnnl_bf16_storage,
    .add_relu_forward_bf16 = add_relu_forward_bf16_cpu,
    .add_relu_backward_bf16 = add_relu_backward_bf16_cpu,
    .maxpool_forward_bf16 = maxpool_forward_bf16_nhwc,
    .avgpool_forward_bf16 = avgpool_forward_bf16_nhwc,
    CPU_SHARED_OPS,
};

/* "cpu-im2col": NCHW, im2col + OpenBLAS convolutions, fp32 — the CPU path before oneDNN, kept as
 * its fast twin (and to reproduce results computed with it bit for bit). */
const Backend backend_cpu_im2col = {
    .name = "cpu-im2col",
    .summary = "host memory, NCHW, im2col + OpenBLAS convolutions (fp32), the previous CPU path",
    .conv2d_workspace_floats = conv2d_workspace_floats_cpu,
    .conv2d_forward = conv2d_forward_cpu,
    .conv2d_backward = conv2d_backward_cpu,
    .batchnorm_forward = batchnorm_forward_cpu,
    .batchnorm_backward = batchnorm_backward_cpu,
    .maxpool_forward = maxpool_forward_cpu,
    .maxpool_backward = maxpool_backward_cpu,
    .avgpool_forward = avgpool_forward_cpu,
    .avgpool_backward = avgpool_backward_cpu,
    CPU_SHARED_OPS,
};

/* table.c — the CPU backend: host memory, OpenBLAS GEMMs, im2col convolutions and OpenMP loops. */
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

const Backend backend_cpu = {
    .name = "cpu",
    .summary = "host memory, OpenBLAS GEMMs, im2col convolutions, OpenMP loops",
    BACKEND_HOST_MEMORY,
    .conv2d_workspace_floats = conv2d_workspace_floats_cpu,
    .conv2d_forward = conv2d_forward_cpu,
    .conv2d_backward = conv2d_backward_cpu,
    .batchnorm_forward = batchnorm_forward_cpu,
    .batchnorm_backward = batchnorm_backward_cpu,
    .relu_forward = relu_forward_cpu,
    .relu_backward = relu_backward_cpu,
    .maxpool_forward = maxpool_forward_cpu,
    .maxpool_backward = maxpool_backward_cpu,
    .avgpool_forward = avgpool_forward_cpu,
    .avgpool_backward = avgpool_backward_cpu,
    .linear_forward = linear_forward_cpu,
    .linear_backward = linear_backward_cpu,
    .l2norm_forward = l2norm_forward_cpu,
    .l2norm_backward = l2norm_backward_cpu,
    .add_relu_forward = add_relu_forward_cpu,
    .add_relu_backward = add_relu_backward_cpu,
    .add_inplace = add_inplace_cpu,
    .zero = zero_cpu,
    .gather_rows = gather_rows_cpu,
    .scatter_rows = scatter_rows_cpu,
    .infonce_forward = infonce_forward_cpu,
    .infonce_backward = infonce_backward_cpu,
    .scores_compute = scores_compute_cpu,
    .scores_pre_compute = scores_pre_compute_cpu,
    .scores_pre_hist = scores_pre_hist_cpu,
    .pair_mix_forward = pair_mix_forward_cpu,
    .pair_mix_backward = pair_mix_backward_cpu,
    .row_mix = row_mix_cpu,
    .topk_rows = topk_rows_cpu,
    .mix_picked = mix_picked_cpu,
    .sgd_step = sgd_step_cpu,
    .ema_update = ema_update_cpu,
    .gemm = gemm_cpu,
    .softmax_xent = softmax_xent_cpu,
    .nonfinite = nonfinite_cpu,
};

/* backend_cpu.c — the CPU backend table: core/nn's functions, unchanged (see backend.h). */
#include "core/backend/backend.h"

const Backend backend_cpu = {
    .name = "cpu",
    .conv2d_forward = conv2d_forward,
    .conv2d_backward = conv2d_backward,
    .batchnorm_forward = batchnorm_forward,
    .batchnorm_backward = batchnorm_backward,
    .relu_forward = relu_forward,
    .relu_backward = relu_backward,
    .maxpool_forward = maxpool_forward,
    .maxpool_backward = maxpool_backward,
    .avgpool_forward = avgpool_forward,
    .avgpool_backward = avgpool_backward,
    .linear_forward = linear_forward,
    .linear_backward = linear_backward,
    .l2norm_forward = l2norm_forward,
    .l2norm_backward = l2norm_backward,
    .add_inplace = add_inplace,
};

# core/nn: the layers' shapes (their kernels are backend ops, core/backend/), tests, benchmarks.
target_sources(clft_core PRIVATE core/nn/shape.c)
clft_add_test(test_nn_conv_bn tests/test_nn_conv_bn.c tests/nn_fd.c)
clft_add_test(test_nn_layers tests/test_nn_layers.c tests/nn_fd.c)
clft_add_test(test_nn_blocks tests/test_nn_blocks.c tests/nn_fd.c)
clft_add_test(test_nn_fast tests/test_nn_fast.c)
clft_add_bench(bench_conv bench/bench_conv.c)
clft_add_bench(bench_moco bench/bench_moco.c)
# OpenMP (gcc's libgomp) threads the layers' non-GEMM work; without it they run on one thread.
find_package(OpenMP COMPONENTS C)
if(OpenMP_C_FOUND)
  target_link_libraries(clft_core PUBLIC OpenMP::OpenMP_C) # PUBLIC: variants/ use it too
endif()

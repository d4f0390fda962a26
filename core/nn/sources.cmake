# core/nn: the layers' shapes (their kernels are backend ops, core/backend/), tests, benchmarks.
target_sources(clft_core PRIVATE core/nn/shape.c)
clft_add_test(test_nn tests/test_nn.c)
clft_add_test(test_nn_fast tests/test_nn_fast.c)
clft_add_bench(bench_conv bench/bench_conv.c)
clft_add_bench(bench_moco bench/bench_moco.c)
# OpenMP (gcc's libgomp) threads the layers' non-GEMM work; without it they run on one thread.
find_package(OpenMP COMPONENTS C)
if(OpenMP_C_FOUND)
  target_link_libraries(clft_core PUBLIC OpenMP::OpenMP_C) # PUBLIC: variants/ use it too
endif()

# core/backend: the backend tables (memory + every op of the step), BLAS kernel selection.
target_sources(clft_core PRIVATE core/backend/backend.c core/backend/blas.c)
# cpu (channels-last, oneDNN convolutions) and cpu-im2col (NCHW, im2col + OpenBLAS).
target_sources(clft_core PRIVATE core/backend/cpu/table.c core/backend/cpu/conv2d.c
  core/backend/cpu/im2col.c core/backend/cpu/batchnorm.c core/backend/cpu/pool.c
  core/backend/cpu/linear.c core/backend/cpu/elementwise.c core/backend/cpu/contrast.c
  core/backend/cpu/mix.c core/backend/cpu/misc.c core/backend/cpu/nhwc.c
  core/backend/cpu/dnnl_conv.c)
# cpu-ref: the reference kernels every other backend is tested against.
target_sources(clft_core PRIVATE core/backend/ref/table.c core/backend/ref/layers.c
  core/backend/ref/contrast.c core/backend/ref/misc.c)
# The per-op parity harness: cpu vs cpu-ref here; `test_backend_parity cpu cuda` on a GPU machine.
clft_add_test(test_backend_parity tests/test_backend_parity.c)
set_tests_properties(test_backend_parity PROPERTIES SKIP_RETURN_CODE 77)

# core/backend: the backend tables (memory + every op of the step), BLAS kernel selection.
target_sources(clft_core PRIVATE core/backend/backend.c core/backend/blas.c)
# cpu (channels-last, oneDNN convolutions) and cpu-im2col (NCHW, im2col + OpenBLAS).
target_sources(clft_core PRIVATE core/backend/cpu/table.c core/backend/cpu/conv2d.c
  core/backend/cpu/im2col.c core/backend/cpu/batchnorm.c core/backend/cpu/pool.c
  core/backend/cpu/linear.c core/backend/cpu/elementwise.c core/backend/cpu/contrast.c
  core/backend/cpu/mix.c core/backend/cpu/misc.c core/backend/cpu/nhwc.c
  core/backend/cpu/dnnl_conv.c)
# The CPU kernels' inner loops (16-lane partial sums, the row exp of InfoNCE, BN's channel loops)
# vectorise at -O3, not at -O2's very cheap cost model; never -Ofast (STYLE.md rule 2).
set_source_files_properties(core/backend/cpu/contrast.c core/backend/cpu/nhwc.c
  core/backend/cpu/mix.c core/backend/cpu/misc.c core/backend/cpu/elementwise.c
  PROPERTIES COMPILE_OPTIONS "-O3")
# cpu-ref: the reference kernels every other backend is tested against.
target_sources(clft_core PRIVATE core/backend/ref/table.c core/backend/ref/layers.c
  core/backend/ref/contrast.c core/backend/ref/misc.c)
# The per-op parity harness: cpu vs cpu-ref here; `test_backend_parity cpu cuda` on a GPU machine.
clft_add_test(test_backend_parity tests/test_backend_parity.c)
set_tests_properties(test_backend_parity PROPERTIES SKIP_RETURN_CODE 77)
# bf16 on the CPU: the storage kernels against their fp32 twins, and every op and a whole step at
# bf16 against cpu-ref (the harness applies CLFT_PARITY_PRECISION to its first backend; the step
# test is in core/train/sources.cmake). They skip (77) where oneDNN cannot open at bf16.
clft_add_test(test_bf16 tests/test_bf16.c)
add_test(NAME test_backend_parity_bf16 COMMAND test_backend_parity cpu cpu-ref
         WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(test_bf16 test_backend_parity_bf16 PROPERTIES SKIP_RETURN_CODE 77)
set_tests_properties(test_backend_parity_bf16 PROPERTIES
                     ENVIRONMENT "CLFT_BUILD_DIR=${CMAKE_BINARY_DIR};CLFT_PARITY_PRECISION=bf16")
# cuda: cuDNN convolutions, cuBLAS GEMMs, .cu kernels (built when CMakeLists.txt found CUDA).
if(CLFT_HAVE_CUDA)
  target_sources(clft_core PRIVATE core/backend/cuda/table.c core/backend/cuda/memory.cu
    core/backend/cuda/gemm.cu core/backend/cuda/conv2d.cu core/backend/cuda/batchnorm.cu
    core/backend/cuda/elementwise.cu core/backend/cuda/contrast.cu core/backend/cuda/mix.cu)
  # --fmad=false: no FMA contraction, so elementwise formulas round as the CPU's (cuda.h).
  target_compile_options(clft_core PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:--fmad=false>)
  target_include_directories(clft_core PRIVATE ${CUDNN_INCLUDE_DIR})
  target_link_libraries(clft_core PUBLIC CUDA::cudart CUDA::cublas ${CUDNN_LIBRARY})
  # backend.c lists backend_cuda only when it is built.
  set_source_files_properties(core/backend/backend.c PROPERTIES COMPILE_DEFINITIONS CLFT_HAVE_CUDA)
  # GPU parity: per op and a whole step, cpu vs cuda in fp32 (these skip, exit 77, where no GPU
  # can be opened); at tf32 and bf16 the cuda side comes first, as the harness applies
  # CLFT_PARITY_PRECISION to its first backend.
  add_test(NAME test_backend_parity_cuda COMMAND test_backend_parity cpu cuda
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  add_test(NAME test_backend_step_cuda COMMAND test_backend_step cpu cuda
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(test_backend_parity_cuda test_backend_step_cuda PROPERTIES
                       SKIP_RETURN_CODE 77 ENVIRONMENT "CLFT_BUILD_DIR=${CMAKE_BINARY_DIR}")
  foreach(prec tf32 bf16)
    add_test(NAME test_backend_parity_cuda_${prec} COMMAND test_backend_parity cuda cpu
             WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
    add_test(NAME test_backend_step_cuda_${prec} COMMAND test_backend_step cuda cpu
             WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
    set_tests_properties(test_backend_parity_cuda_${prec} test_backend_step_cuda_${prec} PROPERTIES
                         SKIP_RETURN_CODE 77
                         ENVIRONMENT "CLFT_BUILD_DIR=${CMAKE_BINARY_DIR};CLFT_PARITY_PRECISION=${prec}")
  endforeach()
endif()

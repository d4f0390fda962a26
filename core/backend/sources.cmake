# core/backend: BLAS kernel selection; the CPU and CUDA backend tables.
target_sources(clft_core PRIVATE core/backend/blas.c)
target_sources(clft_core PRIVATE core/backend/backend.c core/backend/cpu/backend_cpu.c
  core/backend/cpu/im2col.c)

# core/backend: BLAS kernel selection; the CPU and CUDA backend tables.
target_sources(clft_core PRIVATE core/backend/blas.c)

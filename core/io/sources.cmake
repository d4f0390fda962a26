# core/io: atomic writes, safetensors, config, CSV, run directories.
target_sources(clft_core PRIVATE core/io/atomic.c core/io/safetensors.c)

# baselines: sources, tests and benchmarks of this area.
target_sources(clft_methods PRIVATE baselines/moco.c)

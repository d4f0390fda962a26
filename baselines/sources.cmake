# baselines: sources, tests and benchmarks of this area.

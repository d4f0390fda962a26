# plots: sources, tests and benchmarks of this area.

# core/nn: sources, tests and benchmarks of this area.

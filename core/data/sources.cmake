# core/data: sources, tests and benchmarks of this area.

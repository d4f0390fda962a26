# core/model: sources, tests and benchmarks of this area.

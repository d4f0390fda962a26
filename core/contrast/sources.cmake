# core/contrast: sources, tests and benchmarks of this area.

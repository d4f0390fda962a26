# core/train: sources, tests and benchmarks of this area.

# core/optim: sources, tests and benchmarks of this area.

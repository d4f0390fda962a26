# downstream: sources, tests and benchmarks of this area.

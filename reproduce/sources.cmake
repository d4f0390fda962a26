# reproduce/: what `clft reproduce` and `clft check` make of runs — the experiment matrices of the
# presets, results/summary.csv and the statistics behind it, RESULTS.md's generated sections, the
# expected bands. Depends on core and the run files, never on a method's code.
target_sources(clft_methods PRIVATE reproduce/stats.c reproduce/matrix.c reproduce/results.c
  reproduce/results_md.c reproduce/results_check.c)
clft_add_test(test_stats tests/test_stats.c)
clft_add_test(test_reproduce tests/test_reproduce.c)

# downstream/: evaluation algorithms on feature matrices (kNN monitor, linear probe, label-fraction
# and long-tailed sampling) and the statistics behind results/summary.csv.
target_sources(clft_methods PRIVATE downstream/topk.c downstream/knn.c downstream/linear.c
  downstream/sampling.c downstream/stats.c)
clft_add_test(test_downstream tests/test_downstream.c)
clft_add_test(test_stats tests/test_stats.c)
target_sources(clft_methods PRIVATE downstream/monitor.c)
# The experiment matrices of `clft reproduce`, summary.csv, RESULTS.md sections, `clft check`.
target_sources(clft_methods PRIVATE downstream/matrix.c downstream/results.c downstream/results_md.c
  downstream/results_check.c)
clft_add_test(test_reproduce tests/test_reproduce.c)

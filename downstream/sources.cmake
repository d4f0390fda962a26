# downstream/: evaluation algorithms on feature matrices (kNN monitor, linear probe, label-fraction
# and long-tailed sampling) and the statistics behind results/summary.csv.
target_sources(clft_methods PRIVATE downstream/topk.c downstream/knn.c downstream/linear.c
  downstream/sampling.c downstream/stats.c)
clft_add_test(test_downstream tests/test_downstream.c)
clft_add_test(test_stats tests/test_stats.c)
target_sources(clft_methods PRIVATE downstream/monitor.c)
target_sources(clft_methods PRIVATE downstream/eval.c downstream/eval_protocols.c downstream/export.c)
clft_add_test(test_eval tests/test_eval.c)

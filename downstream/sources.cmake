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
target_sources(clft_methods PRIVATE downstream/eval.c downstream/eval_protocols.c downstream/finetune.c
  downstream/export.c)
clft_add_test(test_eval tests/test_eval.c)
# export → PyTorch: skipped (exit 77) where /usr/bin/python3 has no torch.
add_test(NAME export_check COMMAND sh tests/export_check.sh ${CMAKE_BINARY_DIR}
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(export_check PROPERTIES SKIP_RETURN_CODE 77)

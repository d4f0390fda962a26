# downstream/: evaluation algorithms on feature matrices (kNN monitor, linear probe, label-fraction
# and long-tailed sampling), the evaluation protocols, fine-tuning and the export.
target_sources(clft_methods PRIVATE downstream/topk.c downstream/knn.c downstream/linear.c
  downstream/classifier.c downstream/sampling.c)
clft_add_test(test_downstream tests/test_downstream.c)
target_sources(clft_methods PRIVATE downstream/monitor.c)
target_sources(clft_methods PRIVATE downstream/eval.c downstream/eval_protocols.c downstream/finetune.c
  downstream/export.c)
clft_add_test(test_eval tests/test_eval.c)
# export → PyTorch: skipped (exit 77) where /usr/bin/python3 has no torch.
add_test(NAME export_check COMMAND sh tests/export_check.sh ${CMAKE_BINARY_DIR}
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(export_check PROPERTIES SKIP_RETURN_CODE 77)

# core/model: ResNet encoders and heads.
target_sources(clft_core PRIVATE core/model/model.c core/model/memory.c)
clft_add_test(test_model tests/test_model.c tests/nn_fd.c)


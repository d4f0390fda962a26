# core/optim: SGD, learning-rate schedules, the EMA of the key encoder.
target_sources(clft_core PRIVATE core/optim/optim.c)
clft_add_test(test_optim tests/test_optim.c)

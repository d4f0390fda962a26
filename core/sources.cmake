# core/: shared foundations.
target_sources(clft_core PRIVATE core/common.c core/rng.c core/tensor.c)
clft_add_test(test_core tests/test_core.c)

# core/train: the MoCo step, the pre-training loop, checkpoints.
target_sources(clft_core PRIVATE core/train/moco.c)
target_sources(clft_core PRIVATE core/train/checkpoint.c core/train/train.c core/train/features.c)
clft_add_test(test_train tests/test_train.c)
clft_add_test(test_alloc tests/test_alloc.c)
target_link_libraries(test_alloc PRIVATE ${CMAKE_DL_LIBS})

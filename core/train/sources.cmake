# core/train: the MoCo step, the pre-training loop, checkpoints.
target_sources(clft_core PRIVATE core/train/moco.c)
target_sources(clft_core PRIVATE core/train/checkpoint.c core/train/train.c core/train/features.c)
clft_add_test(test_train tests/test_train.c)
clft_add_test(test_alloc tests/test_alloc.c)
target_link_libraries(test_alloc PRIVATE ${CMAKE_DL_LIBS})
add_executable(st_diff tests/st_diff.c)
target_link_libraries(st_diff PRIVATE clft_core)
add_executable(st_edit tests/st_edit.c)
target_link_libraries(st_edit PRIVATE clft_core)
add_test(NAME test_pretrain COMMAND bash tests/test_pretrain.sh WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
add_test(NAME test_faults COMMAND bash tests/test_faults.sh WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(test_faults PROPERTIES ENVIRONMENT "CLFT_BUILD_DIR=${CMAKE_BINARY_DIR}")
set_tests_properties(test_pretrain PROPERTIES ENVIRONMENT "CLFT_BUILD_DIR=${CMAKE_BINARY_DIR}")
# A whole MoCo v2 + FT step on two backends (cpu vs cpu-ref here; cpu vs cuda on a GPU machine).
clft_add_test(test_backend_step tests/test_backend_step.c)
set_tests_properties(test_backend_step PROPERTIES SKIP_RETURN_CODE 77)
# The same whole step with the cpu backend at bf16 (bf16 convolutions and storage) against cpu-ref.
add_test(NAME test_backend_step_bf16 COMMAND test_backend_step cpu cpu-ref
         WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(test_backend_step_bf16 PROPERTIES SKIP_RETURN_CODE 77
                     ENVIRONMENT "CLFT_BUILD_DIR=${CMAKE_BINARY_DIR};CLFT_PARITY_PRECISION=bf16")

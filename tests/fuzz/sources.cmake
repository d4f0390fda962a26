# tests/fuzz: one libFuzzer target per input parser (built with -DCLFT_FUZZ=ON, clang only; `make
# fuzz` builds them in build-fuzz/ and runs each over its seed corpus, tests/fuzz/corpus/<target>/).
# clft_add_fuzz(NAME SOURCE): a fuzz target linked with libFuzzer's main and the sanitizers.
function(clft_add_fuzz name)
  add_executable(${name} ${ARGN})
  target_compile_options(${name} PRIVATE ${CLFT_WARNINGS} -UNDEBUG)
  target_link_libraries(${name} PRIVATE clft_methods clft_core)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  add_dependencies(fuzz_targets ${name})
endfunction()
add_custom_target(fuzz_targets)
clft_add_fuzz(fuzz_idx tests/fuzz/fuzz_idx.c)
clft_add_fuzz(fuzz_cifar tests/fuzz/fuzz_cifar.c)
clft_add_fuzz(fuzz_jpeg tests/fuzz/fuzz_jpeg.c)
clft_add_fuzz(fuzz_config tests/fuzz/fuzz_config.c)
clft_add_fuzz(fuzz_safetensors tests/fuzz/fuzz_safetensors.c)
clft_add_fuzz(fuzz_csv tests/fuzz/fuzz_csv.c)
clft_add_fuzz(fuzz_plot_csv tests/fuzz/fuzz_plot_csv.c)
# The seed corpora's generator (tests/fuzz/make_seeds.c), run by hand when a format changes.
add_executable(fuzz_make_seeds tests/fuzz/make_seeds.c)
target_link_libraries(fuzz_make_seeds PRIVATE clft_core)

# core/data: datasets (IDX, CIFAR, JPEG folders, synthetic), augmentations, the threaded loader.
target_sources(clft_core PRIVATE core/data/dataset.c core/data/idx.c core/data/cifar.c
  core/data/imagefolder.c core/data/jpeg.c core/data/augment.c core/data/augment_ref.c
  core/data/loader.c)
clft_add_test(test_data_aug tests/test_data_aug.c)
clft_add_test(test_data tests/test_data.c)
clft_add_test(test_data_loader tests/test_data_loader.c)
clft_add_bench(bench_loader bench/bench_loader.c)
# The augmentation kernels are plain loops over bytes written to auto-vectorise: -O3 turns on
# GCC's full vectoriser for this file (STYLE.md rule 2 allows -O3; never -Ofast: results are exact).
set_source_files_properties(core/data/augment.c PROPERTIES COMPILE_OPTIONS "-O3")

# variants/: feature-level transforms of the contrastive loss (none, ft and its ablations, mochi).
target_sources(clft_methods PRIVATE variants/variant.c variants/none.c variants/ft.c variants/mochi.c)
clft_add_test(test_variants tests/test_variants.c)
clft_add_bench(bench_variants bench/bench_variants.c)
clft_add_bench(bench_variant_overhead bench/bench_variant_overhead.c)

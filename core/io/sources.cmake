# core/io: atomic writes, safetensors, config, CSV, run directories.
target_sources(clft_core PRIVATE core/io/atomic.c core/io/safetensors.c)
target_sources(clft_core PRIVATE core/io/config.c core/io/csv.c core/io/eval_csv.c core/io/rundir.c)
clft_add_test(test_config tests/test_config.c)
clft_add_test(test_csv tests/test_csv.c)
clft_add_test(test_rundir tests/test_rundir.c)

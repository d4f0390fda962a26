# plots: sources, tests and benchmarks of this area.
target_sources(clft_methods PRIVATE plots/plot.c plots/plot_csv.c plots/plot_data.c plots/plot_hist.c
  plots/plot_summary.c)
clft_add_test(test_plots tests/test_plots.c)

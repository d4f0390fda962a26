# cli/: the `clft` command, one file per subcommand.
target_sources(clft PRIVATE cli/main.c cli/cli_util.c cli/pretrain.c)
target_sources(clft PRIVATE cli/plot.c)
target_sources(clft PRIVATE cli/data.c)
target_sources(clft PRIVATE cli/reproduce.c cli/check.c)
target_sources(clft PRIVATE cli/eval.c cli/export.c)

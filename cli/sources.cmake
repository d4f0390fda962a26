# cli/: the `clft` command, one file per subcommand.
target_sources(clft PRIVATE cli/main.c)
target_sources(clft PRIVATE cli/plot.c)
target_sources(clft PRIVATE cli/data.c)

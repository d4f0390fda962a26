# variants/: feature-level transforms of the contrastive loss (none, ft and its ablations, mochi).
target_sources(clft_methods PRIVATE variants/variant.c variants/none.c)

# core/train: the MoCo step, the pre-training loop, checkpoints.
target_sources(clft_core PRIVATE core/train/moco.c)
target_sources(clft_core PRIVATE core/train/checkpoint.c core/train/train.c core/train/features.c)

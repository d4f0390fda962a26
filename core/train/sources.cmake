# core/train: the MoCo step, the pre-training loop, checkpoints.
target_sources(clft_core PRIVATE core/train/moco.c)

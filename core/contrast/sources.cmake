# core/contrast: queue, logits + InfoNCE, score statistics (PAPER.md §1, §3).
target_sources(clft_core PRIVATE core/contrast/queue.c core/contrast/infonce.c core/contrast/scores.c)
clft_add_test(test_contrast tests/test_contrast.c)

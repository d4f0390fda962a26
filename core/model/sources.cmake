# core/model: ResNet encoders and heads.
target_sources(clft_core PRIVATE core/model/model.c)

"""Language-model primitives: build and load models and tokenizers, sample, score."""

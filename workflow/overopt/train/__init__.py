"""The training stage: SFT and DAA training with TRL, checkpoints in safetensors and JSON."""

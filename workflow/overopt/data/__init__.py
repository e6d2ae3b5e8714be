"""The data stage: the synthetic task and its gold reward, data preparation, candidates, preferences."""

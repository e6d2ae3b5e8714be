"""Process set-up shared by every entry point: threads, seeds, determinism, quiet offline libraries."""

from __future__ import annotations

import contextlib
import os
import random
import sys

# Must be set before transformers / datasets / huggingface_hub are imported anywhere.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")


def setup(threads: int, seed: int) -> None:
    """Pin torch to ``threads`` threads, seed every RNG and make kernels deterministic.

    Same seed and same thread count give bitwise-identical results (docs/platform.md). Torch is
    set up only when the job has imported it (a script imports what it uses at its top, before
    ``overopt.pipeline.job.context``): a job that never uses torch does not pay ~2 s of CPU to import it.
    """
    import numpy as np

    threads = max(1, int(threads) // int(os.environ.get("LOCAL_WORLD_SIZE", "1")))  # ranks share the job's
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ["MKL_NUM_THREADS"] = str(threads)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    if "torch" not in sys.modules:
        return
    import torch
    import torch.utils.deterministic

    torch.set_num_threads(threads)
    with contextlib.suppress(RuntimeError):  # already set in this process
        torch.set_num_interop_threads(1)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    # NaN-filling new tensors costs 1.6x on CPU and changes nothing here (docs/platform.md).
    torch.utils.deterministic.fill_uninitialized_memory = False
    if torch.cuda.is_available():
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.benchmark = False


def derive_seed(base: int, *parts: object) -> int:
    """A stable 31-bit seed derived from a base seed and any labels (sizes, betas, ...)."""
    import hashlib

    text = "|".join([str(base), *map(str, parts)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") & 0x7FFFFFFF


def is_main_process() -> bool:
    """Rank 0, or not distributed at all."""
    return int(os.environ.get("RANK", "0")) == 0

"""Multi-GPU training: relaunch a rule's script under ``accelerate launch`` (FSDP) when asked.

A Snakemake ``script:`` job is one process. When a training job is given more than one GPU
(resource ``gpu``), the script re-executes itself with ``accelerate launch`` and the FSDP config
``config/accelerate/fsdp.yaml``; every rank then runs the same script (the Snakemake object is
part of it), and the trainers shard the model. Only rank 0 writes outputs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

FSDP_CONFIG = Path(__file__).resolve().parents[3] / "config" / "accelerate" / "fsdp.yaml"


def relaunch_if_multi_gpu(gpus: int) -> None:
    """With ``gpus`` > 1 and not yet distributed, run this script on ``gpus`` ranks and exit with its code."""
    if gpus <= 1 or "LOCAL_RANK" in os.environ:
        return
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(FSDP_CONFIG),
        "--num_processes",
        str(gpus),
        sys.argv[0],
        *sys.argv[1:],
    ]
    print("multi-GPU job:", " ".join(cmd), flush=True)
    sys.exit(subprocess.run(cmd, check=False).returncode)

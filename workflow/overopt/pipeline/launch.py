"""Multi-GPU training: relaunch a rule's script under ``accelerate launch`` (FSDP) when asked.

A Snakemake ``script:`` job is one process. When a training job is given more than one GPU
(resource ``gpu``), the script re-executes itself with ``accelerate launch`` and the FSDP config
``config/accelerate/fsdp.yaml``; every rank then runs the same script (the Snakemake object is
part of it), and the trainers shard the model. Only rank 0 writes outputs.

The number of processes is the number of GPUs the job sees (``visible_gpus``), not the number it
asked for: a scheduler may give more or fewer, and one process per visible GPU is what FSDP needs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

FSDP_CONFIG = Path(__file__).resolve().parents[3] / "config" / "accelerate" / "fsdp.yaml"


def visible_gpus(env: Mapping[str, str] | None = None) -> int:
    """The GPUs this process may use: ``CUDA_VISIBLE_DEVICES`` where set (SLURM sets it for a job's
    GRES), else SLURM's count for the job on this node, else what CUDA reports (0 without CUDA)."""
    env = os.environ if env is None else env
    devices = env.get("CUDA_VISIBLE_DEVICES")
    if devices is not None:
        ids = [d.strip() for d in devices.split(",") if d.strip()]
        return 0 if ids[:1] == ["-1"] else len(ids)  # "-1" (or empty): CUDA hidden
    if env.get("SLURM_GPUS_ON_NODE", "").isdigit():
        return int(env["SLURM_GPUS_ON_NODE"])
    import torch

    return torch.cuda.device_count()


def launch_command(processes: int, script: list[str]) -> list[str]:
    """``accelerate launch`` of ``script`` (argv) on ``processes`` ranks with the FSDP config."""
    return [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(FSDP_CONFIG),
        "--num_processes",
        str(processes),
        *script,
    ]


def relaunch_if_multi_gpu(requested: int) -> None:
    """When the job sees more than one GPU and is not yet distributed, run this script on one rank per
    visible GPU and exit with its code; say so when that differs from the ``requested`` count."""
    if requested < 1 or "LOCAL_RANK" in os.environ:
        return
    gpus = visible_gpus()
    if gpus != requested:
        print(f"asked for {requested} GPU(s), sees {gpus}: one process per visible GPU", flush=True)
    if gpus <= 1:
        return
    cmd = launch_command(gpus, sys.argv)
    print("multi-GPU job:", " ".join(cmd), flush=True)
    sys.exit(subprocess.run(cmd, check=False).returncode)

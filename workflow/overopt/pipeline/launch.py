"""Multi-process training: relaunch a rule's script under ``accelerate launch`` when asked.

A Snakemake ``script:`` job is one process. When a training job sees more than one GPU, the script
re-executes itself with ``accelerate launch`` and the FSDP config ``config/accelerate/fsdp.yaml``;
every rank then runs the same script (the Snakemake object is part of it), and the trainers shard
the model. Only rank 0 writes outputs. The number of processes is the number of GPUs the job sees
(``visible_gpus``), not the number it asked for: a scheduler may give more or fewer, and FSDP needs
one process per visible GPU.

On CPU, a training option ``processes`` > 1 starts that many ranks with DDP over gloo (accelerate's
``--multi_gpu`` without CUDA: its ``--cpu`` or ``MULTI_CPU`` starts a single process unless MPI
launches it, and FSDP is not enabled on CPU). The ranks split each batch (``batch_size`` stays the
examples per optimizer step) and split the job's threads. Each launch takes a free port, so jobs on
one node do not collide.
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


def launch_command(processes: int, script: list[str], gpu: bool = True) -> list[str]:
    """``accelerate launch`` of ``script`` (argv) on ``processes`` ranks: FSDP over GPUs, DDP on CPU."""
    how = ["--config_file", str(FSDP_CONFIG)] if gpu else ["--multi_gpu", "--mixed_precision", "no"]
    return [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        *how,
        "--num_processes",
        str(processes),
        "--num_machines",
        "1",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        "0",  # a free port: several jobs on one node
        *script,
    ]


def relaunch_if_distributed(gpus: int, cpu_processes: int = 1) -> None:
    """Unless already distributed: with ``gpus`` requested, run this script on one rank per visible GPU
    (saying so where that differs from the request); without, on ``cpu_processes`` CPU ranks. Exits
    with the ranks' code; returns where one process is all there is to run."""
    if "LOCAL_RANK" in os.environ:
        return
    if gpus >= 1:
        processes = visible_gpus()
        if processes != gpus:
            print(f"asked for {gpus} GPU(s), sees {processes}: one process per visible GPU", flush=True)
    else:
        processes = cpu_processes
    if processes <= 1:
        return
    cmd = launch_command(processes, sys.argv, gpu=gpus >= 1)
    print(f"{processes} processes: {' '.join(cmd)}", flush=True)
    sys.exit(subprocess.run(cmd, check=False).returncode)

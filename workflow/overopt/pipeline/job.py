"""The job context every Snakemake ``script:`` entry point runs in: log, threads, seeds, timing,
provenance."""

from __future__ import annotations

import contextlib
import os
import resource
import sys
import time
import traceback
from collections.abc import Iterator
from typing import Any

from overopt.core import runtime

_EXTRA: dict[str, Any] = {}


def record(**info: Any) -> None:
    """Add facts about this job (run time, steps, ...) to the provenance of its outputs."""
    _EXTRA.update(info)


def scratch_dir(snakemake: Any) -> str:
    """The job's own scratch folder, ``results/.scratch/<rule>/<wildcard values>``: jobs that differ
    in any wildcard (a replicate as well as a size) never share one, even when they run at once."""
    parts = [str(v).strip("/") for _, v in snakemake.wildcards.items()]
    return "/".join(["results/.scratch", snakemake.rule, *(x for x in parts if x)])


def _rank() -> str:
    """`` process r of n`` for a rank of a multi-process job (``accelerate launch`` sets both)."""
    env = os.environ
    return f" process {env['RANK']} of {env['WORLD_SIZE']}" if "WORLD_SIZE" in env and "RANK" in env else ""


def process_usage() -> str:
    """This process's CPU seconds (imports included) and peak RSS, for the log's last line."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
    return f"process: cpu {cpu:.1f} s, max RSS {max(own.ru_maxrss, kids.ru_maxrss) / 1024:.0f} MiB"


@contextlib.contextmanager
def context(snakemake: Any, *, seed_parts: tuple = ()) -> Iterator[int]:
    """Redirect stdout/stderr to the rule's log, pin threads, seed; yield the job's seed.

    ``snakemake.config`` becomes the job's ``settings`` param (``overopt.pipeline.settings``): the
    config values its rule declares, so reading any other key fails, naming it.

    The seed derives from the config seed, the rule name and ``seed_parts`` (wildcards), so
    every job's randomness is fixed by the config alone. When the block succeeds, every output
    gets a provenance manifest (inside a directory, beside a file), and the log's last line gives
    the work's wall time and the process's CPU and peak memory (read by benchmarks/study.py; a
    ``benchmark:`` directive would have Snakemake poll every job for the same).
    """
    settings = getattr(snakemake.params, "settings", None)
    if settings is not None:  # the job sees the config values its rule declares, and only those
        snakemake.config = settings
    # the workflow sets it for every job (rules/common.smk); here for a script run alone
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    log = snakemake.log[0] if len(snakemake.log) else None
    seed = runtime.derive_seed(int(snakemake.config["seed"]), snakemake.rule, *seed_parts)
    with contextlib.ExitStack() as stack:
        if log:
            os.makedirs(os.path.dirname(log) or ".", exist_ok=True)
            fh = stack.enter_context(open(log, "a", buffering=1, encoding="utf-8"))
            sys.stdout.flush()
            sys.stderr.flush()
            saved = os.dup(1), os.dup(2)
            os.dup2(fh.fileno(), 1)
            os.dup2(fh.fileno(), 2)
            stack.callback(lambda: (os.dup2(saved[0], 1), os.dup2(saved[1], 2)))
        runtime.setup(int(snakemake.threads), seed)
        start = time.time()
        print(
            f"[{snakemake.rule}] start: threads={snakemake.threads} seed={seed} "
            f"wildcards={dict(snakemake.wildcards)} HF_HUB_OFFLINE={os.environ['HF_HUB_OFFLINE']}{_rank()}",
            flush=True,
        )
        try:
            yield seed
        except BaseException:
            traceback.print_exc()  # into the rule's log, before stderr is restored
            sys.stderr.flush()
            raise
        from overopt.pipeline.provenance import write_manifest

        for out in snakemake.output if runtime.is_main_process() else []:
            if os.path.exists(out):
                write_manifest(out, snakemake, seed=seed, extra=dict(_EXTRA))
        print(f"[{snakemake.rule}] finished in {time.time() - start:.1f} s ({process_usage()})", flush=True)
        sys.stdout.flush()
        sys.stderr.flush()
    if _fast_exit(snakemake):
        os._exit(0)


def _fast_exit(snakemake: Any) -> bool:
    """Whether a finished job may end its process at once: a Snakemake script, not distributed.

    Its outputs are closed and renamed into place, its manifests written and its log flushed;
    what is left is interpreter teardown (garbage collection of torch, transformers and TRL
    modules: ~1.2 CPU-s per training job). Distributed ranks exit through ``torchrun``.
    """
    return type(snakemake).__module__.startswith("snakemake") and "RANK" not in os.environ

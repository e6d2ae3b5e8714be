"""The workflow on a real SLURM cluster: a single node, started by .ci/slurm-up.

- a target of the smoke study (data prep, tokenizer, SFT, candidates, preferences, ref
  log-probs, one DAA run and the evaluation of its final checkpoint) through
  ``--profile profiles/slurm-local``: every job is a SLURM job (its own sbatch job id,
  COMPLETED, --cpus-per-task = the rule's threads, a SLURM log under logs/slurm), and the
  results are the same bytes as the local smoke run's (session fixture ``smoke_dir``);
- a job that asks for ``gpu: 1`` (through --set-resources: the workflow's ref_logps job above)
  is scheduled on one of the node's two GPUs (fake ones, gres backed by /dev/null and /dev/zero);
- probe rules of the test's own asking for 1 and 2 GPUs run once each, with their CPUs, and see
  all of their GPUs.

When no cluster is up, the fixture starts one with .ci/slurm-up (installs slurm-wlm and
munge with apt-get, needs root, as CI is), and stops it again at the end.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import REPO, result_digests, snakemake

pytestmark = pytest.mark.slurm

PROFILE = REPO / "profiles" / "slurm-local"
PARTITION = "debug"  # profiles/slurm-local and .ci/slurm-up
# Evaluating the last checkpoint of one DAA run needs every upstream stage once.
TARGET = "results/eval/xs/dpo/beta-0.1/step-00012_ep-1.000/metrics.json"
GPU_RULE = "ref_logps"  # a GPU rule at the paper scale; submitted here with gpu=1
UP_STATES = {"idle", "mixed", "allocated"}
GPU_TRES = re.compile(r"gres[:/]gpu[:=]1\b")  # TresPerJob: gres:gpu:1 (SLURM 22.05), gres/gpu=1 (newer)


def node_states() -> list[str]:
    """States of the nodes of the test partition (``idle``, ``down*``, ...); [] without SLURM."""
    if shutil.which("sinfo") is None:
        return []
    proc = subprocess.run(
        ["sinfo", "--noheader", f"--partition={PARTITION}", "--format=%T"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return proc.stdout.split() if proc.returncode == 0 else []


def cluster_up() -> bool:
    return any(state in UP_STATES for state in node_states())


@pytest.fixture(scope="module")
def slurm_cluster() -> Iterator[None]:
    """A SLURM cluster with an idle node in partition `debug`; started here if none is up."""
    started = False
    if not cluster_up():
        if os.geteuid() != 0:
            pytest.skip(
                "no SLURM cluster with partition 'debug' is up, and starting one needs root: "
                "run `sudo .ci/slurm-up` first (CI runs as root and the test starts it itself)"
            )
        proc = subprocess.run([str(REPO / ".ci" / "slurm-up")], capture_output=True, text=True, timeout=1200)
        if proc.returncode != 0:
            pytest.fail(f".ci/slurm-up failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        started = True
        assert cluster_up(), f".ci/slurm-up succeeded but the node is not up: {node_states()}"
    yield
    if started:
        subprocess.run([str(REPO / ".ci" / "slurm-down")], capture_output=True, timeout=120)


def run_on_slurm(workdir: Path, *args: str, snakefile: Path | None = None) -> str:
    """Run Snakemake with the test cluster's profile; its output (stdout + stderr).

    Jobs are named with a unique prefix, so that those left queued by a failed or timed-out
    run can be cancelled.
    """
    prefix = f"pytest_{uuid.uuid4().hex[:8]}"
    common = (
        "--profile",
        str(PROFILE),
        # profiles/default is the workflow profile: Snakemake applies it on top of --profile
        # and it wins per key (`cores: all` would cap every job's threads, hence
        # --cpus-per-task, at the submitting machine's core count).
        "--workflow-profile",
        "none",
        "--slurm-jobname-prefix",
        prefix,
    )
    try:
        if snakefile is None:
            proc = snakemake(workdir, *common, *args, timeout=1500)
        else:  # a small workflow of the test's own
            cmd = [sys.executable, "-m", "snakemake", "-s", str(snakefile), "--directory", str(workdir)]
            proc = subprocess.run(
                [*cmd, *common, *args],
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert proc.returncode == 0, f"snakemake failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}"
    finally:
        cancel_jobs(prefix)
    return proc.stdout + proc.stderr


def cancel_jobs(prefix: str) -> None:
    """Cancel the queued or running jobs whose name starts with ``prefix``."""
    proc = subprocess.run(
        ["squeue", "--noheader", "--format=%i %j", "--states=PENDING,RUNNING,CONFIGURING"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    ids = [
        fields[0]
        for fields in map(str.split, proc.stdout.splitlines())
        if len(fields) == 2 and fields[1].startswith(prefix)
    ]
    if ids:
        subprocess.run(["scancel", *ids], capture_output=True, timeout=30)


def slurm_job(job_id: str) -> dict[str, str]:
    """`scontrol show job` as a dict (finished jobs stay visible for MinJobAge=3600 s)."""
    proc = subprocess.run(
        ["scontrol", "--oneliner", "show", "job", job_id], capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 0, f"scontrol show job {job_id}: {proc.stderr}"
    return dict(field.split("=", 1) for field in proc.stdout.split() if "=" in field)


def planned_jobs(output: str) -> dict[str, tuple[str, bool, int]]:
    """Snakemake's job blocks in a run's output: jobid -> (rule, local, threads)."""
    jobs = {}
    for block in re.finditer(r"^(local)?rule (\w+):\n((?:    .*\n)+)", output, re.MULTILINE):
        local, rule, body = block.groups()
        jobid = re.search(r"^    jobid: (\d+)$", body, re.MULTILINE)
        threads = re.search(r"^    threads: (\d+)$", body, re.MULTILINE)
        if jobid:
            jobs[jobid.group(1)] = (rule, local is not None, int(threads.group(1)) if threads else 1)
    return jobs


def test_study_target_runs_as_slurm_jobs_with_local_bytes(
    slurm_cluster: None, smoke_dir: Path, tmp_path: Path
) -> None:
    work = tmp_path / "slurm"
    work.mkdir()
    out = run_on_slurm(work, "--set-resources", f"{GPU_RULE}:gpu=1", "--", TARGET)

    run_id = re.search(r"^SLURM run ID: (\S+)$", out, re.MULTILINE)
    assert run_id, f"not a run of the SLURM executor:\n{out[-3000:]}"
    jobs = planned_jobs(out)
    submitted = {
        m["job"]: (m["slurm"], Path(m["log"]))
        for m in re.finditer(
            r"Job (?P<job>\d+) has been submitted with SLURM jobid (?P<slurm>\d+) \(log: (?P<log>.+?)\)\.",
            out,
        )
    }
    remote = {j: rule for j, (rule, local, _) in jobs.items() if not local}
    assert {"prepare_data", "tokenizer"} <= {rule for rule, _, _ in jobs.values()}, jobs
    assert {"sft", GPU_RULE, "daa", "sample"} <= set(remote.values()), remote
    # the gold judge is a formula: judged where Snakemake runs (as an API judge would be)
    assert "judge" in {rule for rule, local, _ in jobs.values() if local}, jobs
    assert set(submitted) == set(remote), (
        f"every non-local job must be a SLURM job; planned {sorted(remote)}, submitted {sorted(submitted)}"
    )

    for job, (slurm_id, log) in submitted.items():
        rule, _, threads = jobs[job]
        info = slurm_job(slurm_id)
        where = f"job {job} ({rule}), SLURM job {slurm_id}"
        assert info["JobName"] == run_id.group(1), where
        assert info["JobState"] == "COMPLETED", f"{where}: {info['JobState']}"
        assert info["Partition"] == PARTITION, where
        # Same thread count as the local run: the determinism of the results depends on it.
        assert info["NumTasks"] == "1" and info["CPUs/Task"] == str(threads), (
            f"{where}: {info['NumTasks']} tasks x {info['CPUs/Task']} CPUs, rule threads {threads}"
        )
        assert bool(GPU_TRES.search(info.get("TresPerJob", ""))) == (rule == GPU_RULE), (
            f"{where}: TresPerJob={info.get('TresPerJob')}"
        )
        logdir = work.resolve() / "logs" / "slurm" / f"rule_{rule}"
        assert log.resolve().is_relative_to(logdir), f"{where}: log {log}, not under {logdir}"
        text = log.read_text()
        assert f"(Rule: {rule})" in text and "Finished jobid" in text, f"{where}: {log}:\n{text[-2000:]}"

    slurm = result_digests(work)
    local = result_digests(smoke_dir)
    assert TARGET in slurm
    assert any(p.endswith(".safetensors") for p in slurm)
    differ = sorted(p for p in slurm if local.get(p) != slurm[p])
    assert not differ, f"results of the SLURM run differ from the local run's: {differ}"


GPU_PROBE = """
rule probe:
    output:
        "probe-{gpus}.json",
    threads: lambda wc: int(wc.gpus)
    resources:
        mem_mb=100,
        runtime=5,
        gpu=lambda wc: int(wc.gpus),
    shell:
        "echo ran >> runs-{wildcards.gpus}.txt && {PYTHON} -c '{PROBE}' > {output}"
"""
# What a job sees: SLURM's and CUDA's variables, and how many processes accelerate would start.
PROBE = (
    "import json, os; from overopt.pipeline.launch import visible_gpus; "
    'keys = ("CUDA_VISIBLE_DEVICES", "SLURM_GPUS_ON_NODE", "SLURM_CPUS_PER_TASK", "SLURM_JOB_ID"); '
    'print(json.dumps({**{k: os.environ.get(k) for k in keys}, "processes": visible_gpus()}))'
)


@pytest.mark.parametrize("gpus", [1, 2])
def test_a_gpu_job_runs_once_with_its_cpus_and_sees_all_its_gpus(
    slurm_cluster: None, tmp_path: Path, gpus: int
) -> None:
    """A rule asking for ``gpu`` 1 or 2 (the resource the paper config's training rules get) and as many
    threads, through the real plugin: one sbatch job, run once (no task per GPU), with the rule's
    CPUs, seeing every GPU it was given; accelerate would start one process per GPU."""
    snakefile = tmp_path / "Snakefile"
    snakefile.write_text(f"import sys\n\nPYTHON = sys.executable\nPROBE = {PROBE!r}\n" + GPU_PROBE)
    work = tmp_path / "work"
    out = run_on_slurm(work, "--", f"probe-{gpus}.json", snakefile=snakefile)

    slurm_id = re.search(r"has been submitted with SLURM jobid (\d+)", out)
    assert slurm_id, out[-3000:]
    info = slurm_job(slurm_id.group(1))
    assert info["JobState"] == "COMPLETED", info
    assert re.search(rf"gres[:/]gpu[:=]{gpus}\b", info.get("TresPerJob", "")), info
    assert info["CPUs/Task"] == str(gpus), info
    assert (work / f"runs-{gpus}.txt").read_text().split() == ["ran"]  # once, not once per GPU
    probe = json.loads((work / f"probe-{gpus}.json").read_text())
    assert probe == {
        "CUDA_VISIBLE_DEVICES": ",".join(map(str, range(gpus))),
        "SLURM_GPUS_ON_NODE": str(gpus),
        "SLURM_CPUS_PER_TASK": str(gpus),
        "SLURM_JOB_ID": slurm_id.group(1),
        "processes": gpus,
    }, probe

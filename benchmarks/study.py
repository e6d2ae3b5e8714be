"""The whole study's cost: wall time, jobs, CPU by rule, the share of CPU outside the jobs' own
work, peak RSS.

Runs a config from an empty ``results/`` in a fresh working directory and measures the process
tree (Snakemake and every job it waits for). Then it reads the run's logs: each job's own work is
the time between its "start" and "finished" lines (``overopt.pipeline.job.context``), and each job's CPU
(imports included) and peak RSS come from the same last line. What the tree used beyond the jobs'
own work is start-up (imports), Snakemake's own process and I/O around the work; the tree's CPU
less the jobs' process CPU is Snakemake's own.

Usage:
  python benchmarks/study.py [--config config/config.yaml] [--cores 2] [--workdir DIR] [--json OUT]
  python benchmarks/study.py --logs DIR/logs   # a finished run's logs only (no wall or tree CPU)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
START = re.compile(r"^\[(\w+)\] start:")
FINISHED = re.compile(
    r"^\[(\w+)\] finished in ([0-9.]+) s(?: \(process: cpu ([0-9.]+) s, max RSS ([0-9.]+) MiB\))?"
)


def run_study(config: Path, cores: int, workdir: Path) -> dict[str, float]:
    """Run the study in ``workdir``; wall seconds, CPU seconds and peak RSS (MiB) of the tree."""
    if (workdir / "results").exists():
        sys.exit(f"{workdir}/results exists: the benchmark runs from an empty results/")
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--configfile", str(config)]
    cmd += ["--directory", str(workdir), "--cores", str(cores), "--quiet"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, env={**os.environ, "HF_HUB_OFFLINE": "1"}, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"the study failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": wall, "tree_cpu_s": cpu, "peak_rss_mib": after.ru_maxrss / 1024}


def job_log(path: Path) -> tuple[str, re.Match[str]] | None:
    """A job's log: its rule and its last "finished" line (work, CPU, RSS); None if it never finished."""
    text = path.read_text(errors="replace").splitlines()
    rule = next((m[1] for line in text if (m := START.match(line))), None)
    done = [m for line in text if (m := FINISHED.match(line))]
    return (rule, done[-1]) if rule and done else None


def read_logs(logs: Path) -> dict[str, dict[str, float]]:
    """Per rule: jobs, their own work (s), their processes' CPU (s) and the largest peak RSS (MiB)."""
    rules: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for path in sorted(logs.rglob("*.log")):
        if found := job_log(path):
            rule, done = found
            r = rules[rule]
            r["jobs"] += 1
            r["work_s"] += float(done[2])
            if done[3]:
                r["cpu_s"] += float(done[3])
                r["max_rss_mib"] = max(r["max_rss_mib"], float(done[4]))
    return {rule: dict(v) for rule, v in sorted(rules.items())}


def report(rules: dict[str, dict[str, float]], tree: dict[str, float] | None) -> dict:
    """The summary (also printed)."""
    work = sum(r.get("work_s", 0.0) for r in rules.values())
    jobs = int(sum(r.get("jobs", 0) for r in rules.values()))
    print(f"{'rule':14s} {'jobs':>5s} {'work s':>9s} {'job CPU s':>10s} {'max RSS MiB':>12s}")
    for rule, r in rules.items():
        print(
            f"{rule:14s} {int(r.get('jobs', 0)):5d} {r.get('work_s', 0):9.1f} "
            f"{r.get('cpu_s', float('nan')):10.1f} {r.get('max_rss_mib', float('nan')):12.0f}"
        )
    job_cpu = sum(r.get("cpu_s", 0.0) for r in rules.values())
    out = {"jobs": jobs, "work_s": work, "job_cpu_s": job_cpu, "rules": rules}
    if tree:
        out |= tree | {
            "outside_share": 1 - work / tree["tree_cpu_s"],
            "snakemake_cpu_s": tree["tree_cpu_s"] - job_cpu,
        }
        print(
            f"{jobs} jobs, wall {tree['wall_s']:.0f} s, tree CPU {tree['tree_cpu_s']:.0f} s, jobs' own "
            f"work {work:.0f} s: {out['outside_share']:.0%} of the CPU outside it; jobs' processes "
            f"{job_cpu:.0f} s, Snakemake's own process ~{out['snakemake_cpu_s']:.0f} s; "
            f"peak RSS {tree['peak_rss_mib']:.0f} MiB"
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=REPO / "config" / "config.yaml")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--workdir", type=Path, help="where to run (default: a new temporary directory)")
    parser.add_argument("--logs", type=Path, help="only read a finished run's logs/ directory")
    parser.add_argument("--json", type=Path, help="also save the summary here")
    args = parser.parse_args()
    if args.logs:
        summary = report(read_logs(args.logs), None)
    else:
        workdir = args.workdir or Path(tempfile.mkdtemp(prefix="overopt-study-"))
        tree = run_study(args.config.resolve(), args.cores, workdir)
        summary = report(read_logs(workdir / "logs"), tree)
        summary |= {"config": str(args.config), "cores": args.cores, "workdir": str(workdir)}
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    main()

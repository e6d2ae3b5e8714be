"""What the vendor-independent pins cost against the previous ones, measured as ratios in one session.

Three settings, every other pin the same: ``current``, the pins of ``overopt.core.numerics`` (MKL's
AVX2 branch on every vendor, MKL's vendor check answered "Intel"); ``previous``, the same variables
without that answer (MKL's AVX2 branch on Intel CPUs, its AUTO branch on others, so the bytes
depended on the vendor); ``compatible``, MKL's documented vendor-neutral branch
(``MKL_CBWR=COMPATIBLE``), the alternative the pins do not take.

- ``step``: the DAA training step and a 2048^2 matrix multiply (benchmarks/daa_step.py, without its
  sweep), each setting in fresh processes, alternating (previous, current, previous, ...);
- ``study``: a whole study from an empty ``results/`` (benchmarks/study.py), under each setting
  named (default: previous and current); ``--concurrent`` runs them at once on a share of the cores
  each, so all meet the same machine;
- ``jobs``: a finished study's jobs, rerun alone in a copy of it (``--workdir``, which the reruns
  overwrite): each target's job forced under each setting, alternating, its own work read off its
  log; then the study's own work per rule and size (its logs, or ``--logs`` of the finished study
  when the copy was taken part-way) weighted by those ratios: an estimate of the whole study's work
  under each setting where timing two whole studies does not fit.

Usage: python benchmarks/pins_cost.py step [--config config/config.yaml] [--size m] [--repeats 3]
       python benchmarks/pins_cost.py study [--config config/smoke.yaml] [--cores 2] [--concurrent]
              [--settings previous current compatible] [--workdir DIR] [--json OUT]
       python benchmarks/pins_cost.py jobs --workdir COPY --targets OUTPUT... [--logs DIR] [--config ...]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from cpu_paths import COMPATIBLE, PREVIOUS
from study import job_log

from overopt.core import config as C
from overopt.core.numerics import OPT_OUT, PINNED

HERE = Path(__file__).resolve().parent
# variables over a clean copy of the environment
SETTINGS = {"previous": PREVIOUS, "current": {}, "compatible": COMPATIBLE}


def environment(name: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {*PINNED, OPT_OUT}}
    return env | SETTINGS[name] | {"HF_HUB_OFFLINE": "1"}


def step(config: str, size: str | None, repeats: int, steps: int) -> dict:
    """Median DAA step (ms) and matmul rate (GFLOP/s) per setting, and each over previous."""
    found: dict[str, dict[str, list[float]]] = {name: {"step_ms": [], "gflops": []} for name in SETTINGS}
    cmd = [sys.executable, str(HERE / "daa_step.py"), "--config", config, "--steps", str(steps), "--no-sweep"]
    for _ in range(repeats):
        for name in SETTINGS:
            out = subprocess.run(
                [*cmd, *(["--size", size] if size else [])],
                env=environment(name),
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            found[name]["step_ms"].append(float(re.search(r"workflow ([0-9.]+) ms", out)[1]))
            found[name]["gflops"].append(float(re.search(r"matmul ([0-9.]+) GFLOP/s", out)[1]))
            last = {k: v[-1] for k, v in found[name].items()}
            print(f"{name:9s} step {last['step_ms']:7.1f} ms, matmul {last['gflops']:6.1f} GFLOP/s")
    med = {name: {k: statistics.median(v) for k, v in f.items()} for name, f in found.items()}
    ratio = {
        name: {k: med[name][k] / med["previous"][k] for k in ("step_ms", "gflops")}
        for name in SETTINGS
        if name != "previous"
    }
    for name, r in ratio.items():
        print(f"{name} / previous: step time {r['step_ms']:.2f}x, matmul rate {r['gflops']:.2f}x")
    return {"runs": found, "median": med, "over_previous": ratio}


def study(config: Path, cores: int, concurrent: bool, workdir: Path, names: list[str]) -> dict:
    """Each named setting's whole study (benchmarks/study.py); each over previous for wall and CPU."""
    procs, out = {}, {}
    per = max(cores // len(names), 1) if concurrent else cores
    for name in names:
        summary = workdir / f"{name}.json"
        cmd = [sys.executable, str(HERE / "study.py"), "--config", str(config), "--cores", str(per)]
        cmd += ["--workdir", str(workdir / name), "--json", str(summary)]
        procs[name] = subprocess.Popen(cmd, env=environment(name))
        if not concurrent:
            procs[name].wait()
    for name, proc in procs.items():
        if proc.wait() != 0:
            sys.exit(f"the {name} study failed ({proc.returncode})")
        out[name] = json.loads((workdir / f"{name}.json").read_text())
    keys = ("wall_s", "tree_cpu_s", "work_s")
    base = out.get("previous")
    ratio = {n: {k: out[n][k] / base[k] for k in keys} for n in out if base and n != "previous"}
    for name, r in ratio.items():
        print(
            f"{name} / previous: wall {r['wall_s']:.3f}x, CPU {r['tree_cpu_s']:.3f}x, jobs' own work "
            f"{r['work_s']:.3f}x ({per} core(s) each{', at once' if concurrent else ''})"
        )
    return {"studies": out, "over_previous": ratio, "cores_each": per, "concurrent": concurrent}


def size_of(log: Path, sizes: set[str]) -> str:
    """The model size in a log's path relative to logs/ (logs/sft/xs.log, logs/daa/xs/dpo/...); "" if none."""
    return next((p for p in log.with_suffix("").parts[1:] if p in sizes), "")


def group_work(logs: Path, sizes: set[str]) -> dict[tuple[str, str], float]:
    """The jobs' own work (s) per (rule, size) in a run's logs ("" where the job has no size)."""
    work: dict[tuple[str, str], float] = {}
    for path in sorted(logs.rglob("*.log")):
        if found := job_log(path):
            group = (found[0], size_of(path.relative_to(logs), sizes))
            work[group] = work.get(group, 0.0) + float(found[1][2])
    return work


def snakemake(workdir: Path, config: Path, cores: int) -> list[str]:
    """The command that runs the study of ``config`` in ``workdir``."""
    cmd = [sys.executable, "-m", "snakemake", "-s", str(HERE.parent / "Snakefile")]
    return [*cmd, "--configfile", str(config), "--directory", str(workdir), "--cores", str(cores)]


def forced_rule(workdir: Path, config: Path, target: str) -> str:
    """The rule of the job that makes ``target`` (read off a dry run's job list)."""
    cmd = [*snakemake(workdir, config, 1), "--force", target, "--dry-run"]
    out = subprocess.run(cmd, env=environment("current"), capture_output=True, text=True).stdout
    found, rule = [], None
    for line in out.splitlines():
        if m := re.match(r"(?:local)?rule (\w+):", line):
            rule = m[1]
        elif line.strip().startswith("output:") and target in line.split(":", 1)[1].replace(",", " ").split():
            found.append(rule)
    if len(found) != 1:
        sys.exit(f"no single job makes {target} in {workdir}:\n{out[-2000:]}")
    return found[0]


def rerun(workdir: Path, config: Path, target: str, rule: str, name: str, cores: int) -> tuple[str, float]:
    """Force the job of ``target`` alone under setting ``name``; its log (relative) and own work.
    Only ``rule`` may run: an earlier rerun (under other pins) left outputs newer than, and other
    than, what their consumers saw, and nothing upstream is to run again."""
    cmd = [*snakemake(workdir, config, cores), "--force", target, "--allowed-rules", rule, "--quiet"]
    since = max((p.stat().st_mtime for p in (workdir / "logs").rglob("*.log")), default=0.0)
    proc = subprocess.run(cmd, env=environment(name), capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"the job of {target} failed under {name}:\n{proc.stderr[-4000:]}")
    logs = [p for p in (workdir / "logs").rglob("*.log") if p.stat().st_mtime > since]
    if len(logs) != 1:
        sys.exit(f"forcing {target} wrote {len(logs)} logs, expected its job's one: {logs}")
    if not (found := job_log(logs[0])):
        sys.exit(f"the job of {target} logged no work in {logs[0]}")
    return str(logs[0].relative_to(workdir / "logs")), float(found[1][2])


def weigh(ratios: dict[tuple[str, str], list[float]], study_work: dict[tuple[str, str], float]) -> dict:
    """The study's work under current over previous: each sampled (rule, size)'s work in the study
    times its median ratio, over the sampled groups' work; and the share of the study they cover."""
    covered = {g: study_work[g] for g in ratios}
    estimate = sum(w * statistics.median(ratios[g]) for g, w in covered.items()) / sum(covered.values())
    share = sum(covered.values()) / sum(study_work.values())
    return {"estimate_over_previous": estimate, "covered_share": share}


def jobs(
    workdir: Path, config: Path, targets: list[str], repeats: int, cores: int, logs: Path | None
) -> dict:
    """Each target's job under previous and current (median own work), and the study's estimate,
    weighted by the work in ``logs`` (default: the copy's logs, read before the reruns)."""
    sizes = set(C.load(config)["models"])
    study_work = group_work(logs or workdir / "logs", sizes)  # before the reruns rewrite any log
    found: dict[str, dict[str, list[float]]] = {}
    groups: dict[str, tuple[str, str]] = {}
    for target in targets:
        found[target] = {"previous": [], "current": []}
        rule = forced_rule(workdir, config, target)
        for _ in range(repeats):
            for name in ("previous", "current"):
                log, work = rerun(workdir, config, target, rule, name, cores)
                found[target][name].append(work)
                print(f"{name:9s} {log}: {work:.1f} s")
        groups[target] = (rule, size_of(Path(log), sizes))
    ratio = {t: statistics.median(f["current"]) / statistics.median(f["previous"]) for t, f in found.items()}
    by_group: dict[tuple[str, str], list[float]] = {}
    for target, r in ratio.items():
        by_group.setdefault(groups[target], []).append(r)
        rule, size = groups[target]
        share = study_work[rule, size]
        print(f"{rule} {size or '-'}: current / previous {r:.3f}x ({share:.0f} s of the study's work)")
    weighed = weigh(by_group, study_work)
    print(
        f"the study's own work under current / previous: {weighed['estimate_over_previous']:.3f}x, "
        f"estimated over the sampled rules and sizes ({weighed['covered_share']:.0%} of its "
        f"{sum(study_work.values()):.0f} s)"
    )
    return {
        "runs": found,
        "groups": {t: "/".join(g) for t, g in groups.items()},
        "over_previous": ratio,
        "study_work_s": {f"{r}/{s}": w for (r, s), w in sorted(study_work.items())},
    } | weighed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("step", "study", "jobs"))
    parser.add_argument("--config", default=None, help="default: config/config.yaml (step), smoke (study)")
    parser.add_argument("--size", help="the model size of the step (default: the middle one)")
    parser.add_argument("--repeats", type=int, default=3, help="step: processes per setting")
    parser.add_argument("--steps", type=int, default=40, help="step: training steps per process")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--concurrent", action="store_true", help="study: the settings at once")
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=["previous", "current"])
    parser.add_argument("--workdir", type=Path, help="study: where (default: temporary); jobs: the copy")
    parser.add_argument("--targets", nargs="+", default=[], help="jobs: an output of each job to rerun")
    parser.add_argument("--logs", type=Path, help="jobs: the logs/ to weigh by")
    parser.add_argument("--json", type=Path, help="also save the result here")
    a = parser.parse_args()
    if a.what == "step":
        result = step(a.config or "config/config.yaml", a.size, a.repeats, a.steps)
    elif a.what == "jobs":
        if not (a.workdir and a.targets):
            parser.error("jobs needs --workdir (a copy of a finished study) and --targets")
        config = Path(a.config or "config/config.yaml").resolve()
        result = jobs(a.workdir.resolve(), config, a.targets, a.repeats, a.cores, a.logs)
    else:
        workdir = a.workdir or Path(tempfile.mkdtemp(prefix="overopt-pins-"))
        config = Path(a.config or "config/smoke.yaml").resolve()
        result = study(config, a.cores, a.concurrent, workdir, a.settings)
    if a.json:
        a.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()

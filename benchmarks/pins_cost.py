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
  each, so all meet the same machine.

Usage: python benchmarks/pins_cost.py step [--config config/config.yaml] [--size m] [--repeats 3]
       python benchmarks/pins_cost.py study [--config config/smoke.yaml] [--cores 2] [--concurrent]
              [--settings previous current compatible] [--workdir DIR] [--json OUT]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("step", "study"))
    parser.add_argument("--config", default=None, help="default: config/config.yaml (step), smoke (study)")
    parser.add_argument("--size", help="the model size of the step (default: the middle one)")
    parser.add_argument("--repeats", type=int, default=3, help="step: processes per setting")
    parser.add_argument("--steps", type=int, default=40, help="step: training steps per process")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--concurrent", action="store_true", help="study: the settings at once")
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=["previous", "current"])
    parser.add_argument("--workdir", type=Path, help="study: where to run (default: a temporary directory)")
    parser.add_argument("--json", type=Path, help="also save the result here")
    a = parser.parse_args()
    if a.what == "step":
        result = step(a.config or "config/config.yaml", a.size, a.repeats, a.steps)
    else:
        workdir = a.workdir or Path(tempfile.mkdtemp(prefix="overopt-pins-"))
        config = Path(a.config or "config/smoke.yaml").resolve()
        result = study(config, a.cores, a.concurrent, workdir, a.settings)
    if a.json:
        a.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()

"""What MKL's COMPATIBLE branch costs against the previous pins, measured as ratios in one session.

The pins of ``overopt.core.numerics`` (``MKL_CBWR=COMPATIBLE``: one MKL code path on Intel and AMD)
against the previous ones (``MKL_CBWR=AVX2``: MKL's AVX2 branch on Intel CPUs, its AUTO branch on
others, so the bytes depended on the vendor); every other pin the same.

- ``step``: the DAA training step and a 2048^2 matrix multiply (benchmarks/daa_step.py, without its
  sweep), each setting in fresh processes, alternating (previous, current, previous, ...);
- ``study``: a whole study from an empty ``results/`` (benchmarks/study.py), under each setting;
  ``--concurrent`` runs the two at once on half the cores each, so both meet the same machine.

Usage: python benchmarks/pins_cost.py step [--config config/config.yaml] [--size m] [--repeats 3]
       python benchmarks/pins_cost.py study [--config config/smoke.yaml] [--cores 2] [--concurrent]
              [--workdir DIR] [--json OUT]
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

from cpu_paths import PREVIOUS

from overopt.core.numerics import OPT_OUT, PINNED

HERE = Path(__file__).resolve().parent
SETTINGS = {"previous": PREVIOUS, "current": {}}  # variables over a clean copy of the environment


def environment(name: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {*PINNED, OPT_OUT}}
    return env | SETTINGS[name] | {"HF_HUB_OFFLINE": "1"}


def step(config: str, size: str | None, repeats: int, steps: int) -> dict:
    """Median DAA step (ms) and matmul rate (GFLOP/s) per setting, and current / previous."""
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
    ratio = {k: med["current"][k] / med["previous"][k] for k in ("step_ms", "gflops")}
    print(f"current / previous: step time {ratio['step_ms']:.2f}x, matmul rate {ratio['gflops']:.2f}x")
    return {"runs": found, "median": med, "current_over_previous": ratio}


def study(config: Path, cores: int, concurrent: bool, workdir: Path) -> dict:
    """Each setting's whole study (benchmarks/study.py); current / previous for wall and CPU."""
    procs, out = {}, {}
    per = max(cores // 2, 1) if concurrent else cores
    for name in SETTINGS:
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
    ratio = {k: out["current"][k] / out["previous"][k] for k in ("wall_s", "tree_cpu_s", "work_s")}
    print(
        f"current / previous: wall {ratio['wall_s']:.3f}x, CPU {ratio['tree_cpu_s']:.3f}x, "
        f"jobs' own work {ratio['work_s']:.3f}x ({per} core(s) each{', at once' if concurrent else ''})"
    )
    return {"studies": out, "current_over_previous": ratio, "cores_each": per, "concurrent": concurrent}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("step", "study"))
    parser.add_argument("--config", default=None, help="default: config/config.yaml (step), smoke (study)")
    parser.add_argument("--size", help="the model size of the step (default: the middle one)")
    parser.add_argument("--repeats", type=int, default=3, help="step: processes per setting")
    parser.add_argument("--steps", type=int, default=40, help="step: training steps per process")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--concurrent", action="store_true", help="study: both settings at once")
    parser.add_argument("--workdir", type=Path, help="study: where to run (default: a temporary directory)")
    parser.add_argument("--json", type=Path, help="also save the result here")
    a = parser.parse_args()
    if a.what == "step":
        result = step(a.config or "config/config.yaml", a.size, a.repeats, a.steps)
    else:
        workdir = a.workdir or Path(tempfile.mkdtemp(prefix="overopt-pins-"))
        result = study(Path(a.config or "config/smoke.yaml").resolve(), a.cores, a.concurrent, workdir)
    if a.json:
        a.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()

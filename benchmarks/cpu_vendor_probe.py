"""Which CPU-dispatch variable changes the bytes of a training job on this machine.

Reruns the smoke study's SFT job of size ``xs`` (about 3 s) under every combination of the three
variables that choose a library's floating-point code path, and prints the model's SHA-256 for each:

- ``MKL_CBWR``: MKL's code-path branch (torch's BLAS). MKL honours ``AVX2`` or ``SSE4_2`` on Intel
  CPUs only and takes its ``AUTO`` branch on others; ``COMPATIBLE`` is one path on every vendor;
- ``ATEN_CPU_CAPABILITY``: torch's own kernels (``avx2`` or ``default``);
- ``ONEDNN_MAX_CPU_ISA``: oneDNN's instruction-set cap (``AVX2`` or ``SSE41``).

numpy's and OpenBLAS's pins are held as ``overopt.core.numerics`` sets them; a last row runs the
job as the workflow does (the pins, which also answer MKL's vendor check "Intel", so that MKL's
``AVX2`` branch runs on every vendor). Run it on two machines (``--json``, then ``--against`` the
other's file) and the rows with equal hashes are the settings that give both the same bytes;
``--emulate MODEL`` runs every job under QEMU's emulation of another CPU model
(benchmarks/emulated_cpu.py: Haswell-v4 for Intel, EPYC-Rome for AMD), so one machine shows both
vendors. docs/platform.md gives what it found.

Usage: python benchmarks/cpu_vendor_probe.py [--emulate MODEL] [--json OUT] [--against OTHER.json]
       [--workdir DIR] [--rows N]
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import emulated_cpu

from overopt.core.numerics import OPT_OUT, PINNED
from overopt.pipeline.verify import cpu_model

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "config" / "smoke.yaml"
TARGET = "results/models/xs/sft"
GRID = {  # the variables probed, each with its values (the first as the old pins set it)
    "MKL_CBWR": ("AVX2", "COMPATIBLE", "AUTO", "SSE4_2"),
    "ATEN_CPU_CAPABILITY": ("avx2", "default"),
    "ONEDNN_MAX_CPU_ISA": ("AVX2", "SSE41"),
}
HELD = {k: v for k, v in PINNED.items() if k not in GRID}  # numpy's and OpenBLAS's pins
PINNED_ROW = "as the workflow pins"


def rows() -> list[dict[str, str]]:
    """Every combination of the grid's values, then the workflow's own pins."""
    keys = list(GRID)
    grid = [dict(zip(keys, values, strict=True)) for values in itertools.product(*GRID.values())]
    return [*grid, {"row": PINNED_ROW}]


def environment(row: dict[str, str]) -> dict[str, str]:
    """This process's environment with the row's variables (the pins opted out, held by hand)."""
    env = {k: v for k, v in os.environ.items() if k not in {*PINNED, OPT_OUT, "MKL_VERBOSE"}}
    if row.get("row") == PINNED_ROW:
        return env
    return env | {OPT_OUT: "native"} | HELD | row


def snakemake(workdir: Path, python: str, env: dict[str, str], *args: str) -> None:
    """The smoke study's Snakemake in ``workdir``; its jobs run under ``python``.

    Snakemake starts a job's script with its own ``sys.executable``, so that is set to ``python``
    (the emulated interpreter with ``--emulate``) while Snakemake itself runs natively.
    """
    launch = f"import sys; sys.executable = {python!r}; from snakemake.cli import main; main()"
    cmd = [sys.executable, "-c", launch, "-s", str(REPO / "Snakefile"), "--configfile", str(SMOKE)]
    cmd += ["--directory", str(workdir), "--cores", "1", *args, "--quiet"]  # both take several values
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")


def mkl_branch(python: str, env: dict[str, str]) -> str:
    """The processor line and code-path branch MKL reports for one SGEMM under ``env``."""
    code = "import overopt, torch; a = torch.ones(8, 8); a @ a"  # overopt pins unless opted out
    out = subprocess.run(
        [python, "-c", code], env=env | {"MKL_VERBOSE": "1"}, capture_output=True, text=True
    ).stdout
    lines = [line for line in out.splitlines() if line.startswith("MKL_VERBOSE")]
    processor = lines[0].split(" architecture ", 1)[-1].split(", Lnx")[0] if lines else "?"
    branch = next((w for line in lines for w in line.split() if w.startswith("CNR:")), "CNR:?")
    return f"{branch} ({processor})"


def machine(emulate: str | None) -> dict[str, str]:
    """The CPU the jobs run on: this one, or the emulated model."""
    return {"cpu": f"QEMU {emulate} (emulated on {cpu_model()})" if emulate else cpu_model()}


def probe(workdir: Path, python: str, limit: int | None) -> list[dict[str, str]]:
    """Run the SFT job once for every row; each row with its model's SHA-256 (first 16 hex)."""
    snakemake(workdir, python, environment(rows()[-1]), TARGET)  # the job's inputs, once
    out = []
    for row in rows()[-limit:] if limit else rows():
        env = environment(row)
        snakemake(workdir, python, env, "--force", TARGET)
        digest = hashlib.sha256((workdir / TARGET / "model.safetensors").read_bytes()).hexdigest()
        out.append({**row, "mkl": mkl_branch(python, env), "sha256_16": digest[:16]})
        print(f"{label(row):54s} {out[-1]['mkl']:44s} {digest[:16]}", flush=True)
    return out


def label(row: dict[str, str]) -> str:
    """The row's name: its variables in the grid's order, or the pinned row's name."""
    return row.get("row") or " ".join(f"{k}={row[k]}" for k in GRID if k in row)


def compare(here: list[dict[str, str]], other: dict) -> None:
    """Print which rows give the same bytes here and on the machine of ``other`` (a --json file)."""
    rows = other["rows"] if "rows" in other else other["sft_xs_grid"]["rows"]  # or a record's grid
    theirs = {label(r): r["sha256_16"] for r in rows}
    print(f"\nagainst {other.get('machine', {}).get('cpu') or other.get('what', 'the other machine')}:")
    for row in here:
        key = label(row)
        mark = "same bytes" if theirs.get(key) == row["sha256_16"] else "differ" if key in theirs else "-"
        print(f"{key:54s} {mark}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emulate", help="run the jobs under QEMU's emulation of this CPU model")
    parser.add_argument("--json", type=Path, help="save the rows and the machine here")
    parser.add_argument("--against", type=Path, help="another machine's --json file to compare with")
    parser.add_argument("--workdir", type=Path, help="where to run (default: a temporary directory)")
    parser.add_argument("--rows", type=int, help="only the last N rows (the pinned row is the last)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="overopt-probe-") as tmp:
        python = str(emulated_cpu.python(args.emulate, Path(tmp) / "py")) if args.emulate else sys.executable
        about = machine(args.emulate)
        print(f"CPU: {about['cpu']}")
        result = {"machine": about, "rows": probe(args.workdir or Path(tmp) / "work", python, args.rows)}
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    if args.against:
        compare(result["rows"], json.loads(args.against.read_text()))


if __name__ == "__main__":
    main()

"""``make verify``: compare a study's artifacts with the ones recorded in the repository.

A record (``digests/<config name>.json``, written by ``--record``) holds the SHA-256 of every
result file, the study's headline numbers (each policy's win rate with its CI and its KL, and the
findings' verdicts) and the machine it was made on: its CPU and numerics (the torch build, its MKL
and oneDNN, the pinned code paths). Manifests are compared without their run-specific fields (the
commit). When bytes differ, the report names what differs between the record's machine and this one.

On an x86-64 machine with the pinned code paths (``overopt.core.numerics``) the bytes must match:
every artifact is identical, or the stage that differs is named. Where bytes cannot match (another
architecture, the pins opted out, a GPU), it says so and compares the headline numbers instead: a
win rate agrees when the two differ by less than 1.96 standard errors of their difference (each
standard error from its 95% CI), and the verdicts are listed side by side.

Usage: ``python -m overopt.pipeline.verify [--config config/config.yaml] [--record] [--root .]``
Exit status: 0 when everything that can be compared agrees, 1 otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import platform
import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from overopt.core import numerics
from overopt.core.io import write_json
from overopt.pipeline.dvc_stages import BEST_OF_N, REPO, STAGES, outputs

SYNTHETIC_STAGES = (*STAGES, BEST_OF_N)  # every stage a synthetic study's artifacts can belong to
RUN_SPECIFIC = ("git_commit",)  # manifest fields that name the run, not the result
SKIPPED_PARTS = {".state", ".scratch"}  # resume state and scratch space, not results
Z_AGREE = 1.96


RECORDS = REPO / "digests"


def record_path(config: str | Path, records: Path = RECORDS) -> Path:
    """Where the record of the study of ``config`` lives (in the repository: ``digests/``)."""
    return records / f"{Path(config).stem}.json"


def _normalised(path: Path) -> bytes:
    """The file's bytes; manifests and the provenance table without their run-specific fields."""
    data = path.read_bytes()
    if path.name.endswith("provenance.json"):
        manifest = json.loads(data)
        for key in RUN_SPECIFIC:
            manifest.pop(key, None)
        return json.dumps(manifest, sort_keys=True).encode()
    if path.name == "provenance.csv":
        import pandas as pd

        table = pd.read_csv(io.BytesIO(data)).drop(columns=list(RUN_SPECIFIC), errors="ignore")
        return table.to_csv(index=False).encode()
    return data


def artifact_digests(root: Path) -> dict[str, str]:
    """SHA-256 of every result file under ``root/results`` (normalised as above), by relative path."""
    out = {}
    for path in sorted((root / "results").rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and not SKIPPED_PARTS & set(rel.parts) and path.name != ".snakemake_timestamp":
            out[rel.as_posix()] = hashlib.sha256(_normalised(path)).hexdigest()
    return out


def stage_of(path: str) -> str:
    """The DVC stage whose outputs hold ``path`` (``dvc.yaml``), else ``other``."""
    for stage in SYNTHETIC_STAGES:
        if any(path == out or path.startswith(f"{out}/") for out in outputs(stage)):
            return stage.name
    return "other"


def headline(root: Path) -> dict[str, Any]:
    """Win rate (with its CI) and KL per policy of each replicate, and the findings' verdict lines.

    A policy's key is ``replicate-<r>/<size>/<policy>`` (``<size>/<policy>`` in a table without a
    replicate column), so every replicate's numbers are recorded and compared, not only the last.
    """
    import pandas as pd

    table = pd.read_csv(root / "results" / "tables" / "evaluations.csv")
    replicated = "replicate" in table.columns
    policies = {
        (f"replicate-{int(row.replicate)}/" if replicated else "") + f"{row.model_size}/{row.policy}": {
            k: float(getattr(row, k)) for k in ("win_rate", "win_rate_low", "win_rate_high", "kl_exact")
        }
        for row in table.itertuples()
    }
    findings = root / "results" / "findings.md"
    verdicts = {}
    if findings.exists():  # its summary table: | finding | claim | **verdict** | in numbers |
        for line in findings.read_text(encoding="utf-8").splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) >= 4 and cells[2].startswith("**"):
                verdicts[cells[0]] = cells[2].strip("*")
    return {"policies": policies, "verdicts": verdicts}


def cpu_model() -> str:
    """This machine's CPU: model name, vendor, family and model (Linux's /proc/cpuinfo)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return platform.processor() or platform.machine()
    info: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            break  # the first processor's block
        key, _, value = line.partition(":")
        info[key.strip()] = value.strip()
    name = info.get("model name", platform.processor() or platform.machine())
    if "vendor_id" not in info:
        return name
    family, model = info.get("cpu family", "?"), info.get("model", "?")
    return f"{name} ({info['vendor_id']}, family {family} model {model})"


def machine() -> dict[str, Any]:
    """The machine a study runs on here: its CPU and the numerics that shape the bytes."""
    from importlib import metadata

    import torch

    built = torch.__config__.show()
    libraries = {
        "mkl": re.search(r"Math Kernel Library Version ([\w.]+)", built),
        "onednn": re.search(r"MKL-DNN v([\w.]+)", built),
    }
    return {
        "cpu": cpu_model(),
        "architecture": platform.machine(),
        "torch": metadata.version("torch"),
        **{name: found[1] if found else "not built in" for name, found in libraries.items()},
        "cpu_paths": numerics.describe() if numerics.applies() else "native (not pinned)",
    }


def record(root: Path, config: str | Path, records: Path = RECORDS) -> Path:
    """Write the record of the study under ``root`` run with ``config``."""
    path = record_path(config, records)
    write_json(
        path,
        {
            "config": Path(config).as_posix(),
            "machine": machine(),
            "artifacts": artifact_digests(root),
            "headline": headline(root),
        },
    )
    return path


def machine_differences(recorded: dict[str, Any] | str, here: dict[str, Any]) -> list[str]:
    """What differs between the record's machine and this one, numerics first."""
    if not isinstance(recorded, dict):  # a record from before machines were described
        return [f"the record names no CPU or numerics ({recorded!r}); this run: {here['cpu']}"]
    out = []
    for key in ("architecture", "torch", "mkl", "onednn", "cpu_paths"):
        if recorded.get(key) != here.get(key):
            out.append(f"{key}: recorded {recorded.get(key)}, here {here.get(key)}")
    if recorded.get("cpu") != here["cpu"]:
        out.append(
            f"cpu: recorded {recorded.get('cpu')}, here {here['cpu']}"
            + (" (the pinned code paths make this alone irrelevant)" if not out else "")
        )
    return out


def manifest_torch(root: Path) -> dict[str, int]:
    """The torch builds the study's manifests name (``versions.torch``), with how many name each:
    the build the artifacts were made with, which may not be the one installed here now."""
    found: dict[str, int] = defaultdict(int)
    for path in sorted((root / "results").rglob("*provenance.json")):
        try:
            build = json.loads(path.read_text(encoding="utf-8")).get("versions", {}).get("torch")
        except (OSError, ValueError):
            continue
        if build:
            found[build] += 1
    return dict(found)


def torch_cause(recorded: dict[str, Any] | str, root: Path) -> str | None:
    """A different torch build named as the cause, when the study's manifests name one other than
    the record's (a CUDA build, ``2.13.0``, where the record's is ``2.13.0+cpu``, say)."""
    want = recorded.get("torch") if isinstance(recorded, dict) else None
    other = {b: n for b, n in manifest_torch(root).items() if want and b != want}
    if not other:
        return None
    names = ", ".join(f"{b} ({n} manifests)" for b, n in sorted(other.items()))
    return (
        f"the study was made with torch {names}, the record with {want}: another torch build runs "
        "other kernels, the likely cause of differing bytes (README, Quick start: the CPU build)"
    )


def bytes_comparable() -> str | None:
    """Why bytes cannot match on this machine, or None when they can."""
    if platform.machine().lower() not in {"x86_64", "amd64"}:
        return f"this machine is {platform.machine()}, not x86-64: floating-point code paths differ"
    if not numerics.applies():
        return f"{numerics.OPT_OUT}=native: the CPU's own code paths, not the pinned ones"
    return None


def compare_bytes(recorded: dict[str, str], current: dict[str, str]) -> dict[str, dict[str, list[str]]]:
    """Per stage: the identical, differing, missing and extra artifacts."""
    out: dict[str, dict[str, list[str]]] = defaultdict(
        lambda: {"identical": [], "differ": [], "missing": [], "extra": []}
    )
    for path, digest in recorded.items():
        kind = "missing" if path not in current else "identical" if current[path] == digest else "differ"
        out[stage_of(path)][kind].append(path)
    for path in sorted(set(current) - set(recorded)):
        out[stage_of(path)]["extra"].append(path)
    return dict(out)


def _se(p: dict[str, float]) -> float:
    return max(p["win_rate_high"] - p["win_rate_low"], 0.0) / (2 * 1.96)


def compare_headline(recorded: dict[str, Any], current: dict[str, Any]) -> tuple[list[str], bool]:
    """Report lines and whether every win rate agrees within ``Z_AGREE`` standard errors."""
    lines, ok = [], True
    for pid, rec in recorded["policies"].items():
        cur = current["policies"].get(pid)
        if cur is None:
            lines.append(f"  {pid}: missing")
            ok = False
            continue
        se = math.hypot(_se(rec), _se(cur))
        z = (cur["win_rate"] - rec["win_rate"]) / se if se > 0 else 0.0
        agree = abs(z) < Z_AGREE or cur["win_rate"] == rec["win_rate"]
        ok &= agree
        lines.append(
            f"  {pid}: win rate {cur['win_rate']:.3f} vs recorded {rec['win_rate']:.3f} "
            f"(z = {z:+.2f}, {'agrees' if agree else 'DIFFERS'})"
        )
    for name, verdict in recorded["verdicts"].items():
        now = current["verdicts"].get(name, "missing")
        mark = "" if now == verdict else "  <- differs"
        lines.append(f"  verdict {name}: {now} (recorded: {verdict}){mark}")
    return lines, ok


def verify(root: Path, config: str | Path, records: Path = RECORDS) -> int:
    """Print the comparison with the record; the exit status."""
    path = record_path(config, records)
    if not path.exists():
        print(f"no record for {config} ({path}): `make record CONFIG={config}` writes one", file=sys.stderr)
        return 1
    rec = json.loads(path.read_text(encoding="utf-8"))
    reason = bytes_comparable()
    current = artifact_digests(root)
    stages = compare_bytes(rec["artifacts"], current)
    here = machine()
    made_on = rec.get("machine")
    print(f"{len(rec['artifacts'])} recorded artifacts ({path.name}), {len(current)} here")
    print(f"record made on: {made_on['cpu'] if isinstance(made_on, dict) else made_on}")
    print(f"this machine:   {here['cpu']}")
    differ_any = False
    for stage in [s.name for s in SYNTHETIC_STAGES] + ["other"]:
        if stage not in stages:
            continue
        kinds = stages[stage]
        total = sum(len(v) for k, v in kinds.items() if k != "extra")
        print(f"{stage:12s} {len(kinds['identical']):4d} of {total:4d} identical")
        for kind in ("differ", "missing", "extra"):
            for p in kinds[kind]:
                differ_any = True
                print(f"    {kind:8s} {p}")
    if not differ_any:
        print("all identical")
        return 0
    if reason is None:
        print("bytes should match on this machine (x86-64, pinned code paths); they do not")
    else:
        print(f"bytes cannot match here: {reason}")
    cause = torch_cause(made_on, root)
    if cause:
        print(cause)
    differences = machine_differences(made_on, here)
    print("the record's machine and this one differ in:" if differences else "same CPU and numerics")
    for line in differences:
        print(f"  {line}")
    print("headline numbers, compared statistically:")
    lines, ok = compare_headline(rec["headline"], headline(root))
    print("\n".join(lines))
    return 0 if reason is not None and ok else 1


def main(argv: list[str] | None = None) -> int:
    """Command line: verify, or ``--record``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/config.yaml", help="the study's config file")
    parser.add_argument("--root", default=".", type=Path, help="the study's working directory")
    parser.add_argument("--records", default=RECORDS, type=Path, help="the records' directory")
    parser.add_argument("--record", action="store_true", help="write the record instead")
    args = parser.parse_args(argv)
    if args.record:
        print(f"recorded {record(args.root, args.config, args.records)}")
        return 0
    return verify(args.root, args.config, args.records)


if __name__ == "__main__":
    sys.exit(main())

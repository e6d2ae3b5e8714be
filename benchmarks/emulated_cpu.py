"""Run this environment's Python on another x86-64 CPU model: QEMU's user-mode emulator.

``qemu-x86_64 -cpu MODEL`` answers CPUID as MODEL does (vendor, family, model, features), so every
library that dispatches by CPU takes that model's code paths: MKL by vendor, ATen, oneDNN and numpy
by instruction set. Its floating-point arithmetic is exact IEEE (softfloat), so an emulated run gives
the bytes that model's hardware gives. QEMU 7.2 (Debian 12's ``qemu-user``) emulates AVX2 and FMA,
not AVX-512: the models below are AVX2 machines of each vendor. It warns on stderr of CPUID bits it
leaves out (``TCG doesn't support requested feature``), which no numerical library uses. About
30-60x slower than native.

Used by tests/test_numerics.py (the same training bytes on an Intel and an AMD model) and
benchmarks/cpu_vendor_probe.py (``--emulate``). docs/platform.md has what it showed.
"""

from __future__ import annotations

import shutil
import sys
import sysconfig
from pathlib import Path

QEMU = "qemu-x86_64"
INTEL = "Haswell-v4"  # GenuineIntel, AVX2 + FMA (2013)
AMD = "EPYC-Rome"  # AuthenticAMD, AVX2 + FMA (2019)
INSTALL = "QEMU's user-mode emulator is missing: install it (Debian/Ubuntu: apt-get install qemu-user)"


def available() -> bool:
    """Whether ``qemu-x86_64`` is on the PATH of this x86-64 machine."""
    return shutil.which(QEMU) is not None


def command(model: str) -> list[str]:
    """The command prefix that runs this interpreter under the emulated ``model``."""
    if not available():
        raise RuntimeError(INSTALL)
    return [QEMU, "-cpu", model, sys.executable]


def python(model: str, where: Path) -> Path:
    """A ``python`` in ``where/bin`` that runs this environment's interpreter under ``model``.

    Inside it ``sys.executable`` is that script, so the processes it starts the way Snakemake starts
    a job's script are emulated too. A virtual environment's packages stay visible: ``where`` gets
    its ``pyvenv.cfg`` and a link to its site-packages.
    """
    prefix = Path(sys.prefix)
    bin_dir = where / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    if (prefix / "pyvenv.cfg").exists():
        shutil.copy(prefix / "pyvenv.cfg", where / "pyvenv.cfg")
        site = where / Path(sysconfig.get_path("purelib")).relative_to(prefix)
        site.parent.mkdir(parents=True, exist_ok=True)
        if not site.exists():
            site.symlink_to(sysconfig.get_path("purelib"), target_is_directory=True)
    script = bin_dir / "python"
    qemu, _, cpu, real = command(model)
    script.write_text(f'#!/bin/sh\nexec {qemu} -cpu {cpu} -0 "$0" {real} "$@"\n')
    script.chmod(0o755)
    return script

"""Pinned floating-point code paths: the same bytes on any x86-64 machine with AVX2, Intel or AMD.

The numerical libraries pick their kernels by the CPU, and small differences grow through training
(docs/platform.md). Each is held to one path that every x86-64 CPU since 2013 (Intel Haswell, AMD
Zen) runs alike:

- torch's ATen kernels and oneDNN dispatch by instruction set: held to AVX2;
- MKL (torch's BLAS) dispatches by vendor as well: a branch such as ``AVX2`` is honoured on Intel
  CPUs only (others run MKL's ``AUTO`` branch, which differs), so it is held to ``COMPATIBLE``, the
  one branch MKL runs alike on Intel and non-Intel CPUs;
- numpy dispatches by instruction set (AVX-512 off) and the OpenBLAS inside numpy and scipy by CPU
  model (held to Haswell's kernels).

One path no variable pins: MKL's vector math, which ``torch.sqrt`` (and ``asin``, ``acos``,
``atan``) of a contiguous CPU tensor calls, starts from the CPU's own reciprocal-square-root
estimate, whose bits differ between Intel and AMD, in every MKL branch. Job code takes square roots
with ``exact_sqrt`` below; the trainers' fused AdamW takes ATen's own (the exact instruction).

The variables must be in the environment before the library reads them (at import or first use):
``pin()`` runs when ``overopt`` is imported and when the Snakefile is parsed, so jobs inherit them.

Opt out with ``OVEROPT_CPU_PATHS=native`` (faster on AVX-512 machines; bytes then differ from
the recorded ones, and ``make verify`` falls back to a statistical comparison).
"""

from __future__ import annotations

import os
import platform
from collections.abc import MutableMapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch loads after the pins, never here
    import torch

OPT_OUT = "OVEROPT_CPU_PATHS"

# One variable per library that dispatches on the CPU.
PINNED: dict[str, str] = {
    "ATEN_CPU_CAPABILITY": "avx2",  # torch's ATen kernels (default: the widest the CPU has)
    "MKL_CBWR": "COMPATIBLE",  # MKL (torch's BLAS): the branch it runs alike on every vendor
    "ONEDNN_MAX_CPU_ISA": "AVX2",  # oneDNN (torch's mkldnn ops)
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",  # numpy's AVX-512 dispatch
    "OPENBLAS_CORETYPE": "Haswell",  # the OpenBLAS inside numpy and scipy (LAPACK, BLAS)
}


def applies(environ: MutableMapping[str, str] | None = None) -> bool:
    """Whether the pins apply here: an x86-64 machine, not opted out."""
    environ = os.environ if environ is None else environ
    native = environ.get(OPT_OUT, "pinned").lower() == "native"
    return not native and platform.machine().lower() in {"x86_64", "amd64"}


def pin(environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Set the pinned variables (overriding inherited values); returns what was set."""
    environ = os.environ if environ is None else environ
    if not applies(environ):
        return {}
    environ.update(PINNED)
    return dict(PINNED)


def describe(environ: MutableMapping[str, str] | None = None) -> dict[str, str | None]:
    """The pinned variables' values in effect (None where unset), for provenance."""
    environ = os.environ if environ is None else environ
    return {key: environ.get(key) for key in [OPT_OUT, *PINNED]}


def exact_sqrt(t: torch.Tensor) -> torch.Tensor:
    """The correctly rounded square root of a CPU tensor, the same bits on every vendor's CPU.

    numpy's square root is the CPU's exact instruction; ``torch.sqrt`` of a contiguous tensor is
    MKL's vector math, seeded by an estimate that differs between Intel and AMD (docs/platform.md).
    """
    import numpy as np
    import torch

    return torch.from_numpy(np.sqrt(t.detach().contiguous().numpy()))

"""Pinned floating-point code paths: the same bytes on any x86-64 machine with AVX2, Intel or AMD.

The numerical libraries pick their kernels by the CPU, and small differences grow through training
(docs/platform.md). Each is held to one path that every x86-64 CPU since 2013 (Intel Haswell, AMD
Zen) runs alike:

- torch's ATen kernels and oneDNN dispatch by instruction set: held to AVX2;
- MKL (torch's BLAS) dispatches by vendor as well: its ``AVX2`` branch (``MKL_CBWR``) is honoured on
  CPUs that MKL's vendor check calls Intel, others run its ``AUTO`` branch, which differs. Right
  after torch loads, ``mkl_as_on_intel`` answers that check "Intel" (it sets the check's cached
  answer in torch's MKL), so the AVX2 branch runs on AMD too: the bytes of an Intel machine, at
  the AVX2 branch's speed. (``MKL_CBWR=COMPATIBLE``, the documented vendor-neutral branch, is an
  SSE2 path that makes the DAA step 1.8x slower: docs/platform.md);
- numpy dispatches by instruction set (AVX-512 off) and the OpenBLAS inside numpy and scipy by CPU
  model (held to Haswell's kernels).

One path no variable pins: MKL's vector math, which ``torch.sqrt`` (and ``asin``, ``acos``,
``atan``) of a contiguous CPU tensor calls, starts from the CPU's own reciprocal-square-root
estimate, whose bits differ between Intel and AMD, in every MKL branch. Job code takes square roots
with ``exact_sqrt`` below; the trainers' fused AdamW takes ATen's own (the exact instruction).

The variables must be in the environment before the library reads them (at import or first use):
``pin()`` runs when ``overopt`` is imported and when the Snakefile is parsed, so jobs inherit them;
it also sets MKL's vendor answer as soon as torch is imported (now, if it already is).

Opt out with ``OVEROPT_CPU_PATHS=native`` (faster on AVX-512 machines; bytes then differ from
the recorded ones, and ``make verify`` falls back to a statistical comparison).
"""

from __future__ import annotations

import ctypes
import importlib.abc
import importlib.util
import os
import platform
import sys
from collections.abc import Callable, MutableMapping, Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch loads after the pins, never here
    import torch

OPT_OUT = "OVEROPT_CPU_PATHS"

# One variable per library that dispatches on the CPU.
PINNED: dict[str, str] = {
    "ATEN_CPU_CAPABILITY": "avx2",  # torch's ATen kernels (default: the widest the CPU has)
    "MKL_CBWR": "AVX2",  # MKL (torch's BLAS): its AVX2 branch (on AMD too: mkl_as_on_intel)
    "ONEDNN_MAX_CPU_ISA": "AVX2",  # oneDNN (torch's mkldnn ops)
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",  # numpy's AVX-512 dispatch
    "OPENBLAS_CORETYPE": "Haswell",  # the OpenBLAS inside numpy and scipy (LAPACK, BLAS)
}


def applies(environ: MutableMapping[str, str] | None = None) -> bool:
    """Whether the pins apply here: an x86-64 machine, not opted out."""
    environ = os.environ if environ is None else environ
    native = environ.get(OPT_OUT, "pinned").lower() == "native"
    return not native and platform.machine().lower() in {"x86_64", "amd64"}


# MKL's vendor checks in torch's libtorch_cpu (MKL is linked into it); each caches its answer in an
# int that its first instruction loads (``mov eax, [rip + disp32]``: bytes 8b 05 and disp32).
MKL_VENDOR_CHECKS = ("mkl_serv_intel_cpu_true", "mkl_serv_intel_cpu")
LOAD_CACHED = b"\x8b\x05"


def pin(environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Set the pinned variables (overriding inherited values) and, for this process, MKL's vendor
    answer once torch loads; returns the variables set."""
    environ = os.environ if environ is None else environ
    if not applies(environ):
        return {}
    environ.update(PINNED)
    if environ is os.environ:
        _after_torch_loads(mkl_as_on_intel)
    return dict(PINNED)


def mkl_as_on_intel() -> bool:
    """Make MKL's vendor checks in the loaded torch answer "Intel", so that MKL runs the branch
    ``MKL_CBWR`` names on every vendor's CPU; False where torch carries no MKL (nothing to do).

    Must run before MKL's first call (its dispatch reads the answer then). Raises where the checks
    are not the code this was written against, rather than let the bytes depend on the vendor.
    """
    import torch

    lib = Path(torch.__file__).parent / "lib" / "libtorch_cpu.so"
    if not lib.exists():
        return False
    handle = ctypes.CDLL(str(lib))
    for name in MKL_VENDOR_CHECKS:
        try:
            entry = ctypes.cast(getattr(handle, name), ctypes.c_void_p).value
        except AttributeError:
            return False  # a torch without MKL
        code = ctypes.string_at(entry, 6)
        if code[:2] != LOAD_CACHED:
            raise RuntimeError(
                f"MKL's vendor check {name} in {lib} (torch {torch.__version__}) is not the code overopt "
                f"knows (it begins {code.hex()}, not {LOAD_CACHED.hex()}…): MKL would take another branch on "
                f"non-Intel CPUs and the bytes would depend on the vendor. Install the pinned torch "
                f"(requirements.lock), or set {OPT_OUT}=native to run on this CPU's own paths."
            )
        cached = entry + len(code) + int.from_bytes(code[2:], "little", signed=True)
        ctypes.c_int32.from_address(cached).value = 1
    return True


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs a function once a top-level module has been executed (imported).

    Stays on ``sys.meta_path`` until then: a lookup without import (``importlib.util.find_spec``,
    as transformers does to see whether torch is installed) must not use it up.
    """

    def __init__(self, module: str, then: Callable[[], object]) -> None:
        self.module, self.then, self.looking = module, then, False

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name != self.module or self.looking:
            return None
        self.looking = True  # the other finders' spec, not ours again
        try:
            spec = importlib.util.find_spec(name)
        finally:
            self.looking = False
        if spec is None or spec.loader is None:
            return spec
        exec_module, then = spec.loader.exec_module, self.then

        def exec_then(module: ModuleType) -> None:
            exec_module(module)
            if self in sys.meta_path:
                sys.meta_path.remove(self)
            then()

        spec.loader.exec_module = exec_then
        return spec


def _after_torch_loads(then: Callable[[], object]) -> None:
    """Run ``then`` now if torch is loaded, else right after its import (once)."""
    if "torch" in sys.modules:
        then()
    elif not any(isinstance(f, _AfterImport) and f.module == "torch" for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport("torch", then))


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

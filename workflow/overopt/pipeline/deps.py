"""The package's import graph by stage, and the code each rule's script depends on.

Stages run in the workflow's DAG order; a module may import from its own stage and from the
stages ``MAY_IMPORT`` lists for it (each upstream of it), never against the DAG. ``MAY_IMPORT``
states the fan the code has, no more: an import outside it, and an allowed edge no module uses,
both fail the check, so the table stays a true map of the package:

    core -> lm -> data -> evaluate -> pipeline      core -> train, toy, analysis -> pipeline

``pipeline`` (the Snakemake and DVC machinery) stands above the science and below the job scripts:
no module of the science imports it. The package's ``__init__`` (``top``) may import ``core`` only.
Imports are read with ``ast`` (function-level ones included), so nothing is run. A package that
imports every module of its directory by discovery (``overopt.core.registry.import_modules``: the
findings and the figures) imports each of them in the graph. Modules imported by name at run time
(a custom loss, a judge) are not in the graph: the rules add the one a job uses (``module_code``).

``python -m overopt.pipeline.deps`` prints the graph by stage and exits 1 on an import against
the DAG's direction or an allowed edge that no import uses.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable
from functools import cache
from pathlib import Path

PACKAGE = "overopt"
ROOT = Path(__file__).resolve().parents[1]  # the package directory
STAGES = ("core", "lm", "data", "train", "evaluate", "toy", "analysis", "pipeline")
TOP = "top"  # the package's own ``__init__``
MAY_IMPORT: dict[str, set[str]] = {
    "core": set(),
    "lm": {"core"},
    "data": {"core", "lm"},
    "train": {"core", "lm"},
    "evaluate": {"core", "lm", "data"},
    "toy": {"core"},
    "analysis": {"core"},
    "pipeline": {"core", "data", "train", "evaluate", TOP},  # TOP: the version, for the manifests
    TOP: {"core"},
}


def module_name(path: Path, root: Path = ROOT) -> str:
    """``overopt.pipeline.deps`` for ``<root>/pipeline/deps.py`` (a package's ``__init__`` is the package)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([PACKAGE, *parts])


def module_path(name: str, root: Path = ROOT) -> Path | None:
    """The file of a package module, or None if ``name`` is not one."""
    parts = name.split(".")[1:]
    base = root.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def stage_of(name: str) -> str:
    """The stage a module belongs to (``top`` for modules directly under the package)."""
    parts = name.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in STAGES) else TOP


def _resolve(node: ast.ImportFrom, current: str, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    base = current.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _imports_its_modules(node: ast.AST) -> bool:
    """A call ``import_modules(__name__, ...)`` (``overopt.core.registry``): a package importing
    every module of its own directory by discovery."""
    if not isinstance(node, ast.Call) or not node.args:
        return False
    func = node.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
    first = node.args[0]
    return name == "import_modules" and isinstance(first, ast.Name) and first.id == "__name__"


def imports_of(path: Path, root: Path = ROOT) -> set[str]:
    """Package modules that the file at ``path`` imports (a script or a module)."""
    try:
        current = module_name(path, root)
    except ValueError:  # a script outside the package
        current = "__script__"
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if is_package and _imports_its_modules(node):  # registry.import_modules(__name__)
            found |= {f"{current}.{p.stem}" for p in path.parent.glob("*.py") if p.stem != "__init__"}
            continue
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node, current, is_package)
            names = [base, *(f"{base}.{a.name}" for a in node.names)]
        else:
            continue
        for name in names:
            if name.split(".")[0] == PACKAGE and module_path(name, root) is not None:
                found.add(name)
    found.discard(current)
    return found


@cache
def graph(root: Path = ROOT) -> dict[str, frozenset[str]]:
    """Every package module and the package modules it imports."""
    return {
        module_name(p, root): frozenset(imports_of(p, root))
        for p in sorted(root.rglob("*.py"))
        if "__pycache__" not in p.parts
    }


def _parents(name: str) -> list[str]:
    """A module's enclosing packages (importing ``a.b.c`` runs ``a/__init__`` and ``a/b/__init__``)."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def closure(names: Iterable[str], root: Path = ROOT) -> set[str]:
    """The modules ``names`` import, directly or not, with their enclosing packages."""
    g = graph(root)
    todo, seen = list(names), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(g.get(name, ()))
        todo.extend(_parents(name))
    return seen


def script_code(script: str | Path, root: Path = ROOT) -> list[Path]:
    """Files of every package module a rule's script imports, directly or not, sorted."""
    mods = closure(imports_of(Path(script), root), root)
    return sorted(p for p in (module_path(m, root) for m in mods) if p is not None)


def module_code(path: str | Path, root: Path = ROOT) -> list[Path]:
    """Files of the module at ``path`` and of every package module it imports, directly or not."""
    mods = closure([module_name(Path(path).resolve(), root)], root)
    return sorted(p for p in (module_path(m, root) for m in mods) if p is not None)


def fan(root: Path = ROOT) -> dict[str, set[str]]:
    """The stages each stage's modules import (its own excluded): the fan the code has."""
    out: dict[str, set[str]] = {stage: set() for stage in (*STAGES, TOP)}
    for mod, targets in graph(root).items():
        stage = stage_of(mod)
        out[stage] |= {stage_of(t) for t in targets} - {stage}
    return out


def violations(root: Path = ROOT) -> list[str]:
    """Imports outside ``MAY_IMPORT`` (``a (stage) imports b (stage)``), and edges it allows that
    no import uses (so the table states the real fan)."""
    out = []
    for mod, targets in sorted(graph(root).items()):
        stage = stage_of(mod)
        for target in sorted(targets):
            other = stage_of(target)
            if other != stage and other not in MAY_IMPORT[stage]:
                out.append(f"{mod} ({stage}) imports {target} ({other})")
    used = fan(root)
    for stage in (*STAGES, TOP):
        for other in sorted(MAY_IMPORT[stage] - used[stage]):
            out.append(f"MAY_IMPORT lets {stage} import {other}, which no module of {stage} does")
    return out


def report(root: Path = ROOT) -> str:
    """The import graph by stage: each module and what it imports from other stages."""
    g = graph(root)
    lines = []
    for stage in (*STAGES, TOP):
        mods = sorted(m for m in g if stage_of(m) == stage)
        lines.append(f"{stage}  (may import: {', '.join(sorted(MAY_IMPORT[stage])) or '-'})")
        for m in mods:
            outside = sorted(t for t in g[m] if stage_of(t) != stage)
            inside = sorted(t for t in g[m] if stage_of(t) == stage)
            lines.append(f"  {m}")
            if inside:
                lines.append(f"      same stage: {', '.join(inside)}")
            if outside:
                lines.append(f"      upstream:   {', '.join(outside)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the graph and the fan; exit 1 on an import outside ``MAY_IMPORT`` or an unused allowance."""
    root = Path(argv[0]).resolve() if argv else ROOT
    print(report(root))
    print("\nfan (stage: the stages it imports)")
    for stage, used in fan(root).items():
        print(f"  {stage}: {', '.join(sorted(used)) or '-'}")
    bad = violations(root)
    if bad:
        print(f"\n{len(bad)} import(s) against the DAG's direction or unused allowance(s):", file=sys.stderr)
        print("\n".join(f"  {b}" for b in bad), file=sys.stderr)
        return 1
    print("\nno import runs against the DAG's direction; MAY_IMPORT is the fan")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

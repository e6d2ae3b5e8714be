"""A named registry: one per extension point (loss types, judges, figures, findings).

Entries are registered where they are defined, with a decorator, so adding one touches the file
that defines it and nothing else; the workflow's rules and the stages read the registry.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A registered object with its name and metadata (e.g. a figure's caption)."""

    name: str
    obj: T
    meta: dict[str, Any] = field(default_factory=dict)


class Registry(Generic[T]):
    """Named entries in registration order; an unknown name is an error that lists the known ones."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def register(self, name: str, **meta: Any) -> Callable[[T], T]:
        """Decorator: register the decorated object under ``name`` with ``meta``."""

        def add(obj: T) -> T:
            self.add(name, obj, **meta)
            return obj

        return add

    def add(self, name: str, obj: T, **meta: Any) -> None:
        """Register ``obj`` under ``name``; a name is registered once."""
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = Entry(name, obj, dict(meta))

    def entry(self, name: str) -> Entry[T]:
        """The entry of ``name``."""
        try:
            return self._entries[name]
        except KeyError:
            raise KeyError(f"unknown {self.kind} {name!r}; registered: {', '.join(self._entries)}") from None

    def get(self, name: str) -> T:
        """The object registered under ``name``."""
        return self.entry(name).obj

    def names(self) -> list[str]:
        """Registered names, in registration order."""
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(list(self._entries.values()))

    def __len__(self) -> int:
        return len(self._entries)


def import_modules(package: str, skip: Iterable[str] = ()) -> list[str]:
    """Import every module of ``package`` (its ``*.py`` files by name, ``skip`` and ``__init__`` aside):
    their entries register themselves on import, so adding an entry is adding a file.

    Called from the package's ``__init__``. ``overopt.pipeline.deps`` reads the call and counts every
    module of the package as code of whatever imports the package, so a new or edited entry reruns
    the rules that use the registry.
    """
    directory = Path(sys.modules[package].__file__).parent
    names = sorted(p.stem for p in directory.glob("*.py") if p.stem != "__init__" and p.stem not in set(skip))
    for name in names:
        importlib.import_module(f"{package}.{name}")
    return names

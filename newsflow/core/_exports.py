"""Lazy re-exports for the packages' `__init__` modules (PEP 562).

Each package names its public surface in `__all__` and imports it under `TYPE_CHECKING` (for mypy and
readers); at run time a name is imported from its module on first access, so `import newsflow.core.errors`
or the CLI's start-up does not pay for Elasticsearch, pydantic or spaCy it does not use.

    if not TYPE_CHECKING:
        __getattr__, __dir__ = lazy_exports(__name__, {"newsflow.core.models": ["Article"]})
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence


def lazy_exports(
    package: str, exports: Mapping[str, Sequence[str]]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """A module `__getattr__` and `__dir__` for `package`: `exports` maps a module to the names it
    provides. A resolved name is stored on the package, so the next lookup is a plain attribute."""
    where = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> object:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(where))

    return __getattr__, __dir__

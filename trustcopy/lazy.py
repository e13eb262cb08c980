"""Lazy package exports (PEP 562): a name's module is imported on first use.

Why: every trustcopy process pays for what it imports, and a package ``__init__`` that
imports all its modules makes ``import trustcopy.policy.model`` load the whole engine.
Every process imports this module (through ``trustcopy/__init__``), so it imports nothing
at run time itself: ``typing`` alone (with ``re``) is a third of ``trustcopy --version``.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy knows the name
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any


def lazy_getattr(package: str, exports: Mapping[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """A module ``__getattr__`` resolving ``exports`` (name → module) and caching in ``namespace``."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        import importlib

        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    return __getattr__

"""Lazy package exports (PEP 562), and dataclasses whose methods are made on first use.

Why: every trustcopy process pays for what it imports, and a package ``__init__`` that
imports all its modules makes ``import trustcopy.policy.model`` load the whole engine.
Every process imports this module (through ``trustcopy/__init__``), so it imports nothing
at run time itself: ``typing`` alone (with ``re``) is a third of ``trustcopy --version``.

:func:`dataclass` is ``dataclasses.dataclass``, deferred. Python 3.11 makes a frozen
dataclass's six methods by compiling their source (``exec``): 0.7-1 ms a class on this
project's 2-core test machine. A re-push to a registry imports some 75 of the project's
dataclasses and instantiates about 35: measured, 81 classes made and 60 ms of CPU per
process before (h11's 7 included), 41 and 33 ms deferred. Deferred, a class costs a few
microseconds when its module is imported, and it is made when the first instance is: by
:mod:`trustcopy.dataclass_methods` (the real decorator for the fields, the methods as
closures instead of compiled source: 32 classes and 3 ms per re-push), or by the real
``dataclasses.dataclass`` for a shape that module leaves to it. Either way the class is
a dataclass with the fields, ``replace``, immutability, equality and
``inspect.signature`` the real decorator gives (test_dataclass_methods.py compares them);
only when and how the work happens changes. mypy sees ``dataclasses.dataclass`` itself.

Invariants:
- Nothing can see a class half made: the first ``__new__`` processes the class (its
  deferred dataclass bases first) under a lock, and every instance is created after that.
  The small ``__new__`` stays (CPython cannot give a class back ``object.__new__`` once
  its own was set); it only drops the arguments, which ``__init__`` then takes.
- A class that is *read* as a dataclass before it has instances (``dataclasses.fields(C)``)
  must be resolved first with :func:`resolve_dataclass`; ``dataclasses.fields`` raises
  ``TypeError`` on one that is not (a loud failure, never a wrong answer).
- A subclass made with the real ``dataclasses.dataclass`` would miss the fields of a base
  still deferred: subclass with this decorator (it resolves deferred bases first), or
  resolve the base. tests/unit/core/test_lazy_dataclass.py scans the package for it.
- What cannot be deferred is processed at once, as before: ``init=False`` (instances made
  with ``object.__new__``), ``slots=True`` (makes a new class), a class with its own
  ``__new__`` (or a base's other than ours).
"""

from __future__ import annotations

import _thread  # built in: no import cost (threading is not needed by every process)
import os  # already imported by the interpreter's start-up

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy knows the name
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any, TypeVar

    _T = TypeVar("_T")

#: Where a deferred class keeps the arguments of its ``@dataclass(...)`` until it is resolved.
_PENDING = "__trustcopy_deferred_dataclass__"
#: One lock for all resolutions: each takes well under a millisecond, once per class and process.
_RESOLVING = _thread.RLock()
#: Classes being resolved by the thread holding _RESOLVING (dataclasses may ask for their signature).
_IN_PROGRESS: set[type] = set()


def _after_fork_in_child() -> None:
    """A child forked while another thread resolved a class must not inherit the held lock."""
    global _RESOLVING  # noqa: PLW0603 - the module's one lock is replaced, as threading does for its own
    _RESOLVING = _thread.RLock()
    _IN_PROGRESS.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)


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


def resolve_dataclass(cls: type[_T]) -> type[_T]:
    """Make a deferred :func:`dataclass` (and its deferred dataclass bases) a real one now.

    Instances do this by themselves; call it before reading the class as a dataclass
    without an instance (``dataclasses.fields(C)``). Returns ``cls``; a class that is
    not deferred (or already resolved) is returned as it is.
    """
    with _RESOLVING:
        params = cls.__dict__.get(_PENDING)
        if params is None:
            return cls
        _resolve_bases(cls)
        from trustcopy import dataclass_methods

        _IN_PROGRESS.add(cls)
        try:
            if not dataclass_methods.apply(cls, params):
                import dataclasses

                dataclasses.dataclass(cls, **params)
        finally:
            _IN_PROGRESS.discard(cls)
        delattr(cls, _PENDING)  # last: a concurrent __new__ waits on the lock until here
    return cls


def _resolve_bases(cls: type) -> None:
    for base in reversed(cls.__mro__[1:]):
        if _PENDING in base.__dict__:
            resolve_dataclass(base)


class _InitSignature:
    """``C.__signature__`` of a deferred class: its ``__init__``'s, as for any dataclass.

    Without it ``inspect.signature(C)`` (and so ``help(C)``) would describe the
    argument-skipping ``__new__`` instead of the fields.
    """

    def __get__(self, instance: object, owner: type) -> Any:
        if _PENDING in owner.__dict__ and owner not in _IN_PROGRESS:
            resolve_dataclass(owner)
        import inspect

        init = owner.__init__  # type: ignore[misc]
        if getattr(init, "from_fields", False):  # made by trustcopy.dataclass_methods: (*args, **kwargs)
            import dataclasses

            from trustcopy.dataclass_methods import signature_parameters

            kind, empty = inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.empty
            return inspect.Signature(
                [inspect.Parameter(name, kind, annotation=annotation,
                                   default=empty if default is dataclasses.MISSING else default)
                 for name, annotation, default in signature_parameters(owner)],
                return_annotation=None)
        sig = inspect.signature(init)
        return sig.replace(parameters=tuple(sig.parameters.values())[1:])


def _deferred_dataclass(cls: type[_T] | None = None, /, **params: Any) -> Any:
    """``dataclasses.dataclass`` with the same arguments, run on the first instance (module docstring)."""

    def wrap(cls: type[_T]) -> type[_T]:
        inherited_new = cls.__new__
        if (params.get("init") is False or params.get("slots") or "__new__" in cls.__dict__
                or (inherited_new is not object.__new__ and not getattr(inherited_new, _PENDING, False))):
            _resolve_bases(cls)
            import dataclasses

            return dataclasses.dataclass(cls, **params)

        def __new__(new_cls: type[_T], *_args: Any, **_kwargs: Any) -> _T:
            if _PENDING in cls.__dict__:
                resolve_dataclass(cls)
            return object.__new__(new_cls)

        setattr(__new__, _PENDING, True)  # marks the stub: subclasses may defer too
        # Kept after resolving (CPython cannot give a class back object.__new__ once its own
        # __new__ was set): it only skips the arguments, which __init__ then takes.
        cls.__new__ = __new__  # type: ignore[assignment,method-assign]
        cls.__signature__ = _InitSignature()  # type: ignore[attr-defined]
        setattr(cls, _PENDING, params)
        return cls

    return wrap if cls is None else wrap(cls)


if TYPE_CHECKING:
    from dataclasses import dataclass
else:
    dataclass = _deferred_dataclass

"""The methods ``dataclasses.dataclass`` would write for a plain (frozen) dataclass, made without ``exec``.

Why: Python 3.11 makes each dataclass method by compiling its source text, six compilations
for a frozen class, about 1 ms a class on this project's 2-core test machine (0.15 ms a
compilation). A re-push to a registry makes some 30 of the project's classes: 30 ms of the
process's 220. The behaviour of those methods is simple and fully specified by the
dataclasses documentation, so for the shapes the project uses we make them as closures over
the fields instead, and let ``dataclasses`` do everything else (fields, defaults, inheritance,
``__match_args__``, ``fields()``, ``replace()``, ``asdict()``). Measured: 30 classes,
33 → 6 ms (tests/unit/core/test_dataclass_methods.py checks the behaviour against the real
decorator's, shape by shape).

What is made here, as ``dataclasses`` makes it (3.11 ``_process_class``):
- ``__init__``: positional or keyword arguments in field order (``init=False`` fields are not
  parameters), defaults and ``default_factory`` (``init=False`` fields with a factory get it
  called), assignment through ``object.__setattr__`` when frozen, ``__post_init__()`` last;
  CPython's own ``TypeError`` messages for a missing, unexpected, repeated or extra argument.
- ``__repr__`` (``repr=True`` fields, guarded against recursion), ``__eq__`` (same class,
  ``compare=True`` fields as a tuple), ``__hash__`` (frozen: the hash fields' tuple;
  mutable: None), frozen ``__setattr__``/``__delattr__`` raising ``FrozenInstanceError``,
  each only where the class does not define its own.

``order=True`` adds the four comparisons the same way. A subclass of a dataclass gets the
real frozen ``__setattr__``/``__delattr__`` (two compilations instead of six), so that the
real decorator checks that frozen and mutable classes are not mixed.

Anything else is left to the real decorator (:func:`apply` returns False before touching
the class): ``unsafe_hash``, ``kw_only``, ``slots``, ``match_args=False``, ``eq=False``,
``InitVar`` fields, a class without a docstring, a frozen class defining
``__setattr__``/``__delattr__``, an ordered one defining a comparison.

Invariant: a class made here is a dataclass in every way ``dataclasses`` can observe:
``__dataclass_params__`` says what was asked (``init``, ``repr``, ``eq``, ``frozen``).
``inspect.signature(C)`` is the fields' signature (trustcopy.lazy gives it); only
``inspect.signature(C.__init__)`` shows ``(self, *args, **kwargs)``.
"""

from __future__ import annotations

import _thread
import dataclasses
from typing import Any

#: The only ``@dataclass(...)`` arguments handled here (the others only with their default values).
_HANDLED = frozenset({"frozen", "repr", "order"})
_ORDER = (("__lt__", "<"), ("__le__", "<="), ("__gt__", ">"), ("__ge__", ">="))


class _Factory:
    """The default shown in a signature for a field with a ``default_factory`` (as dataclasses shows it)."""

    def __repr__(self) -> str:
        return "<factory>"


FACTORY = _Factory()


def eligible(cls: type, params: dict[str, Any]) -> bool:
    """Whether :func:`apply` can make ``cls``'s methods (before anything is done to it)."""
    if not set(params) <= _HANDLED or not cls.__doc__:
        return False  # (without a docstring, dataclasses writes one from the signature: left to it)
    if params.get("frozen") and ("__setattr__" in cls.__dict__ or "__delattr__" in cls.__dict__):
        return False  # the real decorator raises its own error for that
    return not (params.get("order") and any(name in cls.__dict__ for name, _ in _ORDER))  # that one too


def apply(cls: type, params: dict[str, Any]) -> bool:
    """Make ``cls`` a dataclass with ``params``, its methods as closures; False (untouched) if not eligible.

    Raises:
        TypeError: as ``dataclasses.dataclass`` for an invalid definition (a field without a
            default after one with a default, a ``field()`` without annotation).
    """
    if not eligible(cls, params):
        return False
    frozen = bool(params.get("frozen", False))
    want_repr = bool(params.get("repr", True))
    order = bool(params.get("order", False))
    # A subclass of dataclasses takes the real frozen methods (two compilations), so that the
    # real decorator checks that frozen and non-frozen classes are not mixed.
    derived = any("__dataclass_fields__" in vars(base) for base in cls.__mro__[1:])
    # Was __hash__ written by the class itself? (Python sets it to None next to an __eq__.)
    class_hash = cls.__dict__.get("__hash__", dataclasses.MISSING)
    explicit_hash = not (class_hash is dataclasses.MISSING or (class_hash is None and "__eq__" in cls.__dict__))
    # Fields, defaults, ClassVars, __match_args__, the docstring: the real decorator, without methods.
    dataclasses.dataclass(cls, init=False, repr=False, eq=False, frozen=frozen and derived)
    every = cls.__dataclass_fields__  # type: ignore[attr-defined]
    fields = dataclasses.fields(cls)
    classvar = getattr(dataclasses, "_FIELD_CLASSVAR", None)
    real = set(map(id, fields))
    if any(id(f) not in real and getattr(f, "_field_type", None) is not classvar for f in every.values()) \
            or any(f.kw_only is True for f in fields):
        _undo(cls)  # InitVar or keyword-only fields: the real decorator (never seen in this project)
        return False
    _check_default_order(fields)
    _set(cls, "__init__", _make_init(cls, fields, frozen))
    if want_repr:
        _set(cls, "__repr__", _make_repr(cls, [f.name for f in fields if f.repr]))
    compared = [f.name for f in fields if f.compare]
    _set(cls, "__eq__", _make_compare(cls, compared, "=="))
    if order:
        for name, op in _ORDER:
            _set(cls, name, _make_compare(cls, compared, op))
    if frozen and not derived:
        names = frozenset(f.name for f in fields)
        _set(cls, "__setattr__", _make_frozen_setattr(cls, names))
        _set(cls, "__delattr__", _make_frozen_delattr(cls, names))
    if not explicit_hash:
        hashed = [f.name for f in fields if (f.compare if f.hash is None else f.hash)]
        made = _named(cls, "__hash__", _make_hash(cls, hashed)) if frozen else None
        cls.__hash__ = made  # type: ignore[assignment,method-assign]  # (replaces Python's None, as dataclasses)
    params_record = cls.__dataclass_params__  # type: ignore[attr-defined]
    params_record.init, params_record.repr, params_record.eq = True, want_repr, True
    params_record.order, params_record.frozen = order, frozen
    return True


def _undo(cls: type) -> None:
    for name in ("__dataclass_fields__", "__dataclass_params__", "__match_args__"):
        if name in cls.__dict__:
            delattr(cls, name)


def _check_default_order(fields: tuple[dataclasses.Field[Any], ...]) -> None:
    seen_default = False
    for f in fields:
        if not f.init:
            continue
        if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING:
            seen_default = True
        elif seen_default:
            raise TypeError(f"non-default argument {f.name!r} follows default argument")


def _named(cls: type, name: str, fn: Any) -> Any:
    fn.__name__ = name
    fn.__qualname__ = f"{cls.__qualname__}.{name}"
    fn.__module__ = cls.__module__
    return fn


def _set(cls: type, name: str, fn: Any) -> None:
    """Add a method unless the class defines its own (dataclasses' ``_set_new_attribute``)."""
    if name not in cls.__dict__:
        setattr(cls, name, _named(cls, name, fn))


def _names(names: list[str]) -> str:
    """CPython's list of argument names in an error: 'a', 'a' and 'b', 'a', 'b', and 'c'."""
    quoted = [f"'{n}'" for n in names]
    if len(quoted) == 1:
        return quoted[0]
    if len(quoted) == 2:
        return f"{quoted[0]} and {quoted[1]}"
    return ", ".join(quoted[:-1]) + f", and {quoted[-1]}"


def _make_init(cls: type, fields: tuple[dataclasses.Field[Any], ...], frozen: bool) -> Any:
    missing_ = dataclasses.MISSING
    params = tuple(f.name for f in fields if f.init)
    count = len(params)
    required = sum(1 for f in fields if f.init and f.default is missing_ and f.default_factory is missing_)
    # For each field in order: (name, is a parameter, default value, default factory).
    plan = tuple((f.name, f.init, f.default, f.default_factory) for f in fields
                 if f.init or f.default_factory is not missing_)
    setter = object.__setattr__ if frozen else setattr
    post_init = hasattr(cls, "__post_init__")
    qualname = f"{cls.__qualname__}.__init__()"
    # The name dataclasses gives the instance parameter (a keyword of that name is a repeat of it).
    self_name = "__dataclass_self__" if any(f.name == "self" for f in fields) else "self"

    positions = {name: i for i, name in enumerate(params)}
    absent = object()

    def missing(values: dict[str, Any]) -> TypeError:
        names = [n for n, p, d, fa in plan if p and n not in values and d is missing_ and fa is missing_]
        return TypeError(f"{qualname} missing {len(names)} required positional "
                         f"argument{'s' if len(names) > 1 else ''}: {_names(names)}")

    def __init__(self: Any, /, *args: Any, **kwargs: Any) -> None:
        nargs = len(args)
        for key in kwargs:  # CPython: keywords first, then too many positionals, then missing ones
            pos = positions.get(key)
            if pos is None:
                if key == self_name:
                    raise TypeError(f"{qualname} got multiple values for argument '{key}'")
                raise TypeError(f"{qualname} got an unexpected keyword argument '{key}'")
            if pos < nargs:
                raise TypeError(f"{qualname} got multiple values for argument '{key}'")
        if nargs > count:
            takes = f"{count + 1}" if required == count else f"from {required + 1} to {count + 1}"
            raise TypeError(f"{qualname} takes {takes} positional argument{'s' if count else ''} "
                            f"but {nargs + 1} were given")
        if nargs:
            values = dict(zip(params, args, strict=False))  # (more args than params raised above)
            values.update(kwargs)
        else:
            values = kwargs
        get = values.get
        for name, is_param, default, factory in plan:
            value = get(name, absent) if is_param else absent
            if value is absent:
                if factory is not missing_:
                    value = factory()
                elif default is not missing_:
                    value = default
                else:
                    raise missing(values)
            setter(self, name, value)
        if post_init:
            self.__post_init__()

    __init__.from_fields = True  # type: ignore[attr-defined]  # trustcopy.lazy builds the signature from the fields
    return __init__


def _make_repr(cls: type, names: list[str]) -> Any:
    running: set[tuple[int, int]] = set()

    def __repr__(self: Any) -> str:
        key = (id(self), _thread.get_ident())
        if key in running:
            return "..."
        running.add(key)
        try:
            inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
            return f"{self.__class__.__qualname__}({inner})"
        finally:
            running.discard(key)

    return __repr__


def _make_compare(cls: type, names: list[str], op: str) -> Any:
    """``__eq__`` or an ordering method: the fields' tuples compared, for two instances of one class."""
    import operator

    compare = {"==": operator.eq, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}[op]

    def method(self: Any, other: Any) -> Any:
        if other.__class__ is self.__class__:
            return compare(tuple(getattr(self, n) for n in names), tuple(getattr(other, n) for n in names))
        return NotImplemented

    return method


def _make_hash(cls: type, names: list[str]) -> Any:
    def __hash__(self: Any) -> int:
        return hash(tuple(getattr(self, n) for n in names))

    return __hash__


def _make_frozen_setattr(cls: type, names: frozenset[str]) -> Any:
    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)  # type: ignore[arg-type]  # (mypy: cls is a type)

    return __setattr__


def _make_frozen_delattr(cls: type, names: frozenset[str]) -> Any:
    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)  # type: ignore[arg-type]  # (mypy: cls is a type)

    return __delattr__


def signature_parameters(cls: type) -> list[tuple[str, Any, Any]]:
    """(name, annotation, default) of each ``__init__`` parameter, for ``inspect.signature``.

    The default is :data:`dataclasses.MISSING` for a required parameter and :data:`FACTORY`
    for a field with a ``default_factory`` (shown ``<factory>``, as ``dataclasses`` shows it).
    """
    out = []
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        default = FACTORY if f.default_factory is not dataclasses.MISSING else f.default
        out.append((f.name, f.type, default))
    return out

"""trustcopy.dataclass_methods against the real ``dataclasses.dataclass``, shape by shape.

Every class shape the project uses (and a few it does not) is made twice, by the real
decorator and by ``dataclass_methods.apply``; then the same calls go to both and must give
the same results, or the same exception with the same message.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
import types
from collections.abc import Callable
from dataclasses import FrozenInstanceError, InitVar, field
from typing import Any, ClassVar  # noqa: F401 - the "ClassVar[int]" annotations below name it

import pytest

from trustcopy import dataclass_methods, lazy

#: name → (field specs, params). A spec: (name, annotation, default or a dataclasses.field, or MISSING).
M = dataclasses.MISSING
SHAPES: dict[str, tuple[list[tuple[str, str, Any]], dict[str, Any]]] = {
    "empty-frozen": ([], {"frozen": True}),
    "one-field": ([("a", "int", M)], {"frozen": True}),
    "required-and-defaults": ([("a", "int", M), ("b", "str", M), ("c", "str", "c"), ("d", "int", 4)],
                              {"frozen": True}),
    "factories": ([("a", "int", M), ("tags", "tuple", field(default_factory=tuple)),
                   ("items", "list", field(default_factory=list))], {"frozen": True}),
    "repr-compare-hash-flags": ([("a", "int", M), ("secret", "str", field(default="s", repr=False)),
                                 ("note", "str", field(default="", compare=False)),
                                 ("cache", "dict", field(default_factory=dict, hash=False)),
                                 ("both", "str", field(default="", repr=False, compare=False))], {"frozen": True}),
    "init-false": ([("a", "int", M), ("derived", "list", field(init=False, repr=False, compare=False,
                                                                 default_factory=list)),
                    ("fixed", "int", field(init=False, default=7))], {"frozen": True}),
    "class-repr-false": ([("a", "int", M), ("b", "int", 2)], {"frozen": True, "repr": False}),
    "mutable": ([("a", "int", M), ("items", "list", field(default_factory=list))], {}),
    "mutable-explicit": ([("a", "int", M)], {"frozen": False}),
    "field-named-self": ([("self", "int", M), ("other", "int", 0)], {"frozen": True}),
    "ordered": ([("a", "int", M), ("b", "str", "b"), ("note", "str", field(default="", compare=False))],
                {"frozen": True, "order": True}),
}

CALLS: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
    ((), {}), ((1,), {}), ((1, "b"), {}), ((1, "b", "c", 4), {}), ((1, "b", "c", 4, 5), {}),
    ((), {"a": 1}), ((), {"a": 1, "b": "x"}), ((1,), {"a": 2}), ((1,), {"nope": 2}), ((1, "b"), {"d": 9}),
    ((), {"self": 3}), ((3,), {"other": 4}), ((1,), {"tags": ("t",)}), ((1,), {"secret": "x", "note": "n"}),
    ((1, 2), {}), ((1, 2, 3), {}), ((1,), {"derived": [1]}), ((), {"b": "x"}),
]


def _build(shape: str, decorate: Callable[[type, dict[str, Any]], type],
           extra: dict[str, Any] | None = None) -> type:
    specs, params = SHAPES[shape]
    namespace: dict[str, Any] = {"__annotations__": {}, "__doc__": f"The {shape} shape.",
                                 "LIMIT": 3, **(extra or {})}
    namespace["__annotations__"]["LIMIT"] = "ClassVar[int]"
    for name, annotation, default in specs:
        namespace["__annotations__"][name] = annotation
        if default is not M:
            namespace[name] = copy.copy(default)
    cls = types.new_class(shape.title().replace("-", ""), (), {}, lambda ns: ns.update(namespace))
    cls.__module__ = __name__
    return decorate(cls, dict(params))


def _real(cls: type, params: dict[str, Any]) -> type:
    return dataclasses.dataclass(cls, **params)  # type: ignore[call-overload,no-any-return]


def _fast(cls: type, params: dict[str, Any]) -> type:
    assert dataclass_methods.apply(cls, params), "not eligible"
    return cls


def _outcome(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[str, Any]:
    try:
        return "ok", fn(*args, **kwargs)
    except Exception as exc:  # compared between the two decorators
        return type(exc).__name__, str(exc).replace("Fast", "").replace("Real", "")


def _made(cls: type, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return _state(cls(*args, **kwargs))


def _replaced(obj: Any, changes: dict[str, Any]) -> Any:
    return _state(dataclasses.replace(obj, **changes))


def _state(obj: Any) -> Any:
    return sorted(vars(obj).items())


@pytest.mark.parametrize("shape", list(SHAPES))
def test_construction_and_errors_match(shape: str) -> None:
    real, fast = _build(shape, _real), _build(shape, _fast)
    for args, kwargs in CALLS:
        assert _outcome(_made, real, args, kwargs) == _outcome(_made, fast, args, kwargs), (shape, args, kwargs)


@pytest.mark.parametrize("shape", list(SHAPES))
def test_values_behave_alike(shape: str) -> None:
    real, fast = _build(shape, _real), _build(shape, _fast)
    for args, kwargs in CALLS:
        try:
            r1, r2 = real(*args, **kwargs), real(*args, **kwargs)
        except TypeError:
            continue
        f1, f2 = fast(*args, **kwargs), fast(*args, **kwargs)
        if SHAPES[shape][1].get("repr", True):
            assert repr(f1).replace(fast.__qualname__, "X") == repr(r1).replace(real.__qualname__, "X")
        else:
            assert fast.__repr__ is real.__repr__ is object.__repr__
        assert (f1 == f2) == (r1 == r2) and (f1 != f2) == (r1 != r2)
        assert (f1 == object()) == (r1 == object()) and f1 != r1  # another class is never equal
        # equal hashes, or the same TypeError (unhashable class, or a list among the hashed fields)
        assert _outcome(lambda f1=f1, f2=f2: hash(f1) == hash(f2)) == \
            _outcome(lambda r1=r1, r2=r2: hash(r1) == hash(r2))
        assert dataclasses.asdict(f1) == dataclasses.asdict(r1)
        for name in ("a", "zz", "self"):
            f3, r3 = fast(*args, **kwargs), real(*args, **kwargs)
            assert _outcome(lambda f3=f3, name=name: setattr(f3, name, 5)) == \
                _outcome(lambda r3=r3, name=name: setattr(r3, name, 5))
            assert _state(f3) == _state(r3)
            assert _outcome(lambda f3=f3, name=name: delattr(f3, name)) == \
                _outcome(lambda r3=r3, name=name: delattr(r3, name))
            assert _state(f3) == _state(r3)
        assert _state(copy.deepcopy(f1)) == _state(f1)
        changes = {f.name: 9 for f in dataclasses.fields(real) if f.init}
        assert _outcome(_replaced, f1, changes) == _outcome(_replaced, r1, changes)


def test_ordering_matches() -> None:
    real, fast = _build("ordered", _real), _build("ordered", _fast)
    pairs = [((1,), (2,)), ((1, "b"), (1, "a")), ((1, "b"), (1, "b")), ((1, "b", "x"), (1, "b", "y"))]
    for left, right in pairs:
        for op in ("__lt__", "__le__", "__gt__", "__ge__"):
            assert getattr(fast(*left), op)(fast(*right)) == getattr(real(*left), op)(real(*right)), (left, right, op)
    assert sorted([fast(3), fast(1, "z"), fast(1, "a")]) == [fast(1, "a"), fast(1, "z"), fast(3)]
    assert fast(1).__lt__(real(1)) is NotImplemented
    with pytest.raises(TypeError):
        fast(1) < 2  # noqa: B015 - the comparison raising is the point


def _family(decorate: Callable[[type, dict[str, Any]], type]) -> tuple[type, type]:
    base = _build("required-and-defaults", decorate)
    child = types.new_class("Child", (base,), {}, lambda ns: ns.update(
        {"__annotations__": {"e": "int", "tags": "list"}, "e": 5, "tags": field(default_factory=list),
         "__doc__": "A child."}))
    return base, decorate(child, {"frozen": True})


def test_a_subclass_made_here_matches_the_real_one() -> None:
    (_, rchild), (fbase, fchild) = _family(_real), _family(_fast)
    for args, kwargs in [*CALLS, ((1, "b", "c", 4, 5, [1]), {}), ((1, "b"), {"e": 1})]:
        assert _outcome(_made, fchild, args, kwargs) == _outcome(_made, rchild, args, kwargs)
    f, r = fchild(1, "b", tags=[2]), rchild(1, "b", tags=[2])
    assert repr(f) == repr(r) and f == fchild(1, "b", tags=[2]) and f != fbase(1, "b")
    assert _outcome(lambda: setattr(f, "e", 1)) == _outcome(lambda: setattr(r, "e", 1))
    assert [x.name for x in dataclasses.fields(fchild)] == [x.name for x in dataclasses.fields(rchild)]
    assert repr(fchild.__dataclass_params__) == repr(rchild.__dataclass_params__)  # type: ignore[attr-defined]
    assert fchild.__match_args__ == rchild.__match_args__  # type: ignore[attr-defined]
    mutable = types.new_class("Mutable", (fbase,), {}, lambda ns: ns.update({"__doc__": "Not allowed."}))
    with pytest.raises(TypeError, match="cannot inherit non-frozen dataclass from a frozen one"):
        dataclass_methods.apply(mutable, {})
    frozen_on_mutable = types.new_class("F", (_build("mutable", _fast),), {},
                                        lambda ns: ns.update({"__doc__": "Not allowed either."}))
    with pytest.raises(TypeError, match="cannot inherit frozen dataclass from a non-frozen one"):
        dataclass_methods.apply(frozen_on_mutable, {"frozen": True})


@pytest.mark.parametrize("shape", list(SHAPES))
def test_class_level_introspection_matches(shape: str) -> None:
    real, fast = _build(shape, _real), _build(shape, _fast)

    def fields(cls: type) -> list[tuple[Any, ...]]:
        return [(f.name, f.type, f.default, f.default_factory, f.init, f.repr, f.compare, f.hash)
                for f in dataclasses.fields(cls)]

    assert fields(fast) == fields(real)
    assert fast.__match_args__ == real.__match_args__  # type: ignore[attr-defined]
    assert repr(fast.__dataclass_params__) == repr(real.__dataclass_params__)  # type: ignore[attr-defined]
    assert (fast.__hash__ is None) == (real.__hash__ is None)
    assert fast.__doc__ == real.__doc__
    assert fast.LIMIT == real.LIMIT == 3  # type: ignore[attr-defined]
    for name in ("__init__", "__repr__", "__eq__", "__setattr__", "__delattr__"):
        if name in real.__dict__:
            assert fast.__dict__[name].__qualname__.replace("Fast", "") == \
                real.__dict__[name].__qualname__.replace("Real", "")


def test_signature_through_lazy_is_the_real_one() -> None:
    for shape in SHAPES:
        real = _build(shape, _real)
        deferred = _build(shape, lambda cls, params: lazy.dataclass(cls, **params))
        assert str(inspect.signature(deferred)) == str(inspect.signature(real)), shape


def test_a_class_method_of_its_own_is_kept() -> None:
    def own_repr(self: Any) -> str:
        return "mine"

    def own_eq(self: Any, other: Any) -> bool:
        return True

    extra = {"__repr__": own_repr, "__eq__": own_eq, "__hash__": lambda self: 1}
    real, fast = _build("one-field", _real, extra), _build("one-field", _fast, extra)
    assert repr(fast(1)) == repr(real(1)) == "mine"
    assert fast(1) == fast(2) and hash(fast(1)) == hash(real(1)) == 1


def test_eq_without_hash_in_a_frozen_class_gets_none_as_dataclasses_decides() -> None:
    def own_eq(self: Any, other: Any) -> bool:
        return True

    real, fast = _build("one-field", _real, {"__eq__": own_eq}), _build("one-field", _fast, {"__eq__": own_eq})
    assert (real.__hash__ is None) == (fast.__hash__ is None)
    assert hash(fast(1)) == hash(fast(1))


def test_post_init_runs_last() -> None:
    def post(self: Any) -> None:
        object.__setattr__(self, "a", self.a * 2)

    real, fast = (_build("required-and-defaults", d, {"__post_init__": post}) for d in (_real, _fast))
    assert fast(2, "b").a == real(2, "b").a == 4


def test_recursive_repr_is_guarded() -> None:
    real, fast = _build("mutable", _real), _build("mutable", _fast)
    r, f = real(1), fast(1)
    r.items.append(r)
    f.items.append(f)
    assert repr(f).replace("Mutable", "X") == repr(r).replace("Mutable", "X")
    assert "..." in repr(f)


class Picklable:
    """Module-level, for pickle."""

    __annotations__ = {"name": "str", "size": "int"}
    size = 0


dataclass_methods.apply(Picklable, {"frozen": True})


def test_pickle_and_copy() -> None:
    value = Picklable("a", 2)  # type: ignore[call-arg]
    assert pickle.loads(pickle.dumps(value)) == value
    assert copy.copy(value) == value and copy.deepcopy(value) == value


def test_a_real_frozen_dataclass_may_extend_a_fast_one() -> None:
    base = _build("required-and-defaults", _fast)

    @dataclasses.dataclass(frozen=True)
    class Child(base):  # type: ignore[valid-type,misc]
        """Child."""

        e: int = 5

    child = Child(1, "b")
    assert repr(child).endswith("Child(a=1, b='b', c='c', d=4, e=5)")
    with pytest.raises(FrozenInstanceError):
        child.a = 2  # type: ignore[misc]
    with pytest.raises(TypeError, match="cannot inherit non-frozen dataclass from a frozen one"):
        @dataclasses.dataclass
        class Mutable(base):  # type: ignore[valid-type,misc]
            """Not allowed: as for a real frozen base."""


def test_what_is_not_handled_is_left_untouched() -> None:
    for params in ({"unsafe_hash": True}, {"kw_only": True}, {"slots": True},
                   {"match_args": False}, {"eq": False}):
        cls = types.new_class("C", (), {}, lambda ns: ns.update({"__annotations__": {"a": "int"}, "__doc__": "C."}))
        assert not dataclass_methods.apply(cls, params)
        assert not dataclasses.is_dataclass(cls)

    class InitVarField:
        """An InitVar pseudo-field."""

        a: int
        b: InitVar[int]

    assert not dataclass_methods.apply(InitVarField, {"frozen": True})
    assert not dataclasses.is_dataclass(InitVarField) and "__match_args__" not in InitVarField.__dict__

    class KwOnly:
        """A keyword-only field."""

        a: int = field(kw_only=True)

    assert not dataclass_methods.apply(KwOnly, {"frozen": True}) and not dataclasses.is_dataclass(KwOnly)

    class OwnSetattr:
        """Frozen with its own __setattr__: the real decorator refuses it."""

        a: int

        def __setattr__(self, name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

    assert not dataclass_methods.apply(OwnSetattr, {"frozen": True})

    class OwnOrder:
        """Ordered, with its own __lt__: the real decorator refuses it."""

        a: int

        def __lt__(self, other: Any) -> bool:
            return True

    class NoDoc:
        a: int

    assert not dataclass_methods.apply(OwnOrder, {"order": True})
    assert not dataclass_methods.apply(NoDoc, {"frozen": True})


def test_invalid_definitions_fail_as_with_dataclasses() -> None:
    def bad() -> type:
        return types.new_class("Bad", (), {}, lambda ns: ns.update(
            {"__annotations__": {"a": "int", "b": "int"}, "a": 1, "__doc__": "Bad."}))

    with pytest.raises(TypeError) as real_error:
        dataclasses.dataclass(bad(), frozen=True)
    with pytest.raises(TypeError) as fast_error:
        dataclass_methods.apply(bad(), {"frozen": True})
    assert str(fast_error.value) == str(real_error.value)


def test_no_classvar_annotation_is_taken_for_a_field() -> None:
    cls = _build("one-field", _fast)
    assert [f.name for f in dataclasses.fields(cls)] == ["a"]
    assert "LIMIT" not in cls.__match_args__  # type: ignore[attr-defined]

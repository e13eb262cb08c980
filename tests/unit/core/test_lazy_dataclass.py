"""trustcopy.lazy.dataclass: the same classes as ``dataclasses.dataclass``, made on first use.

Each behaviour is checked on a deferred class *and* on the same class made by the real
decorator, so the tests say "identical", not merely "works".
"""

from __future__ import annotations

import abc
import dataclasses
import inspect
import pickle
import subprocess
import sys
import threading
from dataclasses import FrozenInstanceError, field
from typing import Any, ClassVar

import pytest

from trustcopy import lazy


def _pair(make: Any) -> tuple[type, type]:
    """The class ``make(decorator)`` builds, deferred and real."""
    return make(lazy.dataclass), make(dataclasses.dataclass)


def _point(dc: Any) -> type:
    @dc(frozen=True)
    class Point:
        """A value."""

        x: int
        y: str = "y"
        tags: tuple[str, ...] = field(default_factory=tuple)
        note: str = field(default="", compare=False, repr=False)
        LIMIT: ClassVar[int] = 3

    return Point


def _pending(cls: type) -> bool:
    return lazy._PENDING in cls.__dict__


def test_a_deferred_class_is_not_processed_until_its_first_instance() -> None:
    deferred, _ = _pair(_point)
    assert _pending(deferred) and not dataclasses.is_dataclass(deferred)
    deferred(1)
    assert not _pending(deferred) and dataclasses.is_dataclass(deferred)


@pytest.mark.parametrize("which", [0, 1], ids=["deferred", "real"])
def test_values_behave_as_the_real_dataclass(which: int) -> None:
    cls = _pair(_point)[which]
    a, b = cls(1, tags=("t",)), cls(1, tags=("t",), note="ignored by eq")
    assert a == b and hash(a) == hash(b) and a != cls(2)
    assert repr(a) == "_point.<locals>.Point(x=1, y='y', tags=('t',))"
    with pytest.raises(FrozenInstanceError):
        a.x = 2
    with pytest.raises(FrozenInstanceError):
        del a.y
    assert dataclasses.replace(a, y="z") == cls(1, "z", ("t",))
    assert [f.name for f in dataclasses.fields(cls)] == ["x", "y", "tags", "note"]
    assert dataclasses.asdict(a) == {"x": 1, "y": "y", "tags": ("t",), "note": ""}
    assert cls.__match_args__ == ("x", "y", "tags", "note")
    with pytest.raises(TypeError, match="missing 1 required positional argument"):
        cls()
    with pytest.raises(TypeError, match="unexpected keyword argument 'nope'"):
        cls(1, nope=2)


@lazy.dataclass(frozen=True)
class Stored:
    """A deferred class at module level (pickle needs to find it by name)."""

    name: str
    size: int = 0


def test_pickle_round_trip() -> None:
    value = Stored("a", 1)
    assert pickle.loads(pickle.dumps(value)) == value


def test_methods_signature_and_params_are_the_real_decorators() -> None:
    """The methods are trustcopy.dataclass_methods' (test_dataclass_methods.py compares their behaviour)."""
    deferred, real = _pair(_point)
    deferred(0)
    for name in ("__init__", "__repr__", "__eq__", "__hash__", "__setattr__", "__delattr__"):
        made, made_by_real = getattr(deferred, name), getattr(real, name)
        assert made.__qualname__ == made_by_real.__qualname__
        assert made.__module__ == made_by_real.__module__
    assert str(inspect.signature(deferred)) == str(inspect.signature(real))
    assert deferred.__doc__ == real.__doc__ == "A value."
    assert repr(deferred.__dataclass_params__) == repr(real.__dataclass_params__)


def test_signature_of_a_class_not_yet_used_is_its_fields() -> None:
    deferred, real = _pair(_point)
    assert _pending(deferred)
    assert str(inspect.signature(deferred)) == str(inspect.signature(real))


def test_inheritance_deferred_bases_are_made_first() -> None:
    def make(dc: Any) -> tuple[type, type, type]:
        @dc(frozen=True)
        class Base:
            """Base."""

            a: int
            b: int = 0

        @dc(frozen=True)
        class Child(Base):
            """Child."""

            c: int = 1

        class Plain(Child):
            """Not a dataclass itself."""

        return Base, Child, Plain

    (d_base, d_child, d_plain), (r_base, r_child, r_plain) = make(lazy.dataclass), make(dataclasses.dataclass)
    assert _pending(d_base) and _pending(d_child)
    assert repr(d_plain(1, c=3)).endswith("Plain(a=1, b=0, c=3)")
    assert repr(r_plain(1, c=3)).endswith("Plain(a=1, b=0, c=3)")
    assert not _pending(d_base) and not _pending(d_child)
    assert d_base(1) != d_child(1)  # different classes are never equal, as for real dataclasses
    assert r_base(1) != r_child(1)
    assert [f.name for f in dataclasses.fields(d_child)] == ["a", "b", "c"]


def test_a_real_dataclass_may_extend_a_deferred_one_once_resolved() -> None:
    @lazy.dataclass(frozen=True)
    class Base:
        """Base."""

        a: int

    @dataclasses.dataclass(frozen=True)
    class Child(lazy.resolve_dataclass(Base)):  # type: ignore[misc]
        """Child."""

        b: int = 2

    assert Child(1) == Child(1, 2) and [f.name for f in dataclasses.fields(Child)] == ["a", "b"]


def test_no_project_dataclass_extends_a_base_that_was_still_deferred() -> None:
    """``dataclasses.dataclass`` on a subclass of a deferred class would miss the base's fields.

    lazy.dataclass resolves deferred bases first; the real decorator does not know to. So
    in a fresh interpreter that imports every module, no dataclass may have been made while
    one of its bases was still deferred.
    """
    script = (
        "import dataclasses, importlib, pkgutil, sys, trustcopy, trustcopy.lazy as lazy\n"
        "for m in pkgutil.walk_packages(trustcopy.__path__, 'trustcopy.'):\n"
        "    if m.name.endswith('__main__'):\n"
        "        continue\n"
        "    importlib.import_module(m.name)\n"
        "bad, seen = [], 0\n"
        "for mod in list(sys.modules.values()):\n"
        "    if not getattr(mod, '__name__', '').startswith('trustcopy'):\n"
        "        continue\n"
        "    for cls in vars(mod).values():\n"
        "        if not isinstance(cls, type) or cls.__module__ != mod.__name__:\n"
        "            continue\n"
        "        seen += lazy._PENDING in cls.__dict__\n"
        "        pending_base = any(lazy._PENDING in b.__dict__ for b in cls.__mro__[1:])\n"
        "        if '__dataclass_fields__' in cls.__dict__ and pending_base:\n"
        "            bad.append(cls.__qualname__)\n"
        "print(seen, sorted(bad))\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    out = run.stdout.split(" ", 1)
    assert int(out[0]) > 50  # the scan saw the deferred classes (most of the project's)
    assert out[1].strip() == "[]"


def test_post_init_and_abstract_bases_as_before() -> None:
    @lazy.dataclass(frozen=True)
    class Shape(abc.ABC):
        """Abstract."""

        sides: int

        def __post_init__(self) -> None:
            object.__setattr__(self, "sides", int(self.sides))

        @abc.abstractmethod
        def name(self) -> str:
            """The name."""

    @lazy.dataclass(frozen=True)
    class Square(Shape):
        """Concrete."""

        def name(self) -> str:
            return "square"

    with pytest.raises(TypeError, match="abstract"):
        Shape(4)  # type: ignore[abstract]
    assert Square("4").sides == 4  # type: ignore[arg-type]


def test_mutable_dataclasses_defer_too() -> None:
    @lazy.dataclass
    class Box:
        """Mutable."""

        items: list[int] = field(default_factory=list)

    box = Box()
    box.items.append(1)
    box.items = [2]
    assert box == Box([2]) and Box.__hash__ is None  # eq without frozen: unhashable, as dataclasses


def test_what_cannot_be_deferred_is_made_at_once() -> None:
    @lazy.dataclass(frozen=True, init=False)
    class Built:
        """Instances are made with object.__new__."""

        a: int

    @lazy.dataclass(frozen=True, slots=True)
    class Slotted:
        """slots=True makes a new class."""

        a: int

    assert dataclasses.is_dataclass(Built) and not _pending(Built)
    assert dataclasses.is_dataclass(Slotted) and Slotted.__slots__ == ("a",)


def test_fields_of_a_class_without_instances_needs_resolve() -> None:
    deferred, _ = _pair(_point)
    with pytest.raises(TypeError, match="dataclass"):
        dataclasses.fields(deferred)
    assert lazy.resolve_dataclass(deferred) is deferred
    assert [f.name for f in dataclasses.fields(deferred)] == ["x", "y", "tags", "note"]


def test_first_instances_made_concurrently_all_get_the_whole_class() -> None:
    """Threads racing to make the first instance: none may see a class half made."""
    for _ in range(20):
        deferred, _real = _pair(_point)
        start = threading.Barrier(8)
        made: list[Any] = []
        errors: list[BaseException] = []

        def make(i: int, cls: type = deferred, start: threading.Barrier = start, made: list[Any] = made,
                 errors: list[BaseException] = errors) -> None:
            start.wait()
            try:
                made.append(cls(i, tags=("t",)))
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=make, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert sorted(v.x for v in made) == list(range(8))
        assert all(v == deferred(v.x, tags=("t",)) and hash(v) == hash(deferred(v.x, tags=("t",))) for v in made)


def test_project_classes_are_deferred_until_used() -> None:
    """Importing the policy and manifest modules makes none of their classes (the point of it)."""
    script = (
        "import dataclasses, trustcopy.lazy as lazy\n"
        "import trustcopy.policy.identity as identity, trustcopy.manifest.lists as lists\n"
        "classes = [identity.MatchRepository, identity.RemapIdentity, lists.DockerManifestList, lists.OCIIndex]\n"
        "print(sum(lazy._PENDING in c.__dict__ and not dataclasses.is_dataclass(c) for c in classes))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "4"


@lazy.dataclass(frozen=True)
class _ForkProbe:
    """Made for the first time in a forked child only."""

    name: str


def test_a_child_forked_while_a_class_is_being_made_does_not_hang() -> None:
    """The resolution lock is not inherited held (os.register_at_fork)."""
    import os
    import signal
    import time

    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with lazy._RESOLVING:
            held.set()
            release.wait()

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait()
    pid = os.fork()
    if pid == 0:  # the child: make the class, exit at once
        code = 0 if _ForkProbe("x") == _ForkProbe("x") else 1
        os._exit(code)
    release.set()
    holder.join()
    deadline = time.monotonic() + 20
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the forked child hung on the lock its parent's thread held")
        time.sleep(0.05)
    assert os.waitstatus_to_exitcode(status) == 0

"""Go's types as a template sees them: structs, slices, maps, named ints, ``%T`` names, kinds.

Why: Go's template behaviour depends on a value's type, not only its contents (a nil slice
prints ``[]`` but encodes as ``null``; a missing struct field is an error, a missing map key
``<no value>``), so the data skopeo formats is handed to the executor as these Python types.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class Struct(dict[str, Any]):
    """A Go struct seen as a dict: a missing field is an error, not ``<no value>``."""

    def __init__(self, type_name: str, *args: Any, omit_empty: tuple[str, ...] = (),
                 json_names: Mapping[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.type_name = type_name
        #: Fields tagged ``json:",omitempty"``: left out of ``json`` when empty.
        self.omit_empty = omit_empty
        #: Fields whose ``json`` tag names another key (v1.Image's ``os.version``): ``json`` writes that key.
        self.json_names: Mapping[str, str] = json_names or {}


class Slice(list[Any]):
    """A Go slice; ``type_name`` is its type for ``%T`` and errors (``[]string`` unless set)."""

    type_name = "[]string"


class NilList(Slice):
    """A nil Go slice: prints ``[]``, encodes as ``null``."""


class Map(dict[str, Any]):
    """A Go map; ``type_name`` is its type (``map[string]string`` unless set)."""

    type_name = "map[string]string"


class NilMap(Map):
    """A nil Go map: prints ``map[]``, encodes as ``null``."""


class Int64(int):
    """A Go ``int64`` (a layer's Size, ``.Created.Unix``): prints as a number, ``%T`` says int64."""

    type_name = "int64"


class Uint8(int):
    """A Go ``byte``: what ``index`` of a string gives."""

    type_name = "uint8"


class Digest(str):
    """A ``digest.Digest``: a string with methods (``.Digest.Algorithm``, ``.Digest.Encoded``)."""

    type_name = "digest.Digest"


class DigestAlgorithm(str):
    """A ``digest.Algorithm`` (what ``.Digest.Algorithm`` returns): ``%T`` names it, string parameters refuse it."""

    type_name = "digest.Algorithm"


def go_type(value: Any) -> str:
    """The Go type name of a value, as ``%T`` prints it (a ``type_name`` attribute names the Go type)."""
    if value is None or value is NO_VALUE:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    named = getattr(value, "type_name", None)
    if isinstance(named, str):
        return named
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, complex):
        return "complex128"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "[]string"
    if isinstance(value, Mapping):
        return "map[string]string"
    return type(value).__name__


def go_kind(value: Any) -> str:
    """Go's basicKind for comparisons (``invalid`` for anything else)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, Uint8):
        return "uint"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, complex):
        return "complex"
    if isinstance(value, str):
        return "string"
    return "invalid"


class NoValue:
    """Go's invalid reflect.Value: a missing map key; prints ``<no value>``."""

    def __repr__(self) -> str:
        return "<no value>"


NO_VALUE: Any = NoValue()

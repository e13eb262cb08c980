"""The functions a template may call: Go's builtins, containers/common's report functions, methods.

Why: ``skopeo inspect --format`` scripts call ``len``, ``index``, ``printf``, ``eq``… with Go's
argument checks and error texts, the newest skopeo's ``json join lower upper title split
truncate pad``, and the methods of the values it formats (``.Digest.Encoded``). Each function
lists its parameter kinds (Func.params) so the executor converts and checks arguments as Go's
reflection does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from trustcopy.cli.gotemplate.errors import MAX_SPLIT_PARTS, GoError, check_text_size
from trustcopy.cli.gotemplate.fmt import go_json, go_quote, go_sprintf, go_str
from trustcopy.cli.gotemplate.gotime import TIME_METHODS, GoTime
from trustcopy.cli.gotemplate.values import (
    NO_VALUE,
    DigestAlgorithm,
    NilList,
    NilMap,
    Slice,
    Struct,
    Uint8,
    go_kind,
    go_type,
)
from trustcopy.lazy import dataclass


def truth(value: Any) -> bool:
    """Go's isTrue: empty strings, slices and maps, zero numbers, nil pointers are false; structs true."""
    if value is None or value is NO_VALUE:
        return False
    if isinstance(value, GoTime):
        return value.rfc3339 is not None
    if isinstance(value, Struct):
        return True
    if isinstance(value, str | list | tuple | Mapping):
        return len(value) > 0
    return bool(value)


def is_nil(value: Any) -> bool:
    """Whether a value is a nil slice, map or pointer (what ``eq`` may compare such values with)."""
    return value is None or isinstance(value, NilList | NilMap) or (isinstance(value, GoTime) and value.rfc3339 is None)


@dataclass(frozen=True)
class Func:
    """A function's parameter kinds (value: reflect.Value, any, string, int, strings) and body."""

    call: Callable[..., Any]
    params: tuple[str, ...]
    variadic: str = ""


def _call(fn: Any, *args: Any) -> Any:
    """Go's ``call``: nothing a --format reaches is a function, so every call fails, when run (as in Go)."""
    if fn is NO_VALUE or fn is None:
        raise GoError("call of nil")
    raise GoError(f"non-function of type {go_type(fn)}")


def _sprint(*args: Any) -> str:
    out = []
    size = 0
    for n, arg in enumerate(args):
        if n and not isinstance(arg, str) and not isinstance(args[n - 1], str):
            out.append(" ")
        out.append(go_str(arg))
        size += len(out[-1]) + 1
        check_text_size(size)  # ({{print $big $big …}}: each argument within the bound, not their sum)
    return "".join(out)


def _sprintln(*args: Any) -> str:
    out = []
    size = 0
    for arg in args:
        out.append(go_str(arg))
        size += len(out[-1]) + 1
        check_text_size(size)
    return " ".join(out) + "\n"


def _printable(*args: Any) -> str:
    """text/template's evalArgs for html/js/urlquery: one plain string as is, else Sprint."""
    if len(args) == 1 and type(args[0]) is str:
        return args[0]
    return _sprint(*["<no value>" if a is None else a for a in args])


def _html(*args: Any) -> str:
    text = _printable(*args)
    check_text_size(len(text) + 4 * sum(text.count(c) for c in "&'\"") + 3 * sum(text.count(c) for c in "<>"))
    for raw, esc in (("&", "&amp;"), ("'", "&#39;"), ('"', "&#34;"), ("<", "&lt;"), (">", "&gt;"), ("\0", "\ufffd")):
        text = text.replace(raw, esc)
    return text


def _js_escape(ch: str) -> str:
    """JSEscape of one character (itself when it needs none)."""
    if ch in "\\'\"":
        return "\\" + ch
    if 0xDC80 <= ord(ch) < 0xDD00:  # a raw byte (not UTF-8): Go decodes U+FFFD, printable, and keeps the byte
        return ch
    if ch in "<>&=" or ord(ch) < 0x20 or (ord(ch) >= 0x80 and not ch.isprintable()):
        return f"\\u{ord(ch):04X}"
    return ch


def _js(*args: Any) -> str:
    text = _printable(*args)
    escapes = {ord(ch): esc for ch in set(text) if (esc := _js_escape(ch)) != ch}
    check_text_size(len(text) + sum(text.count(chr(code)) * (len(esc) - 1) for code, esc in escapes.items()))
    return text.translate(escapes)


def _urlquery(*args: Any) -> str:
    from urllib.parse import quote_plus

    data = _bytes(_printable(*args))  # bytes: a raw byte (not UTF-8) is escaped as itself
    check_text_size(len(data) + 2 * len(data.translate(None, _URL_KEPT)))  # (each other byte becomes %XX)
    return quote_plus(data, safe="-_.~")


_URL_KEPT = b"-_.~ 0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"  # (a space becomes +)


def _length(item: Any) -> int:
    if item is None or item is NO_VALUE:
        raise GoError("len of nil pointer")
    if isinstance(item, str):
        return len(item.encode("utf-8", "surrogateescape"))
    if isinstance(item, list | tuple) or (isinstance(item, Mapping) and not isinstance(item, Struct)):
        return len(item)
    raise GoError(f"len of type {go_type(item)}")


def _index_arg(key: Any, cap: int) -> int:
    if key is None or key is NO_VALUE:
        raise GoError("cannot index slice/array with nil")
    if not isinstance(key, int) or isinstance(key, bool):
        raise GoError(f"cannot index slice/array with type {go_type(key)}")
    if key < 0 or key > cap:
        raise GoError(f"index out of range: {key}")
    return int(key)


def _index(item: Any, *keys: Any) -> Any:
    if item is None or item is NO_VALUE:
        raise GoError("index of untyped nil")
    for key in keys:
        if isinstance(item, str | list | tuple):
            x = _index_arg(key, len(_bytes(item)) if isinstance(item, str) else len(item))
            size = len(_bytes(item)) if isinstance(item, str) else len(item)
            if x == size:
                raise GoError(f"index out of range: {x}")
            item = Uint8(_bytes(item)[x]) if isinstance(item, str) else item[x]
        elif isinstance(item, Mapping) and not isinstance(item, Struct):
            if key is None or key is NO_VALUE:
                raise GoError("value is nil; should be of type string")
            if type(key) is not str:
                raise GoError(f"value has type {go_type(key)}; should be string")
            zero: Any = "" if go_type(item) == "map[string]string" else Struct("struct {}")
            item = item.get(key, zero)
        else:
            raise GoError(f"can't index item of type {go_type(item)}")
    return item


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _slice(item: Any, *indexes: Any) -> Any:
    if item is None or item is NO_VALUE:
        raise GoError("slice of untyped nil")
    if len(indexes) > 3:
        raise GoError(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str):
        if len(indexes) == 3:
            raise GoError("cannot 3-index slice a string")
        size = len(_bytes(item))
    elif isinstance(item, list | tuple):
        size = len(item)
    else:
        raise GoError(f"can't slice item of type {go_type(item)}")
    idx = [0, size, size]
    for n, index in enumerate(indexes):
        idx[n] = _index_arg(index, size)
    if idx[0] > idx[1]:
        raise GoError(f"invalid slice index: {idx[0]} > {idx[1]}")
    if len(indexes) == 3 and idx[1] > idx[2]:
        raise GoError(f"invalid slice index: {idx[1]} > {idx[2]}")
    if isinstance(item, str):
        return type(item)(_bytes(item)[idx[0]:idx[1]].decode("utf-8", "surrogateescape"))
    out = Slice(item[idx[0]:idx[1]])
    out.type_name = go_type(item)
    return out


def _eq(a: Any, *others: Any) -> bool:
    if not others:
        raise GoError("missing argument for comparison")
    k1 = go_kind(a)
    for b in others:
        k2 = go_kind(b)
        if k1 != k2:
            if {k1, k2} == {"int", "uint"}:
                if int(a) == int(b):
                    return True
                continue
            if a is not NO_VALUE and b is not NO_VALUE:
                raise GoError("incompatible types for comparison")
            continue
        if k1 != "invalid":
            if (complex(a) == complex(b)) if k1 == "complex" else (a == b if k1 != "string" else str(a) == str(b)):
                return True
            continue
        if a is NO_VALUE or b is NO_VALUE:  # a missing map key equals a nil slice, map or pointer (Go's isNil)
            if (a is NO_VALUE or is_nil(a)) and (b is NO_VALUE or is_nil(b)):
                return True
            continue
        if go_type(a) != go_type(b):
            raise GoError(f"non-comparable types {go_str(a)}: {go_type(a)}, {go_type(b)}: {go_str(b)}")
        if isinstance(a, list | Mapping) and not isinstance(a, Struct):
            if is_nil(a) or is_nil(b):
                if is_nil(a) == is_nil(b):
                    return True
                continue
            raise GoError(f"non-comparable type {go_str(b)}: {go_type(b)}")
        if isinstance(a, Struct):
            raise GoError(f"non-comparable type {go_str(b)}: {go_type(b)}")
        if a is b:  # pointers (*time.Time): the same pointer
            return True
    return False


def _lt(a: Any, b: Any) -> bool:
    k1, k2 = go_kind(a), go_kind(b)
    if k1 == "invalid" or k2 == "invalid":
        raise GoError("invalid type for comparison")
    if k1 != k2:
        if {k1, k2} == {"int", "uint"}:
            return int(a) < int(b)
        raise GoError("incompatible types for comparison")
    if k1 in ("bool", "complex"):
        raise GoError("invalid type for comparison")
    return _bytes(a) < _bytes(b) if k1 == "string" else a < b  # type: ignore[no-any-return]


def _le(a: Any, b: Any) -> bool:
    return _lt(a, b) or _eq(a, b)


#: Go's simple case mappings where Python's full mapping of the character is longer than one character.
_SIMPLE_UPPER = {chr(c): chr(c + 8) for base in (0x1F80, 0x1F90, 0x1FA0) for c in range(base, base + 8)} | {
    "\u1fb3": "\u1fbc", "\u1fc3": "\u1fcc", "\u1ff3": "\u1ffc"}
_SIMPLE_LOWER = {"\u0130": "i"}


def go_case(text: str, how: str) -> str:
    """strings.ToUpper/ToLower: each character alone, by its simple mapping (Go: ``ß`` stays, sigma never final).

    Python's own str.upper/lower use the full mappings (``ß`` → ``SS``) and a final-sigma rule; Go's
    strings.Map also writes an invalid byte (here a surrogate escape) as U+FFFD.
    """
    out = []
    table = _SIMPLE_UPPER if how == "upper" else _SIMPLE_LOWER if how == "lower" else {}
    for ch in text:
        if "\udc80" <= ch <= "\udcff":
            out.append("\ufffd")
            continue
        mapped = getattr(ch, how)()
        out.append(mapped if len(mapped) == 1 else table.get(ch, _SIMPLE_UPPER.get(ch, ch) if how == "title" else ch))
    return "".join(out)


def _title(text: str) -> str:
    """strings.Title: the first letter of each word upper-cased (words split at non-letters)."""
    out, prev = [], " "
    for ch in text:
        # Go's isSeparator: ASCII other than letters, digits and _; beyond ASCII, spaces
        boundary = not (prev.isalnum() or prev == "_") if prev.isascii() else \
            not (prev.isalpha() or prev.isdigit()) and prev.isspace()
        out.append(go_case(ch, "title") if boundary else "\ufffd" if "\udc80" <= ch <= "\udcff" else ch)
        prev = ch
    return "".join(out)


def _split(text: str, sep: str) -> Slice:
    count = len(text) if sep == "" else text.count(sep) + 1
    if count > MAX_SPLIT_PARTS:  # each part costs some 60 bytes: {{split $big ""}} would take gigabytes
        raise GoError(f"the result would have {count} parts, more than trustcopy's limit of {MAX_SPLIT_PARTS}")
    if sep == "":
        parts = list(_bytes(text).decode("utf-8", "surrogateescape"))
    else:
        parts = text.split(sep)
    return Slice(parts)


def _truncate(text: str, length: int) -> str:
    data = _bytes(text)
    if len(data) < length:
        return text
    if length < 0:
        raise GoError(f"slice bounds out of range [:{length}]")
    return data[:length].decode("utf-8", "surrogateescape")


def _pad(text: str, prefix: int, suffix: int) -> str:
    if not text:
        return text
    if prefix < 0 or suffix < 0:
        raise GoError("strings: negative Repeat count")
    check_text_size(prefix + len(text) + suffix)
    return " " * prefix + text + " " * suffix


def _join(items: list[str], sep: str) -> str:
    check_text_size(sum(len(item) for item in items) + len(sep) * max(len(items) - 1, 0))
    return sep.join(items)


FUNCS: dict[str, Func] = {
    # Go's builtins
    "and": Func(lambda *a: a[-1], ("value",), "value"),
    "call": Func(_call, ("value",), "value"),
    "or": Func(lambda *a: a[-1], ("value",), "value"),
    "not": Func(lambda v: not truth(v), ("value",)),
    "len": Func(_length, ("value",)),
    "index": Func(_index, ("value",), "value"),
    "slice": Func(_slice, ("value",), "value"),
    "print": Func(_sprint, (), "any"),
    "printf": Func(lambda f, *a: go_sprintf(f, a), ("string",), "any"),
    "println": Func(_sprintln, (), "any"),
    "html": Func(_html, (), "any"),
    "js": Func(_js, (), "any"),
    "urlquery": Func(_urlquery, (), "any"),
    "eq": Func(_eq, ("value",), "value"),
    "ne": Func(lambda a, b: not _eq(a, b), ("value", "value")),
    "lt": Func(_lt, ("value", "value")),
    "le": Func(_le, ("value", "value")),
    "gt": Func(lambda a, b: not _le(a, b), ("value", "value")),
    "ge": Func(lambda a, b: not _lt(a, b), ("value", "value")),
    # containers/common's report.DefaultFuncs (the newest skopeo; skopeo 1.9.3 has none of them)
    "json": Func(go_json, ("any",)),
    "join": Func(_join, ("strings", "string")),
    "lower": Func(lambda s: go_case(s, "lower") if not s.isascii() else s.lower(), ("string",)),
    "upper": Func(lambda s: go_case(s, "upper") if not s.isascii() else s.upper(), ("string",)),
    "title": Func(_title, ("string",)),
    "split": Func(_split, ("string", "string")),
    "truncate": Func(_truncate, ("string", "int")),
    "pad": Func(_pad, ("string", "int", "int")),
}

def _digest_parts(digest: str) -> tuple[str, str]:
    """go-digest's split at the first ``:``; without one, Algorithm and Encoded panic (a template error)."""
    if ":" not in digest:
        raise GoError(f"no ':' separator in digest {go_quote(digest)}")
    algorithm, _, encoded = digest.partition(":")
    return algorithm, encoded


#: Methods of digest.Digest and digest.Algorithm that trustcopy does not restate (refused by name).
UNSUPPORTED_DIGEST_METHODS = frozenset({"Validate", "Verifier", "Available", "Size", "Hash", "Digester", "Encode",
                                        "FromBytes", "FromReader", "FromString", "Set"})

# Methods of the Go types a template reaches: digest.Digest, and *time.Time / time.Time (gotime.py).
METHODS: dict[tuple[str, str], Func] = {
    ("digest.Digest", "Algorithm"): Func(lambda d: DigestAlgorithm(_digest_parts(d)[0]), ()),
    ("digest.Digest", "Encoded"): Func(lambda d: _digest_parts(d)[1], ()),
    ("digest.Digest", "Hex"): Func(lambda d: _digest_parts(d)[1], ()),
    ("digest.Digest", "String"): Func(str, ()),
    ("digest.Algorithm", "String"): Func(str, ()),
    ("time.Month", "String"): Func(str, ()),
    ("time.Weekday", "String"): Func(str, ()),
}
for _name, (_params, _call) in TIME_METHODS.items():
    for _type in ("*time.Time", "time.Time"):
        METHODS[_type, _name] = Func(_call, _params)

"""Go's ``text/template``, as ``skopeo inspect --format`` runs it.

Why: CI scripts written for skopeo run ``skopeo inspect --format '{{.Digest}}' …``; they
must keep working. skopeo formats through containers/common's ``report`` package, whose
behaviour this module follows (the newest skopeo): ``json`` (alone, or ``{{json}}``) means
indented JSON; otherwise the text gets ``\\t``/``\\n`` escapes expanded and a final newline
(or, when that breaks the template, is parsed as written), runs once per item
(``{{range .}}…{{end -}}`` unless it ranges over ``.`` itself) with ``$`` the list of items,
and gets report's functions (json join lower upper title split truncate pad) besides Go's.

The lexer, parser and executor restate Go's (text/template/parse/lex.go, parse.go, exec.go,
funcs.go): trim markers, comments, every literal form, variables (``$x :=``, ``$x =``,
``range $i, $e :=``), if/with/range/else/else if, break/continue, block/template, and the
builtins with Go's argument checks and error cases; values print as ``fmt`` prints them
(``[a b]``, ``map[k:v]``, ``<no value>``, ``%!d(string=x)``, times as
``2006-01-02 15:04:05 +0000 UTC``). tests/integration/test_gotemplate_skopeo_differential.py
compares it with the real skopeo. Refused with an error naming the construct: ``table``
formats and ``{{define}}``. Methods: only those of ``digest.Digest`` (Algorithm, Encoded, Hex,
String) and a few of ``*time.Time`` (String, Year, IsZero).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import field
from typing import Any

from trustcopy.errors import TrustcopyError
from trustcopy.lazy import dataclass

_JSON_FORMAT = r"^\s*(json|\{\{\s*json\.?\s*\}\})\s*$"  # (compiled on use: start-up time)


class TemplateError(TrustcopyError):
    """A --format template that cannot be parsed or executed (exit 1, as skopeo)."""

    default_code = "template-invalid"


class Struct(dict[str, Any]):
    """A Go struct seen as a dict: a missing field is an error, not ``<no value>``."""

    def __init__(self, type_name: str, *args: Any, omit_empty: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.type_name = type_name
        #: Fields tagged ``json:",omitempty"``: left out of ``json`` when empty.
        self.omit_empty = omit_empty


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


class GoTime:
    """A ``*time.Time``: prints like Go's ``time.Time.String``, encodes as RFC 3339."""

    def __init__(self, rfc3339: str | None) -> None:
        self.rfc3339 = rfc3339  # None: a nil *time.Time (prints <nil>)

    def utc_fields(self) -> tuple[int, int] | None:
        """time.Time's (wall, ext) for a UTC time without monotonic clock: (nanoseconds, seconds since year 1)."""
        import datetime

        match = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z", self.rfc3339 or "")
        if match is None:
            return None
        year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
        try:
            days = datetime.date(year, month, day).toordinal() - 1
        except ValueError:
            return None
        return int((match.group(7) or "0").ljust(9, "0")), days * 86400 + hour * 3600 + minute * 60 + second

    def __str__(self) -> str:
        text = self.rfc3339
        if text is None:
            return "<nil>"
        match = re.fullmatch(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)", text)
        if match is None:
            return text
        day, clock, frac, zone = match.groups()
        frac = (frac or "").rstrip("0").rstrip(".")
        if zone == "Z":
            return f"{day} {clock}{frac} +0000 UTC"
        offset = zone.replace(":", "")
        return f"{day} {clock}{frac} {offset} {offset}"


def is_json_format(text: str) -> bool:
    """Whether the format asks for indented JSON (containers/common's ``IsJSON``)."""
    return re.match(_JSON_FORMAT, text) is not None


_GO_SPACE = "[\t\n\f\r ]*"  # Go's \s


def _enforce_range(text: str) -> str:
    """report.EnforceRange: run the format once per item unless it ranges over the items itself."""
    pattern = f"(?s){{{{{_GO_SPACE}range{_GO_SPACE}\\.{_GO_SPACE}}}}}.*{{{{{_GO_SPACE}end{_GO_SPACE}-?{_GO_SPACE}}}}}"
    ranges = re.search(pattern, text)
    return text if ranges else "{{range .}}" + text + "{{end -}}"


def render(text: str, data: Any, name: str) -> str:
    """Run a user's format over ``data`` as skopeo does (see the module docstring).

    Raises:
        TemplateError: the template does not parse, or fails on this data.
    """
    if text.startswith("table "):
        raise TemplateError(f"--format: table formats are not supported: {text!r}")
    normalized = text.replace("\\t", "\t").replace("\\n", "\n")
    if not normalized.endswith("\n"):
        normalized += "\n"
    try:
        parser = _Parser(_enforce_range(normalized), name)
        nodes = parser.parse()
    except TemplateError:
        # report.Formatter.Parse: when the expanded escapes break the template ('{{printf "\\n"}}'),
        # the format is parsed as written.
        parser = _Parser(_enforce_range(text), name)
        nodes = parser.parse()
    out: list[str] = []
    root = Slice([data])
    root.type_name = "[]interface {}"
    _Exec(name, root, parser.templates).run(nodes, root, out)
    return "".join(out)


# -- values: Go's types and fmt ------------------------------------------------------------


class Int64(int):
    """A Go ``int64`` (a layer's Size): prints as a number, ``%T`` says int64."""


class Uint8(int):
    """A Go ``byte``: what ``index`` of a string gives."""


class Digest(str):
    """A ``digest.Digest``: a string with methods (``.Digest.Algorithm``, ``.Digest.Encoded``)."""


def go_type(value: Any) -> str:
    """The Go type name of a value, as ``%T`` prints it."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, Int64):
        return "int64"
    if isinstance(value, Uint8):
        return "uint8"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, complex):
        return "complex128"
    if value is _NO_VALUE:
        return "<nil>"
    if isinstance(value, Digest):
        return "digest.Digest"
    if isinstance(value, str):
        return "string"
    if isinstance(value, GoTime):
        return "*time.Time"
    if isinstance(value, Struct):
        return value.type_name
    if isinstance(value, list | tuple):
        return getattr(value, "type_name", "[]string")
    if isinstance(value, Mapping):
        return getattr(value, "type_name", "map[string]string")
    return type(value).__name__


def _kind(value: Any) -> str:
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


def go_float(value: float, verb: str = "g", prec: int = -1) -> str:
    """strconv.FormatFloat(value, verb, prec, 64) for the verbs templates use."""
    if math.isnan(value):
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    if verb in "eE":
        return f"%.{6 if prec < 0 else prec}{verb}" % value
    if verb in "fF":
        return f"%.{6 if prec < 0 else prec}f" % value
    if prec >= 0:  # %g with a precision
        return f"%.{prec or 1}g" % value
    # shortest: the digits of repr, %e when the exponent is < -4 or >= 6 (strconv's eprec when shortest)
    digits, exp = _shortest(value)
    sign = "-" if str(value).startswith("-") else ""
    if exp < -4 or exp >= 6:
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mant}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if exp < 0:
        return f"{sign}0.{'0' * (-exp - 1)}{digits}"
    if len(digits) <= exp + 1:
        return sign + digits + "0" * (exp + 1 - len(digits))
    return f"{sign}{digits[:exp + 1]}.{digits[exp + 1:]}"


def _shortest(value: float) -> tuple[str, int]:
    """The shortest decimal digits of ``value`` and the exponent of the first one."""
    text = repr(abs(value))
    mant, _, exp_text = text.partition("e")
    exp = int(exp_text) if exp_text else 0
    whole, _, frac = mant.partition(".")
    digits = (whole + frac).lstrip("0")
    if not digits:
        return "0", 0
    lead = len(whole) - 1 if whole.strip("0") else -(len(frac) - len(frac.lstrip("0")) + 1)
    return digits.rstrip("0") or "0", lead + exp


def go_quote(text: str) -> str:
    """strconv.Quote: Go's escapes; printable characters kept."""
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in "\a\b\f\n\r\t\v":
            out.append("\\" + "abfnrtv"["\a\b\f\n\r\t\v".index(ch)])
        elif ch == " " or ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def go_str(value: Any) -> str:
    """A value as Go's ``fmt.Sprint`` prints it."""
    return _fmt_value(value, "v", plus=False, sharp=False, depth=0)


def _fmt_value(value: Any, verb: str, *, plus: bool, sharp: bool, depth: int) -> str:
    """fmt's printValue for the verbs v/s/q/x/X/d over our values (containers recurse)."""
    if sharp and verb == "v":
        return _go_syntax(value)
    if value is None:
        return "<nil>" if verb == "v" else f"%!{verb}(<nil>)"
    if isinstance(value, GoTime):
        if verb in "vsqxX" or value.rfc3339 is None:
            return _fmt_value(str(value), verb, plus=plus, sharp=sharp, depth=depth)
        fields = value.utc_fields() if verb in "dob" else None
        if fields is not None:  # fmt prints the struct {wall, ext, loc}: loc is nil for UTC
            return "&{" + " ".join(format(n, verb) for n in fields) + " 0}"
        return f"%!{verb}(*time.Time={value})"
    if isinstance(value, bool):
        return ("true" if value else "false") if verb in "vt" else f"%!{verb}(bool={'true' if value else 'false'})"
    if isinstance(value, int):
        if verb in "vd":
            return str(int(value))
        if verb in "xXob":
            return format(int(value), verb)
        if verb == "c":
            return chr(value) if 0 <= value <= 0x10FFFF else "\ufffd"
        if verb == "U":
            return f"U+{int(value):04X}"
        if verb == "q":
            return "'" + go_quote(chr(value))[1:-1].replace("'", "\\'").replace('\\"', '"') + "'"
        return f"%!{verb}({go_type(value)}={int(value)})"
    if isinstance(value, float):
        if verb in "vgG":
            return go_float(value, "g").upper() if verb == "G" else go_float(value, "g")
        if verb in "eEfF":
            return go_float(value, verb)
        return f"%!{verb}(float64={go_float(value)})"
    if isinstance(value, complex):
        text = f"({go_float(value.real)}{'+' if value.imag >= 0 else ''}{go_float(value.imag)}i)"
        return text if verb in "vg" else f"%!{verb}(complex128={text})"
    if isinstance(value, str):
        if verb in "vs":
            return str(value)
        if verb == "q":
            return go_quote(value)
        if verb in "xX":
            return value.encode().hex() if verb == "x" else value.encode().hex().upper()
        return f"%!{verb}({go_type(value)}={value})"
    if isinstance(value, Struct):
        if plus and verb == "v":
            return "{" + " ".join(f"{k}:{_fmt_value(v, verb, plus=plus, sharp=sharp, depth=depth + 1)}"
                                  for k, v in value.items()) + "}"
        return "{" + " ".join(_fmt_value(v, verb, plus=plus, sharp=sharp, depth=depth + 1)
                              for v in value.values()) + "}"
    if isinstance(value, list | tuple):
        return "[" + " ".join(_fmt_value(v, verb, plus=plus, sharp=sharp, depth=depth + 1) for v in value) + "]"
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{_fmt_value(k, verb, plus=plus, sharp=sharp, depth=depth + 1)}:"
                                 f"{_fmt_value(value[k], verb, plus=plus, sharp=sharp, depth=depth + 1)}"
                                 for k in sorted(value)) + "]"
    return str(value)


def _go_syntax(value: Any) -> str:
    """``%#v``: Go-syntax representation (pointers print as addresses in Go: not produced here)."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Uint8):
        return f"0x{int(value):x}"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, Digest):
        return f'"{value}"'
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, Struct):
        return value.type_name + "{" + ", ".join(f"{k}:{_go_syntax(v)}" for k, v in value.items()) + "}"
    if isinstance(value, NilList | NilMap):
        return f"{go_type(value)}(nil)"
    if isinstance(value, list | tuple):
        return go_type(value) + "{" + ", ".join(_go_syntax(v) for v in value) + "}"
    if isinstance(value, Mapping):
        return go_type(value) + "{" + ", ".join(f"{_go_syntax(k)}:{_go_syntax(value[k])}" for k in sorted(value)) + "}"
    return go_str(value)


def go_sprintf(fmt: str, args: tuple[Any, ...]) -> str:
    """fmt.Sprintf for the verbs, flags, width and precision that templates use."""
    out: list[str] = []
    n = 0
    i = 0
    while i < len(fmt):
        j = fmt.find("%", i)
        if j < 0:
            out.append(fmt[i:])
            break
        out.append(fmt[i:j])
        i = j + 1
        flags = ""
        while i < len(fmt) and fmt[i] in "-+# 0":
            flags += fmt[i]
            i += 1
        width = prec = None
        start = i
        while i < len(fmt) and fmt[i].isdigit():
            i += 1
        if i > start:
            width = int(fmt[start:i])
        if i < len(fmt) and fmt[i] == ".":
            i += 1
            start = i
            while i < len(fmt) and fmt[i].isdigit():
                i += 1
            prec = int(fmt[start:i] or "0")
        if i >= len(fmt):
            out.append("%!(NOVERB)")
            break
        verb = fmt[i]
        i += 1
        if verb == "%":
            out.append("%")
            continue
        if n >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = args[n]
        n += 1
        out.append(_fmt_one(arg, verb, flags, width, prec))
    if n < len(args):
        out.append("%!(EXTRA " + ", ".join("<nil>" if a is None else f"{go_type(a)}={go_str(a)}"
                                           for a in args[n:]) + ")")
    return "".join(out)


def _fmt_one(arg: Any, verb: str, flags: str, width: int | None, prec: int | None) -> str:
    if verb == "T":
        text = go_type(arg)
    elif verb == "v" and "#" in flags:
        text = _go_syntax(arg)
    elif verb == "t" and isinstance(arg, bool):
        text = "true" if arg else "false"
    elif isinstance(arg, float) and verb in "eEfFgG" and prec is not None:
        text = go_float(arg, verb if verb != "F" else "f", prec)
    elif isinstance(arg, int | float) and not isinstance(arg, bool) and verb in "dxXobeEfFgGv" and \
            ("+" in flags or " " in flags):
        text = _fmt_value(arg, verb, plus=False, sharp=False, depth=0)
        if not text.startswith("-") and not text.startswith("%!"):
            text = ("+" if "+" in flags else " ") + text
    elif isinstance(arg, str) and verb in "sv" and prec is not None:
        text = str(arg)[:prec]
    elif isinstance(arg, str) and verb == "x" and " " in flags:
        text = " ".join(f"{b:02x}" for b in arg.encode())
    elif isinstance(arg, int) and not isinstance(arg, bool) and verb in "xXo" and "#" in flags:
        text = {"x": "0x", "X": "0X", "o": "0"}[verb] + format(int(arg), verb) if arg >= 0 else \
            "-" + {"x": "0x", "X": "0X", "o": "0"}[verb] + format(-int(arg), verb)
    else:
        text = _fmt_value(arg, verb, plus="+" in flags, sharp="#" in flags, depth=0)
    if width is not None and len(text) < width:
        if "-" in flags:
            text = text + " " * (width - len(text))
        elif "0" in flags and isinstance(arg, int | float) and not isinstance(arg, bool) and not text.startswith("%!"):
            sign = text[0] if text[:1] in "+- " else ""
            text = sign + text[len(sign):].rjust(width - len(sign), "0")
        else:
            text = " " * (width - len(text)) + text
    return text


def _to_json(value: Any) -> Any:
    if isinstance(value, GoTime):
        return value.rfc3339
    if isinstance(value, NilList | NilMap):
        return None
    if isinstance(value, Struct):
        return {k: _to_json(v) for k, v in value.items() if not (k in value.omit_empty and not v)}
    if isinstance(value, Mapping):  # Go sorts map keys; struct fields keep their order
        return {k: _to_json(value[k]) for k in sorted(value)}
    if isinstance(value, list | tuple):
        return [_to_json(v) for v in value]
    return value


def go_json(value: Any) -> str:
    """``json`` of containers/common: compact, HTML characters not escaped."""
    text = json.dumps(_to_json(value), ensure_ascii=False, separators=(",", ":"))
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")  # Go escapes these always


def _truth(value: Any) -> bool:
    """Go's isTrue: empty strings, slices and maps, zero numbers, nil pointers are false; structs true."""
    if value is None or value is _NO_VALUE:
        return False
    if isinstance(value, GoTime):
        return value.rfc3339 is not None
    if isinstance(value, Struct):
        return True
    if isinstance(value, str | list | tuple | Mapping):
        return len(value) > 0
    return bool(value)

# -- functions: Go's builtins and containers/common's DefaultFuncs ------------------------------


class _GoError(Exception):
    """An error a template function returns (Go: ``error calling NAME: …``)."""


@dataclass(frozen=True)
class _Func:
    """A function's parameter kinds (value: reflect.Value, any, string, int, strings) and body."""

    call: Callable[..., Any]
    params: tuple[str, ...]
    variadic: str = ""


def _sprint(*args: Any) -> str:
    out = []
    for n, arg in enumerate(args):
        if n and not isinstance(arg, str) and not isinstance(args[n - 1], str):
            out.append(" ")
        out.append(go_str(arg))
    return "".join(out)


def _printable(*args: Any) -> str:
    """text/template's evalArgs for html/js/urlquery: one plain string as is, else Sprint."""
    if len(args) == 1 and type(args[0]) is str:
        return args[0]
    return _sprint(*["<no value>" if a is None else a for a in args])


def _html(*args: Any) -> str:
    text = _printable(*args)
    for raw, esc in (("&", "&amp;"), ("'", "&#39;"), ('"', "&#34;"), ("<", "&lt;"), (">", "&gt;"), ("\0", "\ufffd")):
        text = text.replace(raw, esc)
    return text


def _js(*args: Any) -> str:
    out = []
    for ch in _printable(*args):
        if ch in "\\'\"":
            out.append("\\" + ch)
        elif ch in "<>&=" or ord(ch) < 0x20 or (ord(ch) >= 0x80 and not ch.isprintable()):
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return "".join(out)


def _urlquery(*args: Any) -> str:
    from urllib.parse import quote_plus

    return quote_plus(_printable(*args), safe="-_.~")


def _length(item: Any) -> int:
    if item is None or item is _NO_VALUE:
        raise _GoError("len of nil pointer")
    if isinstance(item, str):
        return len(item.encode("utf-8", "surrogateescape"))
    if isinstance(item, list | tuple) or (isinstance(item, Mapping) and not isinstance(item, Struct)):
        return len(item)
    raise _GoError(f"len of type {go_type(item)}")


def _index_arg(key: Any, cap: int) -> int:
    if key is None or key is _NO_VALUE:
        raise _GoError("cannot index slice/array with nil")
    if not isinstance(key, int) or isinstance(key, bool):
        raise _GoError(f"cannot index slice/array with type {go_type(key)}")
    if key < 0 or key > cap:
        raise _GoError(f"index out of range: {key}")
    return int(key)


def _index(item: Any, *keys: Any) -> Any:
    if item is None or item is _NO_VALUE:
        raise _GoError("index of untyped nil")
    for key in keys:
        if isinstance(item, str | list | tuple):
            x = _index_arg(key, len(_bytes(item)) if isinstance(item, str) else len(item))
            size = len(_bytes(item)) if isinstance(item, str) else len(item)
            if x == size:
                raise _GoError(f"index out of range: {x}")
            item = Uint8(_bytes(item)[x]) if isinstance(item, str) else item[x]
        elif isinstance(item, Mapping) and not isinstance(item, Struct):
            if key is None or key is _NO_VALUE:
                raise _GoError("value is nil; should be of type string")
            if type(key) is not str:
                raise _GoError(f"value has type {go_type(key)}; should be string")
            zero: Any = "" if go_type(item) == "map[string]string" else Struct("struct {}")
            item = item.get(key, zero)
        else:
            raise _GoError(f"can't index item of type {go_type(item)}")
    return item


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _slice(item: Any, *indexes: Any) -> Any:
    if item is None or item is _NO_VALUE:
        raise _GoError("slice of untyped nil")
    if len(indexes) > 3:
        raise _GoError(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str):
        if len(indexes) == 3:
            raise _GoError("cannot 3-index slice a string")
        size = len(_bytes(item))
    elif isinstance(item, list | tuple):
        size = len(item)
    else:
        raise _GoError(f"can't slice item of type {go_type(item)}")
    idx = [0, size, size]
    for n, index in enumerate(indexes):
        idx[n] = _index_arg(index, size)
    if idx[0] > idx[1]:
        raise _GoError(f"invalid slice index: {idx[0]} > {idx[1]}")
    if len(indexes) == 3 and idx[1] > idx[2]:
        raise _GoError(f"invalid slice index: {idx[1]} > {idx[2]}")
    if isinstance(item, str):
        return type(item)(_bytes(item)[idx[0]:idx[1]].decode("utf-8", "surrogateescape"))
    out = Slice(item[idx[0]:idx[1]])
    out.type_name = go_type(item)
    return out


def _eq(a: Any, *others: Any) -> bool:
    if not others:
        raise _GoError("missing argument for comparison")
    k1 = _kind(a)
    for b in others:
        k2 = _kind(b)
        if k1 != k2:
            if {k1, k2} == {"int", "uint"}:
                if int(a) == int(b):
                    return True
                continue
            if a is not _NO_VALUE and b is not _NO_VALUE:
                raise _GoError("incompatible types for comparison")
            continue
        if k1 != "invalid":
            if (complex(a) == complex(b)) if k1 == "complex" else (a == b if k1 != "string" else str(a) == str(b)):
                return True
            continue
        if a is _NO_VALUE or b is _NO_VALUE:
            if a is b:
                return True
            continue
        if go_type(a) != go_type(b):
            raise _GoError(f"non-comparable types {go_str(a)}: {go_type(a)}, {go_type(b)}: {go_str(b)}")
        if isinstance(a, list | Mapping) and not isinstance(a, Struct):
            if _is_nil(a) or _is_nil(b):
                if _is_nil(a) == _is_nil(b):
                    return True
                continue
            raise _GoError(f"non-comparable type {go_str(b)}: {go_type(b)}")
        if isinstance(a, Struct):
            raise _GoError(f"non-comparable type {go_str(b)}: {go_type(b)}")
        if a is b:  # pointers (*time.Time): the same pointer
            return True
    return False


def _is_nil(value: Any) -> bool:
    return value is None or isinstance(value, NilList | NilMap) or (isinstance(value, GoTime) and value.rfc3339 is None)


def _lt(a: Any, b: Any) -> bool:
    k1, k2 = _kind(a), _kind(b)
    if k1 == "invalid" or k2 == "invalid":
        raise _GoError("invalid type for comparison")
    if k1 != k2:
        if {k1, k2} == {"int", "uint"}:
            return int(a) < int(b)
        raise _GoError("incompatible types for comparison")
    if k1 in ("bool", "complex"):
        raise _GoError("invalid type for comparison")
    return _bytes(a) < _bytes(b) if k1 == "string" else a < b  # type: ignore[no-any-return]


def _le(a: Any, b: Any) -> bool:
    return _lt(a, b) or _eq(a, b)


def _title(text: str) -> str:
    """strings.Title: the first letter of each word upper-cased (words split at non-letters)."""
    out, prev = [], " "
    for ch in text:
        # Go's isSeparator: ASCII other than letters, digits and _; beyond ASCII, spaces
        boundary = not (prev.isalnum() or prev == "_") if prev.isascii() else \
            not (prev.isalpha() or prev.isdigit()) and prev.isspace()
        out.append(ch.upper() if boundary else ch)
        prev = ch
    return "".join(out)


def _split(text: str, sep: str) -> Slice:
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
        raise _GoError(f"slice bounds out of range [:{length}]")
    return data[:length].decode("utf-8", "surrogateescape")


def _pad(text: str, prefix: int, suffix: int) -> str:
    if not text:
        return text
    if prefix < 0 or suffix < 0:
        raise _GoError("strings: negative Repeat count")
    return " " * prefix + text + " " * suffix


FUNCS: dict[str, _Func] = {
    # Go's builtins
    "and": _Func(lambda *a: a[-1], ("value",), "value"),
    "or": _Func(lambda *a: a[-1], ("value",), "value"),
    "not": _Func(lambda v: not _truth(v), ("value",)),
    "len": _Func(_length, ("value",)),
    "index": _Func(_index, ("value",), "value"),
    "slice": _Func(_slice, ("value",), "value"),
    "print": _Func(_sprint, (), "any"),
    "printf": _Func(lambda f, *a: go_sprintf(f, a), ("string",), "any"),
    "println": _Func(lambda *a: " ".join(go_str(x) for x in a) + "\n", (), "any"),
    "html": _Func(_html, (), "any"),
    "js": _Func(_js, (), "any"),
    "urlquery": _Func(_urlquery, (), "any"),
    "eq": _Func(_eq, ("value",), "value"),
    "ne": _Func(lambda a, b: not _eq(a, b), ("value", "value")),
    "lt": _Func(_lt, ("value", "value")),
    "le": _Func(_le, ("value", "value")),
    "gt": _Func(lambda a, b: not _le(a, b), ("value", "value")),
    "ge": _Func(lambda a, b: not _lt(a, b), ("value", "value")),
    # containers/common's report.DefaultFuncs (the newest skopeo; skopeo 1.9.3 has none of them)
    "json": _Func(go_json, ("any",)),
    "join": _Func(lambda items, sep: sep.join(items), ("strings", "string")),
    "lower": _Func(lambda s: s.lower(), ("string",)),
    "upper": _Func(lambda s: s.upper(), ("string",)),
    "title": _Func(_title, ("string",)),
    "split": _Func(_split, ("string", "string")),
    "truncate": _Func(_truncate, ("string", "int")),
    "pad": _Func(_pad, ("string", "int", "int")),
}

# Methods of the Go types a template reaches: digest.Digest and *time.Time.
_METHODS: dict[tuple[str, str], _Func] = {
    ("digest.Digest", "Algorithm"): _Func(lambda d: d.partition(":")[0], ()),
    ("digest.Digest", "Encoded"): _Func(lambda d: d.partition(":")[2], ()),
    ("digest.Digest", "Hex"): _Func(lambda d: d.partition(":")[2], ()),
    ("digest.Digest", "String"): _Func(str, ()),
    ("*time.Time", "String"): _Func(str, ()),
    ("*time.Time", "Year"): _Func(lambda t: int(t.rfc3339[:4]), ()),
    ("*time.Time", "IsZero"): _Func(lambda t: str(t).startswith("0001-01-01 00:00:00 +0000"), ()),
}

# -- lexing (Go's text/template/parse/lex.go, restated) ----------------------------------------

_SPACE = " \t\r\n"
_KEYWORDS = {"block", "break", "continue", "define", "else", "end", "if", "range", "nil", "template", "with"}


def _alnum(ch: str) -> bool:
    return ch == "_" or ch.isalpha() or ch.isdigit()


class _Lexer:
    """Go's lexer: items (kind, text); spaces inside actions are items too (they separate operands)."""

    def __init__(self, text: str, fail: Callable[[str], TemplateError]) -> None:
        self.text = text
        self.fail = fail
        self.pos = 0
        self.items: list[tuple[str, str]] = []

    def run(self) -> list[tuple[str, str]]:
        text = self.text
        while True:
            start = self.pos
            at = text.find("{{", start)
            if at < 0:
                if start < len(text):
                    self.items.append(("text", text[start:]))
                self.items.append(("eof", ""))
                return self.items
            chunk = text[start:at]
            left_trim = self._left_trim_marker(at + 2)
            if left_trim:
                chunk = chunk.rstrip(_SPACE)
            if chunk:
                self.items.append(("text", chunk))
            self.pos = at + 2 + (2 if left_trim else 0)
            if text.startswith("/*", self.pos):
                self._comment()
                continue
            self.items.append(("{{", "{{"))
            self._inside_action()

    def _left_trim_marker(self, pos: int) -> bool:
        return self.text[pos:pos + 1] == "-" and self.text[pos + 1:pos + 2] in tuple(_SPACE)

    def _at_right_delim(self) -> tuple[bool, bool]:
        rest = self.text[self.pos:self.pos + 4]
        if len(rest) >= 2 and rest[0] in _SPACE and rest[1] == "-" and rest[2:4] == "}}":
            return True, True
        return rest.startswith("}}"), False

    def _skip_trimmed_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in _SPACE:
            self.pos += 1

    def _comment(self) -> None:
        end = self.text.find("*/", self.pos + 2)
        if end < 0:
            raise self.fail("unclosed comment")
        self.pos = end + 2
        delim, trim = self._at_right_delim()
        if not delim:
            raise self.fail("comment ends before closing delimiter")
        self.pos += 4 if trim else 2
        if trim:
            self._skip_trimmed_space()

    def _emit(self, kind: str, start: int) -> None:
        self.items.append((kind, self.text[start:self.pos]))

    def _inside_action(self) -> None:
        text = self.text
        depth = 0
        while True:
            delim, trim = self._at_right_delim()
            if delim:
                if depth:
                    raise self.fail("unclosed left paren")
                self.pos += 4 if trim else 2
                self.items.append(("}}", "}}"))
                if trim:
                    self._skip_trimmed_space()
                return
            if self.pos >= len(text):
                raise self.fail("unclosed action")
            start = self.pos
            ch = text[self.pos]
            self.pos += 1
            if ch in _SPACE:
                while self.pos < len(text) and text[self.pos] in _SPACE:
                    self.pos += 1
                if text.startswith("-}}", self.pos):  # " -}}": leave the last space to the delimiter
                    self.pos -= 1
                    if self.pos == start:
                        continue
                self._emit("space", start)
            elif ch == "=":
                self._emit("assign", start)
            elif ch == ":":
                if text[self.pos:self.pos + 1] != "=":
                    raise self.fail("expected :=")
                self.pos += 1
                self._emit("declare", start)
            elif ch == "|":
                self._emit("pipe", start)
            elif ch == '"':
                self._quoted('"', "unterminated quoted string")
                self._emit("string", start)
            elif ch == "`":
                end = text.find("`", self.pos)
                if end < 0:
                    raise self.fail("unterminated raw quoted string")
                self.pos = end + 1
                self._emit("rawstring", start)
            elif ch == "'":
                self._quoted("'", "unterminated character constant")
                self._emit("char", start)
            elif ch in "$" or (ch == "." and not text[self.pos:self.pos + 1].isdigit()):
                self._field_or_variable(start, "variable" if ch == "$" else "field")
            elif ch in "+-." or ch.isdigit():
                self.pos = start
                self._number()
                self._emit("number", start)
            elif _alnum(ch):
                while self.pos < len(text) and _alnum(text[self.pos]):
                    self.pos += 1
                word = text[start:self.pos]
                self._check_terminator()
                self._emit("bool" if word in ("true", "false") else word if word in _KEYWORDS else "ident", start)
            elif ch == "(":
                depth += 1
                self._emit("(", start)
            elif ch == ")":
                depth -= 1
                if depth < 0:
                    raise self.fail("unexpected right paren")
                self._emit(")", start)
            elif ch.isascii() and ch.isprintable():
                self._emit("char_item", start)
            else:
                raise self.fail(f"unrecognized character in action: {ch!r}")

    def _quoted(self, quote: str, message: str) -> None:
        text = self.text
        while True:
            if self.pos >= len(text) or text[self.pos] == "\n":
                raise self.fail(message)
            ch = text[self.pos]
            self.pos += 1
            if ch == "\\":
                if self.pos >= len(text) or text[self.pos] == "\n":
                    raise self.fail(message)
                self.pos += 1
            elif ch == quote:
                return

    def _check_terminator(self) -> None:
        text = self.text
        if self.pos >= len(text) or text[self.pos] in _SPACE + ".,|:()":
            return
        if self._at_right_delim()[0]:
            return
        raise self.fail(f"bad character {text[self.pos]!r}")

    def _field_or_variable(self, start: int, kind: str) -> None:
        text = self.text
        if self.pos >= len(text) or text[self.pos] in _SPACE + ".,|:()" or self._at_right_delim()[0]:
            self._emit("dot" if kind == "field" else "variable", start)
            return
        while self.pos < len(text) and _alnum(text[self.pos]):
            self.pos += 1
        self._check_terminator()
        self._emit(kind, start)

    def _number(self) -> None:
        text = self.text

        def accept(chars: str) -> bool:
            if self.pos < len(text) and text[self.pos] in chars:
                self.pos += 1
                return True
            return False

        def run(chars: str) -> None:
            while accept(chars):
                pass

        accept("+-")
        digits = "0123456789_"
        if accept("0"):
            if accept("xX"):
                digits = "0123456789abcdefABCDEF_"
            elif accept("oO"):
                digits = "01234567_"
            elif accept("bB"):
                digits = "01_"
        run(digits)
        if accept("."):
            run(digits)
        if len(digits) == 11 and accept("eE"):
            accept("+-")
            run("0123456789_")
        if len(digits) == 23 and accept("pP"):
            accept("+-")
            run("0123456789_")
        accept("i")
        if self.pos < len(text) and _alnum(text[self.pos]):
            raise self.fail(f"bad number syntax: {text[:self.pos + 1]!r}")

# -- parsing (Go's text/template/parse/parse.go, restated) ------------------------------------

_CONTROL = ("if", "with", "range")


@dataclass
class _Pipe:
    decl: list[str]
    is_assign: bool
    cmds: list[list[Any]]


@dataclass
class _Node:
    kind: str  # text | action | if | with | range | break | continue
    text: str = ""
    pipe: _Pipe | None = None
    body: list[_Node] = field(default_factory=list)
    orelse: list[_Node] = field(default_factory=list)


def _number(text: str, kind: str) -> Any:
    """The value Go's idealConstant gives a number literal, or a TemplateError message to raise later."""
    if kind == "char":
        return ord(_unquote_char(text))
    if text.endswith("i"):
        imag = _parse_float(text[:-1])
        if imag is not None:
            return complex(0, imag)
    as_int = _parse_int(text)
    floaty = any(c in text for c in ".eEpP") and not text.lower().lstrip("+-").startswith("0x")
    if as_int is not None and not floaty:
        return as_int if -2**63 <= as_int < 2**63 else _Overflow(text)
    as_float = _parse_float(text)
    if as_float is None:
        return ValueError(f"illegal number syntax: {text!r}")
    if not any(c in text for c in ".eEpP"):
        return ValueError(f"integer overflow: {text!r}")
    if not floaty:  # a hex float literal with 'p' is a float; "0x1p4" is float (has p)
        return as_float
    return as_float


class _Overflow:
    def __init__(self, text: str) -> None:
        self.text = text


def _underscore_ok(text: str) -> bool:
    saw = "^"
    i = 0
    if text[:1] in "+-":
        text = text[1:]
    hexa = False
    if len(text) >= 2 and text[0] == "0" and text[1].lower() in "bxo":
        i, saw, hexa = 2, "0", text[1].lower() == "x"
    for ch in text[i:]:
        if ch.isdigit() or (hexa and ch.lower() in "abcdef"):
            saw = "0"
        elif ch == "_":
            if saw != "0":
                return False
            saw = "_"
        else:
            if saw == "_":
                return False
            saw = "!"
    return saw != "_"


def _parse_int(text: str) -> int | None:
    """strconv.ParseInt(text, 0, 64) (unbounded here; the caller checks the range)."""
    if "_" in text and not _underscore_ok(text):
        return None
    body = text.replace("_", "")
    sign = -1 if body.startswith("-") else 1
    body = body.lstrip("+-") if body[:1] in "+-" and body[1:2] not in "+-" else body
    if not body:
        return None
    try:
        low = body.lower()
        if low.startswith("0x"):
            value = int(body[2:], 16)
        elif low.startswith("0b"):
            value = int(body[2:], 2)
        elif low.startswith("0o"):
            value = int(body[2:], 8)
        elif body.startswith("0") and len(body) > 1:
            value = int(body[1:], 8)
        else:
            if not body.isdigit():
                return None
            value = int(body)
    except ValueError:
        return None
    if text.replace("_", "").startswith(("0x", "0X", "0b", "0B", "0o", "0O", "+0x", "-0x")) and "_" not in text:
        pass
    return sign * value


def _parse_float(text: str) -> float | None:
    """strconv.ParseFloat(text, 64) for what the lexer lets through."""
    if "_" in text and not _underscore_ok(text):
        return None
    body = text.replace("_", "")
    low = body.lower().lstrip("+-")
    try:
        if low.startswith("0x"):
            if "p" not in low:
                return None
            value = float.fromhex(body)
        elif low.startswith(("0b", "0o")) or not low or low[0] not in "0123456789.":
            return None
        else:
            if "inf" in low or "nan" in low:
                return None
            value = float(body)
    except (ValueError, OverflowError):
        return None
    if value in (float("inf"), float("-inf")):
        return None
    return value


def _unquote_char(text: str) -> str:
    inner = text[1:-1]
    value = _unquote(inner, "'")
    if value is None or len(value) != 1:
        raise ValueError(f"malformed character constant: {text}")
    return value


_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}


def _unquote(inner: str, quote: str) -> str | None:
    """strconv.Unquote's escape rules for the inside of a "…" or '…' literal (None: invalid)."""
    out: list[str] = []
    i = 0
    while i < len(inner):
        ch = inner[i]
        if ch in (quote, "\n"):
            return None
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        esc = inner[i + 1:i + 2]
        i += 2
        if esc in _ESCAPES:
            out.append(_ESCAPES[esc])
        elif esc == quote:
            out.append(quote)
        elif esc in ("x", "u", "U"):
            size = {"x": 2, "u": 4, "U": 8}[esc]
            digits = inner[i:i + size]
            if len(digits) != size or any(c not in "0123456789abcdefABCDEF" for c in digits):
                return None
            code = int(digits, 16)
            i += size
            if esc == "x":
                if quote == "'":
                    out.append(chr(code))
                else:
                    out.append(bytes([code]).decode("latin-1") if code < 0x80 else _RawByte(code).char)
            else:
                if code > 0x10FFFF or 0xD800 <= code < 0xE000:
                    return None
                out.append(chr(code))
        elif esc and esc in "01234567":
            digits = inner[i - 1:i + 2]
            if len(digits) != 3 or any(c not in "01234567" for c in digits) or int(digits, 8) > 255:
                return None
            code = int(digits, 8)
            i += 2
            out.append(chr(code) if quote == "'" or code < 0x80 else _RawByte(code).char)
        else:
            return None
    return "".join(out)


class _RawByte:
    """A byte escape (``\\xff``) in a Go string: Go keeps the raw byte; we map it to a surrogate escape."""

    def __init__(self, code: int) -> None:
        self.char = bytes([code]).decode("utf-8", "surrogateescape")


class _Parser:
    def __init__(self, text: str, name: str) -> None:
        self.name = name
        self.items = _Lexer(text, self._fail).run()
        self.pos = 0
        self.vars: list[str] = ["$"]
        self.range_depth = 0
        self.templates: dict[str, list[_Node]] = {}

    def _fail(self, message: str) -> TemplateError:
        return TemplateError(f"template: {self.name}: {message}")

    # token access; "space" items are skipped by the *_non_space forms
    def _next(self) -> tuple[str, str]:
        item = self.items[self.pos]
        self.pos += 1
        return item

    def _peek(self) -> tuple[str, str]:
        return self.items[self.pos]

    def _next_non_space(self) -> tuple[str, str]:
        while self.items[self.pos][0] == "space":
            self.pos += 1
        return self._next()

    def _peek_non_space(self) -> tuple[str, str]:
        while self.items[self.pos][0] == "space":
            self.pos += 1
        return self.items[self.pos]

    def parse(self) -> list[_Node]:
        nodes: list[_Node] = []
        while self._peek()[0] != "eof":
            if self._peek()[0] == "{{" and self.items[self._skip_space(self.pos + 1)][0] == "define":
                raise self._fail("{{define}} is not supported in --format")
            node = self._text_or_action()
            if node.kind in ("end", "else"):
                raise self._fail(f"unexpected {{{{{node.kind}}}}}")
            nodes.append(node)
        return nodes

    def _skip_space(self, pos: int) -> int:
        while self.items[pos][0] == "space":
            pos += 1
        return pos

    def _item_list(self) -> tuple[list[_Node], _Node]:
        nodes: list[_Node] = []
        while self._peek_non_space()[0] != "eof":
            node = self._text_or_action()
            if node.kind in ("end", "else"):
                return nodes, node
            nodes.append(node)
        raise self._fail("unexpected EOF")

    def _text_or_action(self) -> _Node:
        kind, value = self._next_non_space()
        if kind == "text":
            return _Node("text", text=value)
        if kind == "{{":
            return self._action()
        raise self._fail(f"unexpected {value!r} in input")

    def _action(self) -> _Node:
        kind, _ = self._next_non_space()
        if kind in ("break", "continue"):
            if self._next_non_space()[0] != "}}":
                raise self._fail(f"unexpected token in {{{{{kind}}}}}")
            if not self.range_depth:
                raise self._fail(f"{{{{{kind}}}}} outside {{{{range}}}}")
            return _Node(kind)
        if kind == "else":
            if self._peek_non_space()[0] == "if":
                return _Node("else", text="if")
            if self._next_non_space()[0] != "}}":
                raise self._fail("unexpected token in else")
            return _Node("else")
        if kind == "end":
            if self._next_non_space()[0] != "}}":
                raise self._fail("unexpected token in end")
            return _Node("end")
        if kind in _CONTROL:
            return self._control(kind)
        if kind in ("template", "block"):
            return self._template(kind)
        if kind == "define":  # only at the top level, outside skopeo's own {{range}}: refused
            raise self._fail("{{define}} is not supported in --format")
        self.pos -= 1
        return _Node("action", pipe=self._pipeline("command", "}}"))

    def _template(self, kind: str) -> _Node:
        """``{{template "name" pipeline}}``, or ``{{block "name" pipeline}}…{{end}}`` (define and run)."""
        what, value = self._next_non_space()
        if what not in ("string", "rawstring"):
            raise self._fail(f"unexpected {value!r} in {kind} clause")
        name = _unquote(value[1:-1], '"') if what == "string" else value[1:-1]
        if name is None:
            raise self._fail(f"invalid syntax: {value}")
        pipe = None
        if kind == "block" or self._peek_non_space()[0] != "}}":
            pipe = self._pipeline(kind, "}}")
        else:
            self._next_non_space()
        if kind == "block":  # a new tree: its own variables, outside any {{range}}
            saved = self.vars, self.range_depth
            self.vars, self.range_depth = ["$"], 0
            body, stop = self._item_list()
            self.vars, self.range_depth = saved
            if stop.kind != "end":
                raise self._fail(f"unexpected {{{{{stop.kind}}}}} in block")
            self.templates[name] = body
        return _Node("template", text=name, pipe=pipe)

    def _control(self, kind: str) -> _Node:
        saved = len(self.vars)
        try:
            node = _Node(kind, pipe=self._pipeline(kind, "}}"))
            if kind == "range":
                self.range_depth += 1
            node.body, stop = self._item_list()
            if kind == "range":
                self.range_depth -= 1
            if stop.kind == "else":
                if kind == "if" and stop.text == "if":
                    self._next_non_space()  # the "if" of "else if": parse as {{else}}{{if}}…{{end}}{{end}}
                    node.orelse = [self._control("if")]
                else:
                    node.orelse, stop = self._item_list()
                    if stop.kind != "end":
                        raise self._fail(f"expected end; found {{{{{stop.kind}}}}}")
            return node
        finally:
            del self.vars[saved:]

    def _pipeline(self, context: str, end: str) -> _Pipe:
        pipe = _Pipe([], False, [])
        while self._peek_non_space()[0] == "variable":
            start = self.pos
            _, name = self._next()
            after = self._peek()
            nxt = self._peek_non_space()
            if nxt[0] in ("assign", "declare"):
                self._next_non_space()
                pipe.is_assign = nxt[0] == "assign"
                pipe.decl.append(name)
                self.vars.append(name)
                break
            if nxt == ("char_item", ","):
                self._next_non_space()
                pipe.decl.append(name)
                self.vars.append(name)
                if context == "range" and len(pipe.decl) < 2:
                    if self._peek_non_space()[0] in ("variable", "}}", ")"):
                        continue
                    raise self._fail("range can only initialize variables")
                raise self._fail(f"too many declarations in {context}")
            del after
            self.pos = start
            break
        if pipe.decl and context == "range" and len(pipe.decl) == 2 and \
                self.items[self.pos - 1][0] not in ("assign", "declare"):
            pass
        while True:
            kind, value = self._next_non_space()
            if kind == end:
                self._check_pipeline(pipe, context)
                for name in pipe.decl:
                    if pipe.is_assign and name not in self.vars[:-len(pipe.decl)]:
                        raise self._fail(f"undefined variable {name!r}")
                return pipe
            if kind in ("bool", "char", "dot", "field", "ident", "number", "nil", "rawstring", "string",
                        "variable", "("):
                self.pos -= 1
                pipe.cmds.append(self._command())
            else:
                raise self._fail(f"unexpected {value!r} in {context}")

    def _check_pipeline(self, pipe: _Pipe, context: str) -> None:
        if not pipe.cmds:
            raise self._fail(f"missing value for {context}")
        for n, cmd in enumerate(pipe.cmds[1:]):
            if cmd[0][0] in ("bool", "dot", "nil", "number", "string"):
                raise self._fail(f"non executable command in pipeline stage {n + 2}")

    def _command(self) -> list[Any]:
        cmd: list[Any] = []
        while True:
            self._peek_non_space()
            operand = self._operand()
            if operand is not None:
                cmd.append(operand)
            kind, value = self._next()
            if kind == "space":
                continue
            if kind in ("}}", ")"):
                self.pos -= 1
            elif kind != "pipe":
                raise self._fail(f"unexpected {value!r} in operand")
            break
        if not cmd:
            raise self._fail("empty command")
        return cmd

    def _operand(self) -> Any:
        node = self._term()
        if node is None:
            return None
        if self._peek()[0] == "field":
            names = []
            while self._peek()[0] == "field":
                names.append(self._next()[1][1:])
            if node[0] == "field":
                return ("field", node[1] + names)
            if node[0] == "variable":
                return ("variable", node[1], node[2] + names)
            if node[0] in ("bool", "string", "number", "nil", "dot"):
                raise self._fail("unexpected . after term")
            return ("chain", node, names)
        return node

    def _term(self) -> Any:
        kind, value = self._next_non_space()
        if kind == "ident":
            if value not in FUNCS:
                raise self._fail(f'function "{value}" not defined')
            return ("ident", value)
        if kind == "dot":
            return ("dot",)
        if kind == "nil":
            return ("nil",)
        if kind == "variable":
            name, *names = value.split(".")
            if name not in self.vars:
                raise self._fail(f"undefined variable {name!r}")
            return ("variable", name, names)
        if kind == "field":
            return ("field", value[1:].split("."))
        if kind == "bool":
            return ("bool", value == "true")
        if kind in ("char", "number"):
            try:
                number = _number(value, kind)
            except ValueError as exc:
                raise self._fail(str(exc)) from exc
            if isinstance(number, ValueError):
                raise self._fail(str(number))
            return ("number", number)
        if kind == "(":
            return ("pipe", self._pipeline("parenthesized pipeline", ")"))
        if kind == "string":
            text = _unquote(value[1:-1], '"')
            if text is None:
                raise self._fail(f"invalid syntax: {value}")
            return ("string", text)
        if kind == "rawstring":
            return ("string", value[1:-1].replace("\r", ""))
        self.pos -= 1
        return None

# -- execution (Go's text/template/exec.go, restated) -----------------------------------------


class _NoValue:
    """Go's invalid reflect.Value: a missing map key; prints ``<no value>``."""

    def __repr__(self) -> str:
        return "<no value>"


_NO_VALUE: Any = _NoValue()
_MISSING: Any = object()  # no piped value (Go's missingVal)


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


def go_str_or_no_value(value: Any) -> str:
    """An action's output: ``<no value>`` for a missing map key, else Go's formatting."""
    return "<no value>" if value is _NO_VALUE else go_str(value)


class _Exec:
    def __init__(self, name: str, root: Any, templates: dict[str, list[_Node]]) -> None:
        self.name = name
        self.vars: list[list[Any]] = [["$", root]]
        self.templates = templates
        self.depth = 0

    def _fail(self, message: str) -> TemplateError:
        return TemplateError(f'template: {self.name}: executing "{self.name}": {message}')

    def run(self, nodes: list[_Node], dot: Any, out: list[str]) -> None:
        mark = len(self.vars)
        try:
            for node in nodes:
                self._walk(node, dot, out)
        finally:
            del self.vars[mark:]

    def _walk(self, node: _Node, dot: Any, out: list[str]) -> None:
        if node.kind == "text":
            out.append(node.text)
            return
        if node.kind == "break":
            raise _Break
        if node.kind == "continue":
            raise _Continue
        if node.kind == "template":
            self._template(node, dot, out)
            return
        assert node.pipe is not None
        if node.kind == "action":
            value = self._pipeline(node.pipe, dot)
            if not node.pipe.decl:
                out.append(go_str_or_no_value(value))
            return
        mark = len(self.vars)
        try:
            if node.kind == "range":
                self._range(node, dot, out)
                return
            value = self._pipeline(node.pipe, dot)
            if _truth(value):
                self.run(node.body, value if node.kind == "with" else dot, out)
            else:
                self.run(node.orelse, dot, out)
        finally:
            del self.vars[mark:]

    def _template(self, node: _Node, dot: Any, out: list[str]) -> None:
        body = self.templates.get(node.text)
        if body is None or self.depth >= 1000:  # the main template calling itself never ends: Go fails too
            raise self._fail(f"no such template {node.text!r}" if body is None else "exceeded maximum template depth")
        value = self._pipeline(node.pipe, dot) if node.pipe is not None else None
        saved = self.vars
        self.vars = [["$", value]]
        self.depth += 1
        try:
            self.run(body, value, out)
        finally:
            self.vars = saved
            self.depth -= 1

    def _range(self, node: _Node, dot: Any, out: list[str]) -> None:
        assert node.pipe is not None
        value = self._pipeline(node.pipe, dot)
        if isinstance(value, GoTime):
            if value.rfc3339 is not None:
                raise self._fail(f"range can't iterate over {go_str(value)}")
            value = None
        if isinstance(value, Mapping) and not isinstance(value, Struct):
            pairs: list[tuple[Any, Any]] = [(k, value[k]) for k in sorted(value)]
        elif isinstance(value, list | tuple):
            pairs = list(enumerate(value))
        elif value is _NO_VALUE or value is None:
            pairs = []
        elif isinstance(value, int) and not isinstance(value, bool):
            raise self._fail(f"range can't iterate over {go_str(value)}")
        else:
            raise self._fail(f"range can't iterate over {go_str(value)}")
        if not pairs:
            self.run(node.orelse, dot, out)
            return
        mark = len(self.vars)
        for key, elem in pairs:
            if node.pipe.decl:
                self.vars[-1][1] = elem
            if len(node.pipe.decl) > 1:
                self.vars[-2][1] = key
            try:
                self.run(node.body, elem, out)
            except _Continue:
                continue
            except _Break:
                break
            finally:
                del self.vars[mark:]

    def _pipeline(self, pipe: _Pipe, dot: Any) -> Any:
        value: Any = _MISSING
        for cmd in pipe.cmds:
            value = self._command(cmd, dot, value)
        for name in pipe.decl:
            if pipe.is_assign:
                for slot in reversed(self.vars):
                    if slot[0] == name:
                        slot[1] = value
                        break
                else:
                    raise self._fail(f"undefined variable: {name}")
            else:
                self.vars.append([name, value])
        return value

    def _command(self, cmd: list[Any], dot: Any, final: Any) -> Any:
        first = cmd[0]
        kind = first[0]
        if kind == "field":
            return self._field_chain(dot, dot, first[1], cmd, final)
        if kind == "chain":
            if len(first[2]) > 0 and first[1][0] == "nil":
                raise self._fail("indirection through explicit nil")
            receiver = self._arg_value(first[1], dot)
            return self._field_chain(dot, receiver, first[2], cmd, final)
        if kind == "variable":
            value = self._variable(first[1])
            if not first[2]:
                self._not_a_function(cmd, final)
                return value
            return self._field_chain(dot, value, first[2], cmd, final)
        if kind == "ident":
            return self._call(first[1], cmd[1:], dot, final)
        self._not_a_function(cmd, final)
        if kind == "pipe":
            return self._pipeline(first[1], dot)
        if kind == "dot":
            return dot
        if kind == "nil":
            raise self._fail("nil is not a command")
        return self._literal(first)

    def _not_a_function(self, cmd: list[Any], final: Any) -> None:
        if len(cmd) > 1 or final is not _MISSING:
            raise self._fail(f"can't give argument to non-function {cmd[0]}")

    def _literal(self, node: Any) -> Any:
        kind = node[0]
        if kind == "bool":
            return node[1]
        if kind == "number":
            if isinstance(node[1], _Overflow):
                raise self._fail(f"{node[1].text} overflows int")
            return node[1]
        return node[1]  # string

    def _variable(self, name: str) -> Any:
        for slot in reversed(self.vars):
            if slot[0] == name:
                return slot[1]
        raise self._fail(f"undefined variable: {name}")

    def _field_chain(self, dot: Any, receiver: Any, names: list[str], cmd: list[Any], final: Any) -> Any:
        for name in names[:-1]:
            receiver = self._field(dot, name, receiver, [], _MISSING)
        return self._field(dot, names[-1], receiver, cmd[1:], final)

    def _field(self, dot: Any, name: str, receiver: Any, args: list[Any], final: Any) -> Any:
        if receiver is _NO_VALUE:
            return _NO_VALUE
        method = _METHODS.get((go_type(receiver), name))
        if method is not None:
            if isinstance(receiver, GoTime) and receiver.rfc3339 is None:
                raise self._fail(f"error calling {name}: nil pointer")  # a nil *time.Time
            return self._call_fn(name, method, args, dot, final, receiver=receiver)
        has_args = bool(args) or final is not _MISSING
        if isinstance(receiver, Struct):
            if name in receiver:
                if has_args:
                    raise self._fail(f"{name} has arguments but cannot be invoked as function")
                return receiver[name]
        elif isinstance(receiver, Mapping):
            if has_args:
                raise self._fail(f"{name} is not a method but has arguments")
            return receiver.get(name, _NO_VALUE)
        elif receiver is None:
            raise self._fail(f"nil pointer evaluating interface {{}}.{name}")
        raise self._fail(f"can't evaluate field {name} in type {go_type(receiver)}")

    # -- calls ---------------------------------------------------------------------------------

    def _call(self, name: str, args: list[Any], dot: Any, final: Any) -> Any:
        fn = FUNCS[name]
        return self._call_fn(name, fn, args, dot, final)

    def _call_fn(self, name: str, fn: _Func, args: list[Any], dot: Any, final: Any,
                 receiver: Any = _MISSING) -> Any:
        count = len(args) + (final is not _MISSING)
        if fn.variadic:
            if count < len(fn.params):
                raise self._fail(f"wrong number of args for {name}: want at least {len(fn.params)} got {len(args)}")
        elif count != len(fn.params):
            raise self._fail(f"wrong number of args for {name}: want {len(fn.params)} got {count}")
        if name in ("and", "or") and receiver is _MISSING:
            value: Any = _MISSING
            for arg in args:
                value = self._arg(arg, dot, "value")
                if _truth(value) == (name == "or"):
                    return value
            if final is not _MISSING:
                value = self._check(final, "value")
            return value
        values = []
        for n, arg in enumerate(args):
            kind = fn.params[n] if n < len(fn.params) else fn.variadic
            values.append(self._arg(arg, dot, kind))
        if final is not _MISSING:
            kind = fn.params[count - 1] if count - 1 < len(fn.params) else fn.variadic
            values.append(self._check(final, kind))
        try:
            return fn.call(*values) if receiver is _MISSING else fn.call(receiver, *values)
        except _GoError as exc:
            raise self._fail(f"error calling {name}: {exc}") from exc

    def _arg(self, node: Any, dot: Any, kind: str) -> Any:
        """evalArg: a node as an argument of a parameter of this kind (string, int, value, any)."""
        what = node[0]
        if what == "dot":
            return self._check(dot, kind)
        if what == "nil":
            if kind in ("any", "value"):
                return None if kind == "any" else _NO_VALUE  # Go: the zero reflect.Value (invalid)
            raise self._fail(f"cannot assign nil to {_KIND_NAMES[kind]}")
        if what in ("field", "chain", "variable", "pipe"):
            return self._check(self._arg_value(node, dot), kind)
        if what == "ident":
            return self._check(self._call(node[1], [], dot, _MISSING), kind)
        if kind in ("any", "value"):
            return self._literal(node)
        value = self._literal(node)
        if kind == "string":
            if what != "string":
                raise self._fail(f"expected string; found {_node_text(node)}")
            return value
        if kind == "int":
            if what != "number" or not isinstance(value, int):
                raise self._fail(f"expected integer; found {_node_text(node)}")
            return value
        raise AssertionError(kind)

    def _arg_value(self, node: Any, dot: Any) -> Any:
        what = node[0]
        if what == "field":
            return self._field_chain(dot, dot, node[1], [node], _MISSING)
        if what == "variable":
            value = self._variable(node[1])
            return self._field_chain(dot, value, node[2], [node], _MISSING) if node[2] else value
        if what == "chain":
            receiver = self._arg_value(node[1], dot)
            return self._field_chain(dot, receiver, node[2], [node], _MISSING)
        if what == "pipe":
            return self._pipeline(node[1], dot)
        if what == "dot":
            return dot
        if what == "ident":
            return self._call(node[1], [], dot, _MISSING)
        if what == "nil":
            raise self._fail("nil is not a command")
        return self._literal(node)

    def _check(self, value: Any, kind: str) -> Any:
        """validateType: a computed value against a parameter kind."""
        if value is _NO_VALUE:
            if kind in ("any", "value"):
                return None if kind == "any" else _NO_VALUE
            raise self._fail(f"invalid value; expected {_KIND_NAMES[kind]}")
        if kind == "string" and not isinstance(value, str):
            raise self._fail(f"wrong type for value; expected string; got {go_type(value)}")
        if kind == "int" and (not isinstance(value, int) or isinstance(value, bool) or type(value) not in (int,)):
            raise self._fail(f"wrong type for value; expected int; got {go_type(value)}")
        if kind == "strings" and not (isinstance(value, list) and go_type(value) == "[]string"):
            raise self._fail(f"wrong type for value; expected []string; got {go_type(value)}")
        return value


_KIND_NAMES = {"value": "reflect.Value", "string": "string", "int": "int", "any": "interface {}",
               "strings": "[]string"}


def _node_text(node: Any) -> str:
    if node[0] == "number":
        return go_str(node[1])
    if node[0] == "string":
        return go_quote(node[1])
    if node[0] == "bool":
        return "true" if node[1] else "false"
    return str(node)


_CONFIG_FIELDS = {"os": "OS", "os.version": "OSVersion", "os.features": "OSFeatures", "rootfs": "RootFS",
                  "diff_ids": "DiffIDs", "created_by": "CreatedBy", "empty_layer": "EmptyLayer"}


def inspect_value(data: Mapping[str, Any]) -> Struct:
    """skopeo's inspect ``Output`` as a template sees it: Go field names, types and nil forms."""
    zero: dict[str, Any] = {"Name": "", "Tag": "", "Digest": "", "RepoTags": None, "Created": None,
                            "DockerVersion": "", "Labels": None, "Architecture": "", "Os": "", "Layers": None,
                            "LayersData": None, "Env": None}
    out = Struct("inspect.Output", {k: data.get(k, v) for k, v in zero.items()}, omit_empty=("Name", "Tag"))
    out["Digest"] = Digest(out["Digest"] or "")
    out["Created"] = GoTime(out["Created"] if isinstance(out["Created"], str) else None)
    for name in ("RepoTags", "Layers", "Env", "LayersData"):
        out[name] = NilList() if out[name] is None else Slice(out[name])
    out["Labels"] = NilMap() if out["Labels"] is None else Map(out["Labels"])
    out["LayersData"].type_name = "[]types.ImageInspectLayer"
    for n, layer in enumerate(out["LayersData"]):
        annotations = layer.get("Annotations")
        out["LayersData"][n] = Struct("types.ImageInspectLayer", {
            **layer, "Digest": Digest(layer.get("Digest") or ""), "Size": Int64(layer.get("Size") or 0),
            "Annotations": NilMap() if annotations is None else Map(annotations)})
    return out


# The zero values of v1.Image's fields (Go prints an absent slice as [], a string as "").
_CONFIG_STRUCT: dict[str, Callable[[], Any]] = {
    "User": str, "ExposedPorts": NilMap, "Env": NilList, "Entrypoint": NilList, "Cmd": NilList, "Volumes": NilMap,
    "WorkingDir": str, "Labels": NilMap, "StopSignal": str, "ArgsEscaped": bool,
}
_ROOTFS_STRUCT: dict[str, Callable[[], Any]] = {"Type": str, "DiffIDs": NilList}
_HISTORY_STRUCT: dict[str, Callable[[], Any]] = {
    "Created": lambda: None, "CreatedBy": str, "Author": str, "Comment": str, "EmptyLayer": bool,
}
_IMAGE_FIELDS: dict[str, Callable[[], Any]] = {
    "Created": lambda: None, "Author": str, "Architecture": str, "Variant": str, "OS": str, "OSVersion": str,
    "OSFeatures": NilList, "Config": lambda: _struct("v1.ImageConfig", {}, _CONFIG_STRUCT),
    "RootFS": lambda: _struct("v1.RootFS", {}, _ROOTFS_STRUCT), "History": NilList,
}


def _struct(type_name: str, value: Mapping[str, Any], fields: Mapping[str, Callable[[], Any]]) -> Struct:
    out = Struct(type_name, {name: make() for name, make in fields.items()})
    for key, item in value.items():
        name = _CONFIG_FIELDS.get(key, key[:1].upper() + key[1:])
        if name == "Config" and isinstance(item, Mapping):
            out[name] = _struct("v1.ImageConfig", item, _CONFIG_STRUCT)
        elif name == "RootFS" and isinstance(item, Mapping):
            out[name] = _struct("v1.RootFS", item, _ROOTFS_STRUCT)
        elif name == "Created" and isinstance(item, str):
            out[name] = GoTime(item)
        elif name == "History" and isinstance(item, list):
            out[name] = Slice(_struct("v1.History", h, _HISTORY_STRUCT) if isinstance(h, Mapping) else h for h in item)
            out[name].type_name = "[]v1.History"
        elif isinstance(item, list):
            out[name] = Slice(item)
        elif isinstance(item, Mapping) and name in ("Labels", "ExposedPorts", "Volumes"):
            out[name] = Map(item)
            if name != "Labels":
                out[name].type_name = "map[string]struct {}"
        elif item is None and name in fields:
            out[name] = fields[name]()  # JSON null leaves Go's zero value (a nil slice prints [])
        else:
            out[name] = item
    return out


def config_value(value: Any) -> Any:
    """An OCI image config (JSON keys) as the ``v1.Image`` struct a Go template sees."""
    return _struct("v1.Image", value, _IMAGE_FIELDS) if isinstance(value, Mapping) else value

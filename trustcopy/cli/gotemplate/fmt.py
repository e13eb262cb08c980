"""Go's ``fmt`` printing of template values: Sprint, Sprintf's verbs and flags, and ``json``.

Why: an action's output is ``fmt.Sprint`` of its value and ``printf`` is ``fmt.Sprintf``;
scripts compare these bytes, so the formatting (``[a b]``, ``map[k:v]``, ``%!d(string=x)``,
shortest floats) follows Go's fmt and strconv, restated.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from trustcopy.cli.gotemplate.errors import GoError, check_text_size
from trustcopy.cli.gotemplate.gotime import GoMonth, GoTime, GoWeekday
from trustcopy.cli.gotemplate.values import Digest, DigestAlgorithm, Int64, NilList, NilMap, Struct, Uint8, go_type


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


def go_quote(text: str, *, ascii_only: bool = False) -> str:
    """strconv.Quote (QuoteToASCII with ascii_only): Go's escapes; printable characters kept."""
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in "\a\b\f\n\r\t\v":
            out.append("\\" + "abfnrtv"["\a\b\f\n\r\t\v".index(ch)])
        elif (ch == " " or ch.isprintable()) and (ord(ch) < 0x80 or not ascii_only):
            out.append(ch)
        elif ord(ch) < 0x80 or 0xDC80 <= ord(ch) < 0xDD00:  # (a raw byte, kept as a surrogate escape)
            out.append(f"\\x{ord(ch) & 0xFF:02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def go_str(value: Any) -> str:
    """A value as Go's ``fmt.Sprint`` prints it."""
    return _print(value, "v", _Spec(), 0)


class _Spec:
    """fmt's flags, width and precision for one verb (Go's fmt.fmtFlags, wid, prec)."""

    def __init__(self) -> None:
        self.minus = self.plus = self.sharp = self.space = self.zero = False
        self.plus_v = self.sharp_v = False
        self.width: int | None = None
        self.prec: int | None = None


class _Uint64(int):
    """A ``uint64``: time.Time's ``wall`` field, as fmt's ``%d`` of a time shows it."""

    type_name = "uint64"


def _padding(count: int, zero: bool) -> str:
    return ("0" if zero else " ") * count


def _pad(text: str, spec: _Spec, zero: bool | None = None) -> str:
    """fmt.pad: width in characters, spaces (or zeros with the 0 flag) on the left, or on the right with -."""
    zero = spec.zero if zero is None else zero
    if spec.width is None or len(text) >= spec.width:
        return text
    fill = _padding(spec.width - len(text), zero and not spec.minus)
    return text + fill if spec.minus else fill + text


def _bad_verb(value: Any, verb: str, spec: _Spec) -> str:
    """fmt.badVerb: ``%!verb(type=value)`` (the value printed with %v and the same flags)."""
    if value is None:
        return f"%!{verb}(<nil>)"
    saved = spec.plus_v, spec.sharp_v
    spec.plus_v = spec.sharp_v = False
    try:
        return f"%!{verb}({go_type(value)}={_print(value, 'v', spec, 0)})"
    finally:
        spec.plus_v, spec.sharp_v = saved


def _unsupported(what: str) -> GoError:
    return GoError(f"{what} is not supported by trustcopy's --format")


def _print(value: Any, verb: str, spec: _Spec, depth: int) -> str:
    """fmt's printArg/printValue: one operand (containers element by element, each with the flags)."""
    if value is None:
        return _pad("<nil>", spec) if verb in "Tv" else _bad_verb(None, verb, spec)
    if verb == "T":
        return _string(go_type(value), "s", spec)
    if verb == "p":
        raise _unsupported(f"%p of {go_type(value)}")
    if spec.sharp_v:
        if isinstance(value, GoTime):
            return _pad(value.go_string() if value.rfc3339 is not None else "<nil>", spec)
        if spec.width is not None and isinstance(value, list | tuple | Mapping):
            raise _unsupported("a width with %#v of a " + go_type(value))
        return _pad(_go_syntax(value), spec)
    if isinstance(value, GoTime):
        return _time(value, verb, spec, depth)
    if isinstance(value, GoMonth | GoWeekday | Digest | DigestAlgorithm) and verb in "vsxXq":  # fmt.Stringer
        return _string(str(value), verb, spec)
    if isinstance(value, bool):
        return _pad("true" if value else "false", spec) if verb in "tv" else _bad_verb(value, verb, spec)
    if isinstance(value, int):
        return _integer(value, verb, spec)
    if isinstance(value, float):
        return _float(value, verb, spec)
    if isinstance(value, complex):  # fmtComplex: both parts as floats, the imaginary one always signed
        if verb not in "vbgGxXfFeE":
            return _bad_verb(value, verb, spec)
        saved_plus = spec.plus
        real = _float(value.real, verb, spec)
        spec.plus = True
        try:
            return f"({real}{_float(value.imag, verb, spec)}i)"
        finally:
            spec.plus = saved_plus
    if isinstance(value, str):
        return _string(value, verb, spec)
    if isinstance(value, Struct):
        return "{" + " ".join((f"{k}:" if spec.plus_v else "") + _print(v, verb, spec, depth + 1)
                              for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + " ".join(_print(v, verb, spec, depth + 1) for v in value) + "]"
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{_print(k, verb, spec, depth + 1)}:{_print(value[k], verb, spec, depth + 1)}"
                                 for k in sorted(value)) + "]"
    raise _unsupported(f"printing a {go_type(value)}")


def _time(value: GoTime, verb: str, spec: _Spec, depth: int) -> str:
    """A ``*time.Time`` / ``time.Time``: String() for the Stringer verbs, else the struct {wall ext loc}."""
    if verb in "vsxXq":
        return _pad("<nil>", spec) if value.rfc3339 is None else _string(str(value), verb, spec)
    if value.rfc3339 is None:  # a nil pointer: fmtPointer
        return _integer(0, verb, spec) if verb in "bod" else f"%!{verb}(*time.Time=<nil>)"
    fields = value.utc_fields()
    if (value.pointer and depth > 0) or fields is None:  # Go prints a pointer's address here
        raise _unsupported(f"%{verb} of a {go_type(value)} that is not in UTC or sits in a struct")
    wall, ext = fields
    loc = _integer(0, verb, spec) if verb in "bodxX" else f"%!{verb}(*time.Location=<nil>)"
    text = "{" + _print(_Uint64(wall), verb, spec, depth + 1) + " " + _print(Int64(ext), verb, spec, depth + 1) + \
        " " + loc + "}"
    return "&" + text if value.pointer else text


def _string(text: str, verb: str, spec: _Spec) -> str:
    """fmt.fmtString: %v %s (precision cuts), %q, %x %X (bytes in hex)."""
    if verb in "vs":
        return _pad(text[:spec.prec] if spec.prec is not None else text, spec)
    if verb == "q":
        text = text[:spec.prec] if spec.prec is not None else text
        if spec.sharp and "`" not in text and all(c == "\t" or (c.isprintable() and c != "\ufeff") for c in text):
            return _pad("`" + text + "`", spec)
        return _pad(go_quote(text, ascii_only=spec.plus), spec)
    if verb in "xX":
        data = text.encode("utf-8", "surrogateescape")
        if spec.prec is not None:
            data = data[:spec.prec]
        if not data:
            return _padding(spec.width, spec.zero and not spec.minus) if spec.width else ""
        prefix = ("0" + verb) if spec.sharp else ""
        digits = [format(b, "02x" if verb == "x" else "02X") for b in data]
        body = (" " + prefix).join(digits) if spec.space else "".join(digits)
        return _pad(prefix + body, spec)
    return _bad_verb(text, verb, spec)


def _integer(value: int, verb: str, spec: _Spec) -> str:
    """fmt.fmtInteger and friends: %d %b %o %O %x %X %c %q %U, and %v (%#v of a byte: 0x61)."""
    number = int(value)
    char = chr(number) if 0 <= number <= 0x10FFFF and not 0xD800 <= number < 0xE000 else "\ufffd"  # a rune
    if verb == "c":
        return _pad(char, spec)
    if verb == "q":
        return _pad("'" + go_quote(char, ascii_only=spec.plus)[1:-1].replace("'", "\\'").replace('\\"', '"') + "'",
                    spec)
    if verb == "U":  # fmtUnicode: at least 4 hex digits, more with a larger precision
        digits = format(number & 0xFFFFFFFFFFFFFFFF, "X").rjust(max(4, spec.prec or 0), "0")
        text = "U+" + digits
        if spec.sharp and 0 <= number <= 0x10FFFF and chr(number).isprintable():
            text += f" '{chr(number)}'"
        return _pad(text, spec, zero=False)
    base = {"v": 10, "d": 10, "b": 2, "o": 8, "O": 8, "x": 16, "X": 16}.get(verb)
    if base is None:
        return _bad_verb(value, verb, spec)
    if verb in "xX":
        digits = format(abs(number), verb)
    else:
        digits = format(abs(number), {10: "d", 2: "b", 8: "o"}[base])
    negative = number < 0
    prec = spec.prec
    if prec is not None:
        if prec == 0 and number == 0:
            return _padding(spec.width, False) if spec.width else ""
    elif spec.zero and spec.width is not None and not spec.minus:
        prec = spec.width - (1 if negative or spec.plus or spec.space else 0)
    if prec is not None:
        digits = digits.rjust(prec, "0")
    if spec.sharp:
        if base == 2:
            digits = "0b" + digits
        elif base == 8 and not digits.startswith("0"):
            digits = "0" + digits
        elif base == 16:
            digits = "0" + verb + digits
    if verb == "O":
        digits = "0o" + digits
    sign = "-" if negative else "+" if spec.plus else " " if spec.space else ""
    return _pad(sign + digits, spec, zero=False)


def _float(value: float, verb: str, spec: _Spec) -> str:
    """fmt.fmtFloat for %v %g %G %e %E %f %F: sign, then zero padding after it."""
    if verb not in "vgGeEfF":
        if verb in "bxX":
            raise _unsupported(f"%{verb} of a float64")
        return _bad_verb(value, verb, spec)
    if spec.sharp:
        raise _unsupported(f"%#{verb} of a float64")
    kind = {"v": "g", "F": "f"}.get(verb, verb)
    prec = spec.prec if spec.prec is not None else (-1 if kind in "gG" else 6)
    num = go_float(value, kind.lower() if kind == "G" else kind, prec)
    if kind == "G":
        num = num.upper()
    if not num.startswith(("-", "+")):
        num = "+" + num
    if spec.space and num[0] == "+" and not spec.plus:
        num = " " + num[1:]
    if num[1] in "IN":  # infinities and NaN: no zero padding
        if num[1] == "N" and not spec.space and not spec.plus:
            num = num[1:]
        return _pad(num, spec, zero=False)
    if spec.plus or num[0] != "+":
        if spec.zero and not spec.minus and spec.width is not None and spec.width > len(num):
            return num[0] + "0" * (spec.width - len(num)) + num[1:]
        return _pad(num, spec)
    return _pad(num[1:], spec)


def _go_syntax(value: Any) -> str:
    """``%#v``: Go-syntax representation (pointers print as addresses in Go: not produced here)."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Uint8 | _Uint64):
        return f"0x{int(value):x}"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, complex):  # fmt prints a complex the same way with %#v
        return _print(value, "v", _Spec(), 0)
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
    if isinstance(value, GoTime):
        return value.go_string() if value.rfc3339 is not None else "(*time.Time)(nil)"
    raise _unsupported(f"%#v of a {go_type(value)}")


def _number_arg(args: tuple[Any, ...], n: int) -> tuple[int | None, int]:
    """fmt.intFromArg: a ``*`` width or precision from argument n (None: not an int, or too large)."""
    if n >= len(args):
        return None, n
    arg = args[n]
    if isinstance(arg, bool) or not isinstance(arg, int) or not -1_000_000 <= arg <= 1_000_000:
        return None, n + 1
    return int(arg), n + 1


def _parse_number(fmt: str, i: int) -> tuple[int | None, int]:
    """fmt.parsenum: decimal digits at i (None when there are none, or too many)."""
    start = i
    number = 0
    while i < len(fmt) and "0" <= fmt[i] <= "9":
        if number > 1_000_000:
            return None, len(fmt)
        number = number * 10 + int(fmt[i])
        i += 1
    return (number if i > start else None), i


class _Printf:
    """fmt.doPrintf's state: the next argument, whether indexes reordered them, whether the last was good."""

    def __init__(self, fmt: str, args: tuple[Any, ...]) -> None:
        self.fmt, self.args = fmt, args
        self.arg = 0
        self.reordered = False
        self.good = True

    def arg_index(self, i: int) -> tuple[int, bool]:
        """fmt.argNumber: an explicit ``[n]`` at i; returns the new position and whether one was read."""
        fmt = self.fmt
        if i >= len(fmt) or fmt[i] != "[":
            return i, False
        self.reordered = True
        close = fmt.find("]", i + 1)
        if len(fmt) - i < 3 or close < 0:
            self.good = False
            return i + 1, False
        number, end = _parse_number(fmt, i + 1)
        if number is None or end != close:
            self.good = False
            return close + 1, False
        if 1 <= number <= len(self.args):
            self.arg = number - 1
            return close + 1, True
        self.good = False
        return close + 1, True

    def run(self) -> str:
        fmt, args, out = self.fmt, self.args, []
        size = 0

        def emit(piece: str) -> None:  # bounded: '%[1]1000000d' repeated would build gigabytes
            nonlocal size
            size += len(piece)
            check_text_size(size)
            out.append(piece)

        i, end = 0, len(self.fmt)
        after_index = False
        while i < end:
            self.good = True
            j = fmt.find("%", i)
            if j < 0:
                emit(fmt[i:])
                break
            emit(fmt[i:j])
            i = j + 1
            spec = _Spec()
            while i < end and fmt[i] in "#0+- ":
                c = fmt[i]
                if c == "#":
                    spec.sharp = True
                elif c == "0":
                    spec.zero = not spec.minus
                elif c == "+":
                    spec.plus = True
                elif c == "-":
                    spec.minus, spec.zero = True, False
                else:
                    spec.space = True
                i += 1
            i, after_index = self.arg_index(i)
            if i < end and fmt[i] == "*":
                i += 1
                spec.width, self.arg = _number_arg(args, self.arg)
                if spec.width is None:
                    emit("%!(BADWIDTH)")
                elif spec.width < 0:
                    spec.width, spec.minus, spec.zero = -spec.width, True, False
                after_index = False
            else:
                spec.width, i = _parse_number(fmt, i)
                if after_index and spec.width is not None:  # "%[3]2d"
                    self.good = False
            if i + 1 < end and fmt[i] == ".":
                i += 1
                if after_index:  # "%[3].2d"
                    self.good = False
                i, after_index = self.arg_index(i)
                if i < end and fmt[i] == "*":
                    i += 1
                    spec.prec, self.arg = _number_arg(args, self.arg)
                    if spec.prec is not None and spec.prec < 0:
                        spec.prec = None
                    elif spec.prec is None:
                        emit("%!(BADPREC)")
                    after_index = False
                else:
                    spec.prec, i = _parse_number(fmt, i)
                    if spec.prec is None:
                        spec.prec = 0
            if not after_index:
                i, after_index = self.arg_index(i)
            if i >= end:
                emit("%!(NOVERB)")
                break
            verb = fmt[i]
            i += 1
            if verb == "%":
                emit("%")
            elif not self.good:
                emit(f"%!{verb}(BADINDEX)")
            elif self.arg >= len(args):
                emit(f"%!{verb}(MISSING)")
            else:
                if verb == "v":
                    spec.sharp_v, spec.sharp = spec.sharp, False
                    spec.plus_v, spec.plus = spec.plus, False
                emit(_print(args[self.arg], verb, spec, 0))
                self.arg += 1
        if not self.reordered and self.arg < len(args):
            emit("%!(EXTRA " + ", ".join("<nil>" if a is None else f"{go_type(a)}={go_str(a)}"
                                               for a in args[self.arg:]) + ")")
        return "".join(out)


def go_sprintf(fmt: str, args: tuple[Any, ...]) -> str:
    """fmt.Sprintf: flags, width and precision (``*`` too), argument indexes (``%[2]s``), every verb of
    the basic types; what Go would print as a pointer's address is refused (GoError)."""
    return _Printf(fmt, args).run()


def _json_empty(value: Any) -> bool:
    """encoding/json's isEmptyValue (what ``omitempty`` leaves out): a struct never is, a nil pointer is."""
    if isinstance(value, GoTime):
        return value.rfc3339 is None
    return not isinstance(value, Struct) and not value


def _to_json(value: Any) -> Any:
    if isinstance(value, GoTime):
        return value.rfc3339_nano() if value.rfc3339 is not None else None
    if isinstance(value, NilList | NilMap):
        return None
    if isinstance(value, Struct):
        return {value.json_names.get(k, k): _to_json(v) for k, v in value.items()
                if not (k in value.omit_empty and _json_empty(v))}
    if isinstance(value, Mapping):  # Go sorts map keys; struct fields keep their order
        return {k: _to_json(value[k]) for k in sorted(value)}
    if isinstance(value, list | tuple):
        return [_to_json(v) for v in value]
    return value


def _json_float(value: float) -> str:
    """encoding/json's float64: shortest digits, %f unless below 1e-6 or from 1e21 on (then e-7, not e-07)."""
    if math.isnan(value) or math.isinf(value):
        raise GoError(f"json: unsupported value: {go_float(value)}")  # (the caller writes nothing, as Go)
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    if value == 0:
        return sign + "0"
    digits, exp = _shortest(value)
    if abs(value) < 1e-6 or abs(value) >= 1e21:
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mant}e{'-' if exp < 0 else '+'}{abs(exp) if exp < 0 else f'{exp:02d}'}"
    if exp < 0:
        return f"{sign}0.{'0' * (-exp - 1)}{digits}"
    if len(digits) <= exp + 1:
        return sign + digits + "0" * (exp + 1 - len(digits))
    return f"{sign}{digits[:exp + 1]}.{digits[exp + 1:]}"


def _json_text(value: Any) -> str:
    if isinstance(value, float):
        return _json_float(value)
    if isinstance(value, Mapping):
        return "{" + ",".join(_json_text(str(k)) + ":" + _json_text(v) for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_json_text(v) for v in value) + "]"
    if isinstance(value, complex):
        raise GoError(f"json: unsupported type: {go_type(value)}")
    text = json.dumps(value, ensure_ascii=False)
    if isinstance(value, str) and not value.isascii():  # an invalid byte (a surrogate escape): Go writes \ufffd
        text = "".join("\\ufffd" if "\udc80" <= ch <= "\udcff" else ch for ch in text)
    return text


def go_json(value: Any) -> str:
    """``json`` of containers/common: compact, HTML characters not escaped.

    NOTE(go-diff): ``\b`` and ``\f`` are written so, as the newest skopeo's Go (1.22 and later) writes
    them; Go 1.19's encoding/json wrote ``\u0008`` and ``\u000c``.
    """
    try:
        text = _json_text(_to_json(value))
    except GoError:
        return ""  # report's json ignores the encoder's error: nothing was written
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")  # Go escapes these always

"""Literal values in a template: Go's number, character and string literal rules (strconv, restated).

Why: ``{{0x1F}}``, ``{{1_000}}``, ``{{'a'}}``, ``{{"\\x41"}}`` are constants Go's parser turns into
values with strconv's exact syntax rules; an invalid one is a parse error there and here.
"""

from __future__ import annotations

from typing import Any


def number_value(text: str, kind: str) -> Any:
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
        if -2**63 <= as_int < 2**63:
            return as_int
        if 0 <= as_int < 2**64:  # Go: a uint64 constant, "overflows int" only where it is evaluated
            return Overflow(text)
        # Beyond uint64 Go's parser tries ParseFloat: a decimal integer parses (then "integer overflow"),
        # a hex/octal/binary one without a 'p' exponent does not (then "illegal number syntax").
        if _parse_float(text) is None:
            return ValueError(f"illegal number syntax: {text!r}")
        return ValueError(f"integer overflow: {text!r}")
    as_float = _parse_float(text)
    if as_float is None:
        return ValueError(f"illegal number syntax: {text!r}")
    if not any(c in text for c in ".eEpP"):
        return ValueError(f"integer overflow: {text!r}")
    if not floaty:  # a hex float literal with 'p' is a float; "0x1p4" is float (has p)
        return as_float
    return as_float


class Overflow:
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
    value = unquote(inner, "'")
    if value is None or len(value) != 1:
        raise ValueError(f"malformed character constant: {text}")
    return value


_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}


def unquote(inner: str, quote: str) -> str | None:
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

"""The subset of Go ``text/template`` that ``skopeo inspect --format`` scripts use.

Why: CI scripts written for skopeo run ``skopeo inspect --format '{{.Digest}}' …``; they
must keep working. skopeo formats through containers/common's ``report`` package, whose
behaviour this module follows: ``json`` (alone, or ``{{json}}``) means indented JSON;
otherwise the text gets ``\\t``/``\\n`` escapes expanded and a final newline, and runs
once per item (``{{range .}}…{{end -}}``). Values print the way Go's ``fmt`` prints them
(``[a b]``, ``map[k:v]``, ``<no value>``, times as ``2006-01-02 15:04:05 +0000 UTC``).

Supported: text, ``{{- -}}`` trimming, field chains (``.A.B``, ``$.A``), pipelines with
``|``, parentheses, string/number/bool literals, ``if``/``with``/``range`` (with ``else``,
``else if``), and the functions json, join, lower, upper, title, split, truncate, pad,
index, len, print, printf, println, eq, ne, lt, le, gt, ge, and, or, not. ``table``
formats (tabwriter and headers) and template variables other than ``$`` are refused with
an error naming the construct. Errors read like Go's: ``template: NAME:…``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import field
from typing import Any

from trustcopy.errors import TrustcopyError
from trustcopy.lazy import dataclass

_JSON_FORMAT = re.compile(r"^\s*(json|\{\{\s*json\.?\s*\}\})\s*$")


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


class NilList(list[Any]):
    """A nil Go slice: prints ``[]``, encodes as ``null``."""


class NilMap(dict[str, Any]):
    """A nil Go map: prints ``map[]``, encodes as ``null``."""


class GoTime:
    """An RFC 3339 time that prints like Go's ``time.Time.String`` and encodes as RFC 3339."""

    def __init__(self, rfc3339: str) -> None:
        self.rfc3339 = rfc3339

    def __str__(self) -> str:
        text = self.rfc3339
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
    return _JSON_FORMAT.match(text) is not None


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
    nodes = _Parser(normalized, name).parse()
    out: list[str] = []
    _Exec(name, data).run(nodes, data, out)
    return "".join(out)


# -- values --------------------------------------------------------------------------


def go_str(value: Any) -> str:
    """A value as Go's ``fmt.Sprint`` prints it."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return repr(value).removesuffix(".0") if value.is_integer() else repr(value)
    if isinstance(value, list | tuple):
        return "[" + " ".join(go_str(v) for v in value) + "]"
    if isinstance(value, Struct):
        return "{" + " ".join(go_str(v) for v in value.values()) + "}"
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{go_str(k)}:{go_str(value[k])}" for k in sorted(value)) + "]"
    return str(value)


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
    if value is None or value is False or value in (0, ""):
        return False
    if isinstance(value, list | tuple | Mapping):
        return len(value) > 0
    return True


def _printf(fmt: str, *args: Any) -> str:
    out, i = [], 0
    it = iter(args)
    for m in re.finditer(r"%([-+ 0#]*\d*(?:\.\d+)?)([svdqxXtf%])", fmt):
        out.append(fmt[i:m.start()])
        flags, verb = m.groups()
        i = m.end()
        if verb == "%":
            out.append("%")
            continue
        arg = next(it, None)
        if verb in "sv":
            out.append(("%" + flags + "s") % go_str(arg))
        elif verb == "q":
            out.append(json.dumps(go_str(arg), ensure_ascii=False))
        elif verb == "t":
            out.append(go_str(bool(arg)))
        else:
            out.append(("%" + flags + verb) % arg)
    out.append(fmt[i:])
    return "".join(out)


def _index(value: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(value, Mapping):
            # Go: a missing key gives the element type's zero value; all our maps hold strings
            # (Labels, Annotations) or empty structs (ExposedPorts, Volumes).
            zero: Any = "" if all(isinstance(v, str) for v in value.values()) else Struct("struct {}")
            value = value.get(key, zero)
        elif isinstance(value, list | tuple | str):
            if not isinstance(key, int) or not 0 <= key < len(value):
                raise IndexError(f"index out of range: {key}")
            value = value[key]
        else:
            raise TypeError(f"can't index item of type {type(value).__name__}")
    return value


def _compare(op: Callable[[Any, Any], bool]) -> Callable[..., bool]:
    def compare(a: Any, *others: Any) -> bool:
        return all(op(a, b) for b in others) if others else op(a, None)

    return compare


FUNCS: dict[str, Callable[..., Any]] = {
    "json": go_json,
    "join": lambda items, sep: sep.join(go_str(x) for x in items),
    "lower": lambda s: go_str(s).lower(),
    "upper": lambda s: go_str(s).upper(),
    "title": lambda s: re.sub(r"(^|\s)(\S)", lambda m: m.group(1) + m.group(2).upper(), go_str(s)),
    "split": lambda s, sep: go_str(s).split(sep),
    "truncate": lambda s, n: go_str(s)[:n],
    "pad": lambda s, pre, post: (" " * pre + s + " " * post) if s else s,
    "index": _index,
    "len": len,
    "print": lambda *a: " ".join(go_str(x) for x in a) if all(not isinstance(x, str) for x in a)
    else "".join(go_str(x) for x in a),
    "printf": _printf,
    "println": lambda *a: " ".join(go_str(x) for x in a) + "\n",
    "eq": lambda a, *bs: any(a == b for b in bs),
    "ne": _compare(lambda a, b: a != b),
    "lt": _compare(lambda a, b: a < b),
    "le": _compare(lambda a, b: a <= b),
    "gt": _compare(lambda a, b: a > b),
    "ge": _compare(lambda a, b: a >= b),
    "not": lambda v: not _truth(v),
}


# -- parsing -----------------------------------------------------------------------------


@dataclass
class _Node:
    kind: str  # text | action | if | with | range
    text: str = ""
    pipe: list[list[Any]] = field(default_factory=list)
    body: list[_Node] = field(default_factory=list)
    orelse: list[_Node] = field(default_factory=list)


_TOKEN = re.compile(r"""\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<raw>`[^`]*`)|(?P<num>-?\d+(?:\.\d+)?)"""
                    r"""|(?P<var>\$[A-Za-z_]\w*)|(?P<field>(?:\$|\.)?(?:\.[A-Za-z_]\w*)+|\$|\.)|(?P<ident>[A-Za-z_]\w*)"""
                    r"""|(?P<op>[|()])|(?P<bad>\S+))""")


class _Parser:
    def __init__(self, text: str, name: str) -> None:
        self.name = name
        self.items = list(self._lex(text))
        self.pos = 0

    def _fail(self, message: str) -> TemplateError:
        return TemplateError(f"template: {self.name}: {message}")

    def _lex(self, text: str) -> Iterator[tuple[str, str]]:
        pos = 0
        pending_trim = False
        while pos < len(text):
            start = text.find("{{", pos)
            chunk = text[pos:] if start < 0 else text[pos:start]
            if pending_trim:
                chunk = chunk.lstrip()
            if start < 0:
                if chunk:
                    yield ("text", chunk)
                return
            end = text.find("}}", start + 2)
            if end < 0:
                raise self._fail("unclosed action")
            inner = text[start + 2:end]
            if inner.startswith("- ") or inner == "-":
                chunk = chunk.rstrip()
                inner = inner[1:]
            pending_trim = inner.endswith(" -") or inner == "-"
            if pending_trim:
                inner = inner[:-1]
            if chunk:
                yield ("text", chunk)
            inner = inner.strip()
            if not inner.startswith("/*"):
                yield ("action", inner)
            pos = end + 2

    def parse(self) -> list[_Node]:
        nodes, stop = self._list()
        if stop is not None:
            raise self._fail(f"unexpected {{{{{stop}}}}}")
        return nodes

    def _list(self) -> tuple[list[_Node], str | None]:
        nodes: list[_Node] = []
        while self.pos < len(self.items):
            kind, value = self.items[self.pos]
            self.pos += 1
            if kind == "text":
                nodes.append(_Node("text", text=value))
                continue
            word = value.split(None, 1)[0] if value else ""
            if word in ("end", "else"):
                return nodes, value
            if word in ("if", "with", "range"):
                nodes.append(self._control(word, value[len(word):]))
            elif word in ("define", "template", "block", "break", "continue"):
                raise self._fail(f"{{{{{word}}}}} is not supported in --format")
            else:
                nodes.append(_Node("action", pipe=self._pipeline(value)))
        return nodes, None

    def _control(self, word: str, rest: str) -> _Node:
        node = _Node(word, pipe=self._pipeline(rest))
        node.body, stop = self._list()
        if stop is None:
            raise self._fail(f"unexpected EOF: {{{{{word}}}}} without {{{{end}}}}")
        if stop.startswith("else"):
            tail = stop[4:].strip()
            if tail.startswith("if ") or tail.startswith("with "):
                inner = tail.split(None, 1)[0]
                node.orelse = [self._control(inner, tail[len(inner):])]
                return node
            node.orelse, stop = self._list()
            if stop != "end":
                raise self._fail(f"expected {{{{end}}}} after {{{{else}}}} of {{{{{word}}}}}")
        elif stop != "end":
            raise self._fail(f"unexpected {{{{{stop}}}}}")
        return node

    def _pipeline(self, text: str) -> list[list[Any]]:
        tokens = self._tokens(text)
        if not tokens:
            raise self._fail("missing value for command")
        if any(kind == "var" for kind, _ in tokens):
            raise self._fail("template variables other than $ are not supported in --format")
        pipeline, _ = self._commands(tokens, 0)
        return pipeline

    def _tokens(self, text: str) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for m in _TOKEN.finditer(text):
            kind = m.lastgroup
            if kind is None:
                continue
            value = m.group(kind)
            if kind == "bad":
                raise self._fail(f"unexpected {value!r} in command")
            out.append((kind, value))
        return out

    def _commands(self, tokens: list[tuple[str, str]], i: int) -> tuple[list[list[Any]], int]:
        commands: list[list[Any]] = [[]]
        while i < len(tokens):
            kind, value = tokens[i]
            if value == "|":
                if not commands[-1]:
                    raise self._fail("missing command before |")
                commands.append([])
            elif value == "(":
                inner, i = self._commands(tokens, i + 1)
                commands[-1].append(("pipe", inner))
            elif value == ")":
                return commands, i
            else:
                commands[-1].append((kind, value))
            i += 1
        if not commands[-1]:
            raise self._fail("missing command after |")
        return commands, i


# -- execution ---------------------------------------------------------------------------


class _Exec:
    def __init__(self, name: str, root: Any) -> None:
        self.name = name
        self.root = root

    def _fail(self, message: str, at: str | None = None) -> TemplateError:
        where = f" at <{at}>" if at else ""
        return TemplateError(f'template: {self.name}: executing "{self.name}"{where}: {message}')

    def run(self, nodes: list[_Node], dot: Any, out: list[str]) -> None:
        for node in nodes:
            if node.kind == "text":
                out.append(node.text)
            elif node.kind == "action":
                out.append(go_str_or_no_value(self._pipeline(node.pipe, dot)))
            elif node.kind == "if":
                self.run(node.body if _truth(self._pipeline(node.pipe, dot)) else node.orelse, dot, out)
            elif node.kind == "with":
                value = self._pipeline(node.pipe, dot)
                self.run(node.body, value, out) if _truth(value) else self.run(node.orelse, dot, out)
            else:  # range
                value = self._pipeline(node.pipe, dot)
                items = [value[k] for k in sorted(value)] if isinstance(value, Mapping) else value
                if isinstance(items, list | tuple) and items:
                    for item in items:
                        self.run(node.body, item, out)
                elif items in (None, [], ()) or isinstance(items, list | tuple):
                    self.run(node.orelse, dot, out)
                else:
                    raise self._fail(f"range can't iterate over {go_str(value)}")

    def _pipeline(self, commands: list[list[Any]], dot: Any) -> Any:
        value: Any = _NO_VALUE
        for n, command in enumerate(commands):
            value = self._command(command, dot, () if n == 0 else (value,))
        return value

    def _command(self, command: list[Any], dot: Any, piped: tuple[Any, ...]) -> Any:
        kind, value = command[0]
        if kind == "ident" and value not in ("true", "false", "nil"):
            fn = FUNCS.get(value)
            if fn is None:
                raise TemplateError(f'template: {self.name}: function "{value}" not defined')
            args = [self._arg(a, dot) for a in command[1:]] + list(piped)
            try:
                return fn(*args)
            except TemplateError:
                raise
            except (TypeError, ValueError, IndexError, KeyError) as exc:
                raise self._fail(f"error calling {value}: {exc}") from exc
        if len(command) > 1 or piped:
            raise self._fail(f"can't give argument to non-function {value}")
        return self._arg(command[0], dot)

    def _arg(self, token: tuple[str, Any], dot: Any) -> Any:
        kind, value = token
        if kind == "pipe":
            return self._pipeline(value, dot)
        if kind == "str":
            try:
                return json.loads(value)
            except ValueError as exc:
                raise self._fail(f"bad string {value}") from exc
        if kind == "raw":
            return value[1:-1]
        if kind == "num":
            return float(value) if "." in value else int(value)
        if kind == "ident":
            if value in FUNCS:
                return FUNCS[value]()
            return {"true": True, "false": False, "nil": None}[value]
        if value == ".":
            return dot
        base, path = (self.root, value[1:]) if value.startswith("$") else (dot, value)
        for name in path.split(".")[1:] if path else []:
            base = self._field(base, name, value)
        return base

    def _field(self, base: Any, name: str, chain: str) -> Any:
        if isinstance(base, Struct):
            if name not in base:
                raise self._fail(f"can't evaluate field {name} in type {base.type_name}", chain)
            return base[name]
        if isinstance(base, Mapping):
            return base.get(name, _NO_VALUE)
        if base is _NO_VALUE or base is None:
            return _NO_VALUE if base is _NO_VALUE else None
        raise self._fail(f"can't evaluate field {name} in type {type(base).__name__}", chain)


class _NoValue:
    def __repr__(self) -> str:
        return "<no value>"


_NO_VALUE: Any = _NoValue()


def go_str_or_no_value(value: Any) -> str:
    """An action's output: ``<no value>`` for a missing map key, else Go's formatting."""
    return "<no value>" if value is _NO_VALUE else go_str(value)


_CONFIG_FIELDS = {"os": "OS", "os.version": "OSVersion", "os.features": "OSFeatures", "rootfs": "RootFS",
                  "diff_ids": "DiffIDs", "created_by": "CreatedBy", "empty_layer": "EmptyLayer"}


def inspect_value(data: Mapping[str, Any]) -> Struct:
    """skopeo's inspect ``Output`` as a template sees it: Go field names, Go nil forms."""
    zero: dict[str, Any] = {"Name": "", "Tag": "", "Digest": "", "RepoTags": None, "Created": None,
                            "DockerVersion": "", "Labels": None, "Architecture": "", "Os": "", "Layers": None,
                            "LayersData": None, "Env": None}
    out = Struct("inspect.Output", {k: data.get(k, v) for k, v in zero.items()}, omit_empty=("Name", "Tag"))
    if isinstance(out.get("Created"), str):
        out["Created"] = GoTime(out["Created"])
    for name in ("RepoTags", "Layers", "Env", "LayersData"):
        if name in out and out[name] is None:
            out[name] = NilList()
    if "Labels" in out and out["Labels"] is None:
        out["Labels"] = NilMap()
    if isinstance(out.get("LayersData"), list) and not isinstance(out["LayersData"], NilList):
        out["LayersData"] = [Struct("types.ImageInspectLayer", {**layer, "Annotations": layer.get("Annotations")
                                                                 if layer.get("Annotations") is not None else NilMap()})
                             for layer in out["LayersData"]]
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
            out[name] = [_struct("v1.History", h, _HISTORY_STRUCT) if isinstance(h, Mapping) else h for h in item]
        elif item is None and name in fields:
            out[name] = fields[name]()  # JSON null leaves Go's zero value (a nil slice prints [])
        else:
            out[name] = item
    return out


def config_value(value: Any) -> Any:
    """An OCI image config (JSON keys) as the ``v1.Image`` struct a Go template sees."""
    return _struct("v1.Image", value, _IMAGE_FIELDS) if isinstance(value, Mapping) else value

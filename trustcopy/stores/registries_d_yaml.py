"""A registries.d file decoded as the newest containers/image decodes it (gopkg.in/yaml.v3), bounded.

containers/image unmarshals each file into its Go schema with yaml.v3 (YAML 1.2 scalars,
exact ``yaml:`` key names); PyYAML's constructors (YAML 1.1 types: ``yes`` is a boolean,
``1:20`` is 80, a key ``5`` is an integer) would read the same text differently. So we use
PyYAML only to *parse* (its event stream), compose the nodes ourselves without recursion,
and decode the schema's parts as yaml.v3 decodes them into the Go types:

- a key is the scalar's text (``5:``, ``yes:``, ``1.5:`` under ``docker:`` are namespaces
  ``"5"``, ``"yes"``, ``"1.5"``); a null key (``~:``) is skipped; a collection as a key is an error;
- a string field takes the scalar's text (``!!binary`` decoded), null leaves it unset; an
  explicit standard tag must fit its text (``!!int abc`` is an error), a tag on a collection is
  ignored;
- ``use-sigstore-attachments`` takes ``true``/``false`` (``True``, ``FALSE``) or, as text, the
  YAML 1.1 words ``y``/``yes``/``on``/``n``/``no``/``off`` (with their capitalised forms), even quoted;
- duplicate keys (same kind and text, whatever the tag or quoting) are errors in every mapping
  that is decoded, a known field set twice too; anchors may be redefined (the last one counts);
  merge keys ``<<`` (a mapping, an alias of one, or a list of them) add the keys not written
  explicitly, the first merged mapping winning;
- UTF-8 (a BOM is skipped) or UTF-16 with a BOM; unknown keys are reported, never decoded.

Deliberate differences (NOTE(go-diff)), each refusing more, never accepting more:

- the whole file must be sound, not only the parts the schema reads: more than one document,
  an alias that contains itself, nesting deeper than :data:`MAX_YAML_DEPTH`, a document
  whose aliases expand to more than :data:`MAX_YAML_NODES` nodes (a "billion laughs" file,
  code ``registries-d-too-complex``), or a tag outside YAML's standard ones (``!foo``,
  ``!!python/...``) anywhere refuse the file; yaml.v3 reads only the first document and never
  looks at the value of a key it does not know;
- a URL field written as a plain scalar that YAML 1.1 or yaml.v3 reads as a boolean, number,
  date or merge key (``lookaside: yes``, ``lookaside: 0o17``, ``lookaside: !!int 1``) refuses the
  file (code ``registries-d-invalid``), where yaml.v3 keeps the text and the newest
  containers/image fails only the images that use that section: such a text never has a
  scheme, so it can never be a usable URL (team decision: fail early, naming file and key);
- a ``!!binary`` URL or key that is not UTF-8 is refused (Go would keep the raw bytes).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from trustcopy.errors import ConfigError

#: Nodes a YAML document may have once every alias is expanded.
MAX_YAML_NODES = 100_000
#: Nesting of collections (c/image's yaml.v3 stops at 10,000; PyYAML's scanner is quadratic in it).
MAX_YAML_DEPTH = 200

URL_FIELDS = ("lookaside", "lookaside-staging", "sigstore", "sigstore-staging")
ATTACHMENTS_FIELD = "use-sigstore-attachments"
SECTION_FIELDS = (*URL_FIELDS, ATTACHMENTS_FIELD)
TOP_FIELDS = ("default-docker", "docker")
#: yaml.v3's YAML 1.1 compatibility for a Go bool: these texts, plain or quoted.
YAML11_BOOL_WORDS = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "on", "On", "ON"), True),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "off", "Off", "OFF"), False),
}
#: Plain scalars yaml.v3 resolves by lookup (its YAML 1.2 core schema, and the merge key).
_V3_WORDS: dict[str, str] = {
    **dict.fromkeys(("true", "True", "TRUE", "false", "False", "FALSE"), "bool"),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), "null"),
    **dict.fromkeys((".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF",
                     "-.inf", "-.Inf", "-.INF"), "float"),
    "<<": "merge",
}
_V3_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
#: The tags yaml.v3 knows (short form); "" is no tag (or "!").
_STANDARD_TAGS = frozenset(("", "!!null", "!!bool", "!!str", "!!int", "!!float", "!!timestamp", "!!seq", "!!map",
                            "!!binary", "!!merge"))
_RESOLVABLE_TAGS = frozenset(("", "!!str", "!!bool", "!!int", "!!float", "!!null", "!!timestamp"))
_LONG_PREFIX = "tag:yaml.org,2002:"

_patterns: dict[str, re.Pattern[str]] = {}


def _pattern(name: str) -> re.Pattern[str]:
    """Compiled lazily (start-up time: no module-level re.compile)."""
    if not _patterns:
        _patterns.update(
            float=re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?"),
            int=re.compile(r"[-+]?(0[xX][0-9a-fA-F]+|0[oO]?[0-7]+|0[bB][01]+|[0-9]+)"),
            timestamp=re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})"
                                 r"(?:([Tt ])([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(\.[0-9]+)?"
                                 r"(Z|[-+][0-9]{2}:[0-9]{2})?)?"),
        )
    return _patterns[name]


# -- nodes ----------------------------------------------------------------------------------------


@dataclass(eq=False)
class YamlNode:
    kind: str  # "scalar", "seq", "map", "alias"
    line: int
    tag: str = ""  # short form: "!!str", "!foo"; "" for none or "!"
    value: str = ""  # a scalar's text; an alias's anchor name
    quoted: bool = False  # single/double quoted, literal or folded (yaml.v3: a string whatever it says)
    yaml11: str = ""  # PyYAML's (YAML 1.1) tag for a plain untagged scalar
    items: list[YamlNode] = field(default_factory=list)  # seq items; map keys and values alternating
    target: YamlNode | None = None  # an alias's node
    size: int = 0  # nodes with every alias expanded (0: not complete yet)


def _invalid(file: str, key: str, message: str) -> ConfigError:
    return ConfigError(f"{file}: {key}: {message}", code="registries-d-invalid", context={"file": file, "key": key})


def _bad_yaml(file: str, message: str, code: str = "registries-d-invalid") -> ConfigError:
    return ConfigError(f"{file}: {message}", code=code, context={"file": file})


def _short_tag(tag: str | None) -> str:
    if tag is None or tag == "!":
        return ""
    if tag.startswith(_LONG_PREFIX):
        return "!!" + tag[len(_LONG_PREFIX):]
    return tag


def _text(file: str, data: bytes) -> str:
    """The file's text: UTF-16 with a byte-order mark, else UTF-8 (a BOM skipped), as libyaml reads it."""
    codec = "utf-8"
    for bom, bom_codec in ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"), (b"\xef\xbb\xbf", "utf-8")):
        if data.startswith(bom):
            data, codec = data[len(bom):], bom_codec
            break
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        what = "UTF-8" if codec == "utf-8" else "UTF-16"
        raise _bad_yaml(file, f"not {what} text ({exc.reason} at byte {exc.start})") from None


def _compose(file: str, text: str) -> YamlNode | None:
    """The first and only document's node graph, built without recursion and bounded."""
    import yaml

    from trustcopy.stores.registries_d import _yaml_problem

    try:  # the reader refuses NUL and other non-printable characters as it starts
        loader = _loader_class()(text)
    except yaml.YAMLError as exc:
        raise _bad_yaml(file, f"invalid YAML: {_yaml_problem(exc)}") from None
    try:
        return _compose_events(file, loader)
    except yaml.YAMLError as exc:
        raise _bad_yaml(file, f"invalid YAML: {_yaml_problem(exc)}") from None
    finally:
        loader.dispose()


_loader: list[type] = []


def _loader_class() -> type:
    """PyYAML's safe loader, skipping tabs between tokens where libyaml (and so yaml.v3) does.

    libyaml skips a tab like a space in the flow context, and in the block context wherever
    a simple key cannot start (after ``key:`` on the same line, say); PyYAML refuses every
    tab between tokens ("found character '\\t' that cannot start any token").
    """
    if not _loader:
        import yaml

        class Loader(yaml.SafeLoader):
            def scan_to_next_token(self) -> None:
                if self.index == 0 and self.peek() == "\uFEFF":
                    self.forward()
                while True:
                    simple_key_allowed = bool(getattr(self, "allow_simple_key", True))
                    tab_ok = bool(self.flow_level) or not simple_key_allowed
                    while self.peek() == " " or (self.peek() == "\t" and tab_ok):
                        self.forward()
                    if self.peek() == "#":
                        while self.peek() not in "\0\r\n\x85\u2028\u2029":
                            self.forward()
                    if not self.scan_line_break():
                        return
                    if not self.flow_level:
                        self.allow_simple_key = True

        _loader.append(Loader)
    return _loader[0]


def _compose_events(file: str, loader: Any) -> YamlNode | None:
    import yaml

    anchors: dict[str, YamlNode] = {}
    stack: list[YamlNode] = []
    root: YamlNode | None = None
    documents = 0

    def tag_of(event: Any) -> str:
        tag = _short_tag(event.tag)
        if tag not in _STANDARD_TAGS:
            # The tag is not quoted: an unquoted value starting with "!" is a tag, and in a sync
            # file that value may be a password (``password: !s3cret``).
            raise _bad_yaml(file, f"line {event.start_mark.line + 1}: could not determine a constructor for a tag "
                                  "(only YAML's standard tags are accepted; quote a value starting with '!')")
        return tag

    def add(node: YamlNode, anchor: str | None) -> None:
        nonlocal root
        if anchor is not None:
            anchors[anchor] = node  # a redefined anchor replaces the earlier one (YAML 1.2, yaml.v3)
        if stack:
            stack[-1].items.append(node)
        else:
            root = node

    def complete(node: YamlNode) -> None:
        if node.kind == "alias":
            assert node.target is not None
            if not node.target.size:  # its anchor is still open: the alias is inside its own node
                raise _bad_yaml(file, f"line {node.line}: recursive YAML alias *{node.value}")
            node.size = node.target.size
        elif node.kind == "scalar":
            node.size = 1
        else:
            node.size = 1 + sum(child.size for child in node.items)
        if node.size > MAX_YAML_NODES:
            raise _bad_yaml(file, f"YAML document expands to more than {MAX_YAML_NODES} nodes (aliases included)",
                            code="registries-d-too-complex")

    while True:
        event = loader.get_event()
        line = event.start_mark.line + 1 if event.start_mark is not None else 0
        if isinstance(event, yaml.StreamEndEvent):
            return root
        if isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise _bad_yaml(file, f"line {line}: expected a single document in the stream")
        elif isinstance(event, yaml.AliasEvent):
            if event.anchor not in anchors:
                # Not quoted, as a tag above: ``password: *s3cret`` is an alias of an unknown anchor.
                raise _bad_yaml(file, f"line {line}: unknown anchor referenced (quote a value starting with '*')")
            node = YamlNode("alias", line, value=event.anchor, target=anchors[event.anchor])
            add(node, None)
            complete(node)
        elif isinstance(event, yaml.ScalarEvent):
            node = YamlNode("scalar", line, tag=tag_of(event), value=event.value, quoted=event.style is not None)
            if not node.quoted and event.tag is None:
                node.yaml11 = _short_tag(loader.resolve(yaml.ScalarNode, event.value, (True, False)))
            add(node, event.anchor)
            complete(node)
        elif isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            kind = "seq" if isinstance(event, yaml.SequenceStartEvent) else "map"
            node = YamlNode(kind, line, tag=tag_of(event))
            add(node, event.anchor)
            stack.append(node)
            if len(stack) > MAX_YAML_DEPTH:
                raise _bad_yaml(file, f"line {line}: YAML nested too deeply (more than {MAX_YAML_DEPTH} levels)",
                                code="registries-d-too-complex")
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            complete(stack.pop())


# -- yaml.v3's scalar resolution -----------------------------------------------------------------------


def _go_int(text: str) -> bool:
    """Whether Go's strconv.ParseInt/ParseUint(text, 0, 64) accepts ``text`` (underscores already removed)."""
    if not _pattern("int").fullmatch(text):
        return False
    body = text.lstrip("+-")
    base = {"0x": 16, "0X": 16, "0o": 8, "0O": 8, "0b": 2, "0B": 2}.get(body[:2])
    digits = body[2:] if base else body
    if base is None:
        base = 8 if len(body) > 1 and body.startswith("0") else 10
    try:
        value = int(digits, base)
    except ValueError:
        return False
    return value < 2**64 if not text.startswith("-") else value <= 2**63


def _go_timestamp(text: str) -> bool:
    """Whether yaml.v3 reads ``text`` as a timestamp (its formats, with Go's range checks)."""
    match = _pattern("timestamp").fullmatch(text)
    if match is None:
        return False
    year, month, day = (int(match.group(i)) for i in (1, 2, 3))
    try:
        datetime.date(year, month, day)
    except ValueError:
        return False
    if match.group(4) is None:
        return True
    if match.group(4) == " " and match.group(9) is not None:
        return False  # the space-separated form has no zone
    if match.group(4) != " " and match.group(9) is None:
        return False  # the T form needs one
    hour, minute, second = (int(match.group(i)) for i in (5, 6, 7))
    return hour < 24 and minute < 60 and second < 60


def resolve_tag(file: str, node: YamlNode) -> str:
    """yaml.v3's tag for a scalar ("!!str", "!!int", "!!null" …); an explicit tag must fit the text."""
    if node.tag == "!!str" or (node.quoted and node.tag == ""):
        return "!!str"
    tag, text = node.tag, node.value
    if tag not in _RESOLVABLE_TAGS:
        return tag  # !!binary, !!map, !!seq, !!merge on a scalar: the text, as written
    resolved = "!!str"
    if not text or text[0] in "+-0123456789yYnNtTfFoO~.":
        word = _V3_WORDS.get(text)
        if word is not None:
            resolved = "!!" + word
        elif text[0] == ".":
            resolved = "!!float" if _pattern("float").fullmatch(text) else "!!str"
        elif text[0] in "+-0123456789":
            plain = text.replace("_", "")
            if tag in ("", "!!timestamp") and _go_timestamp(text):
                resolved = "!!timestamp"
            elif _go_int(plain):
                resolved = "!!int"
            elif _pattern("float").fullmatch(plain):
                resolved = "!!float"
    if tag in ("", resolved) or (tag == "!!float" and resolved == "!!int"):
        return resolved
    from trustcopy.redact import redact_url

    shown = redact_url(text) if "://" in text else text  # a lookaside URL's token= (userinfo: errors.py)
    raise _invalid(file, f"line {node.line}", f"cannot decode {resolved} `{shown}` as a {tag}")


def binary_text(file: str, node: YamlNode) -> str:
    try:
        data = base64.b64decode(node.value.replace("\n", "").replace("\r", ""), validate=True)
    except binascii.Error:
        raise _invalid(file, f"line {node.line}", "!!binary value contains invalid base64 data") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise _invalid(file, f"line {node.line}", "!!binary value is not UTF-8 text") from None


# -- decoding the schema ---------------------------------------------------------------------------------


def follow(node: YamlNode) -> YamlNode:
    while node.kind == "alias":
        assert node.target is not None
        node = node.target
    return node


def _is_null(file: str, node: YamlNode) -> bool:
    return node.kind == "scalar" and resolve_tag(file, node) == "!!null"


def kind_name(file: str, node: YamlNode) -> str:
    if node.kind != "scalar":
        return {"seq": "a list", "map": "a mapping"}[node.kind]
    tag = resolve_tag(file, node)
    return {"!!bool": "a boolean", "!!int": "an integer", "!!float": "a number", "!!timestamp": "a date",
            "!!null": "null"}.get(tag, "a string")


def string_value(file: str, node: YamlNode) -> str | None:
    """A scalar (already followed) as yaml.v3 decodes it into a Go string: its text, a ``!!binary``
    one decoded; None for null (the Go zero value, which callers tell apart)."""
    tag = resolve_tag(file, node)
    if tag == "!!null":
        return None
    return binary_text(file, node) if tag == "!!binary" else node.value


def _key_text(file: str, where: str, node: YamlNode) -> str | None:
    """A key as yaml.v3 decodes it into a Go string: its text; None for a null key (skipped)."""
    node = follow(node)
    if node.kind != "scalar":
        raise _invalid(file, where, f"a key must be a scalar, not {kind_name(file, node)} (line {node.line})")
    return string_value(file, node)


def _is_merge(node: YamlNode) -> bool:
    return node.kind == "scalar" and node.value == "<<" and not node.quoted and node.tag in ("", "!!merge")


def mapping_pairs(file: str, where: str, node: YamlNode) -> Iterator[tuple[str, YamlNode]]:
    """A decoded mapping's (key text, value) pairs, as yaml.v3 applies them: explicit keys, then merged ones.

    Duplicate keys (same kind and text) are errors; a null key is skipped; merged mappings add
    only keys not seen before (explicit first, then the merged mappings in order).
    """
    seen_raw: dict[tuple[str, str], int] = {}
    for key in node.items[0::2]:
        ident = (key.kind, key.value)
        if ident in seen_raw:
            raise ConfigError(f"{file}: line {key.line}: duplicate key {key.value!r} (already defined at line "
                              f"{seen_raw[ident]}, in {where})", code="registries-d-invalid",
                              context={"file": file, "key": key.value})
        seen_raw[ident] = key.line
    merge: YamlNode | None = None
    present: set[str] = set()
    for key, value in zip(node.items[0::2], node.items[1::2], strict=True):
        if _is_merge(key):
            merge = value
            continue
        text = _key_text(file, where, key)
        if text is not None:
            present.add(text)
            yield text, value
    if merge is None:
        return
    merged = [merge] if merge.kind in ("map", "alias") else merge.items if merge.kind == "seq" else [merge]
    for item in merged:
        part = follow(item)
        if part.kind != "map":
            raise _invalid(file, where, f"line {part.line}: map merge requires map or sequence of maps as the value")
        for text, value in mapping_pairs(file, where, part):
            if text not in present:
                present.add(text)
                yield text, value


@dataclass
class DecodedSection:
    """One section's fields as the Go struct holds them (empty URLs are "not set")."""

    urls: dict[str, str] = field(default_factory=dict)
    use_sigstore_attachments: bool | None = None


@dataclass
class DecodedFile:
    """One file: ``default-docker`` (None: not defined) and the ``docker:`` namespaces."""

    default_docker: DecodedSection | None = None
    docker: dict[str, DecodedSection] = field(default_factory=dict)


Unknown = Callable[[str, str, tuple[str, ...]], None]


def _url(file: str, where: str, node: YamlNode) -> str | None:
    node = follow(node)
    if node.kind != "scalar":
        raise _invalid(file, where, f"must be a string (a URL), not {kind_name(file, node)}")
    tag = resolve_tag(file, node)
    if tag == "!!null":
        return None
    if tag == "!!binary":
        return binary_text(file, node)
    # NOTE(go-diff): the team decision in the module docstring: a scalar YAML reads as a
    # boolean, number or date is refused here; yaml.v3 keeps its text, which is never a URL.
    yaml11 = {"!!bool": "a boolean", "!!int": "an integer", "!!float": "a number", "!!timestamp": "a date",
              "!!merge": "a merge key", "!!value": "a value key"}
    kind = yaml11.get(tag) or (yaml11.get(node.yaml11) if node.tag == "" else None)
    if kind is not None:
        raise _invalid(file, where, f"must be a string (a URL), not {kind} ({node.value!r}; quote it if meant)")
    return node.value


def _flag(file: str, where: str, node: YamlNode) -> bool | None:
    node = follow(node)
    if node.kind != "scalar":
        raise _invalid(file, where, f"must be true or false, not {kind_name(file, node)}")
    tag = resolve_tag(file, node)
    if tag == "!!null":
        return None
    if tag == "!!bool":
        return _V3_BOOLS[node.value]
    text = binary_text(file, node) if tag == "!!binary" else node.value
    if tag in ("!!str", "!!binary", "!!map", "!!seq", "!!merge") and text in YAML11_BOOL_WORDS:
        return YAML11_BOOL_WORDS[text]
    raise _invalid(file, where, f"must be true or false, not {kind_name(file, node)}")


def _section(file: str, where: str, node: YamlNode, unknown: Unknown) -> DecodedSection:
    node = follow(node)
    section = DecodedSection()
    if _is_null(file, node):
        return section
    if node.kind != "map":
        raise _invalid(file, where, f"must be a mapping, not {kind_name(file, node)}")
    done: set[str] = set()
    for name, value in mapping_pairs(file, where, node):
        field_where = f"{where}.{name}"
        if name not in SECTION_FIELDS:
            unknown(field_where, name, SECTION_FIELDS)
            continue
        if name in done:
            raise _invalid(file, field_where, "set twice")
        done.add(name)
        if name == ATTACHMENTS_FIELD:
            section.use_sigstore_attachments = _flag(file, field_where, value)
            continue
        url = _url(file, field_where, value)
        if url:
            section.urls[name] = url
    return section


def decode_registries_d(file: str, data: bytes, unknown: Unknown) -> DecodedFile:
    """One registries.d file's ``default-docker`` and ``docker:`` sections, as containers/image reads them.

    Args:
        file: the path, for messages.
        data: the file's bytes (already size-bounded).
        unknown: called with (key path, key, the known keys) for each key the schema does not have.

    Raises:
        ConfigError: invalid YAML, a value of the wrong type (naming the file and key), or
            (code ``registries-d-too-complex``) a document nested or aliased beyond the bounds.
    """
    root = _compose(file, _text(file, data))
    decoded = DecodedFile()
    if root is None:
        return decoded
    root = follow(root)
    if _is_null(file, root):
        return decoded
    if root.kind != "map":
        raise _invalid(file, "(top level)", f"must be a mapping, not {kind_name(file, root)}")
    done: set[str] = set()
    for name, value in mapping_pairs(file, "(top level)", root):
        if name not in TOP_FIELDS:
            unknown(name, name, TOP_FIELDS)
            continue
        if name in done:
            raise _invalid(file, name, "set twice")
        done.add(name)
        target = follow(value)
        if name == "default-docker":
            if target.kind != "scalar" and target.tag == "!!null":
                raise _invalid(file, name, "a !!null tag on a mapping")
            # as in Go, "default-docker: null" defines nothing
            decoded.default_docker = None if _is_null(file, target) else _section(file, name, target, unknown)
            continue
        decoded.docker = {}
        if _is_null(file, target):
            continue
        if target.kind != "map":
            raise _invalid(file, name, f"must be a mapping of namespaces, not {kind_name(file, target)}")
        for ns, raw in mapping_pairs(file, name, target):
            decoded.docker[ns] = _section(file, f'docker."{ns}"', raw, unknown)
    return decoded


# -- the same yaml.v3 rules for other Go schemas (sync's YAML: trustcopy/sync/config.py) -------------------


def compose_document(file: str, data: bytes) -> YamlNode | None:
    """The file's single document as a bounded node graph (None for an empty stream), as :func:`_compose`."""
    return _compose(file, _text(file, data))

"""Go's ``text/template``, as ``skopeo inspect --format`` runs it.

Why: CI scripts written for skopeo run ``skopeo inspect --format '{{.Digest}}' …``; they
must keep working. skopeo formats through containers/common's ``report`` package, whose
behaviour this package follows (the newest skopeo): ``json`` (alone, or ``{{json}}``) means
indented JSON; otherwise the text gets ``\\t``/``\\n`` escapes expanded and a final newline
(or, when that breaks the template, is parsed as written), runs once per item
(``{{range .}}…{{end -}}`` unless it ranges over ``.`` itself) with ``$`` the list of items,
and gets report's functions (json join lower upper title split truncate pad) besides Go's.

One module a job, in the order a format goes through them: report.py (containers/common's
wrapping), lex.py, literals.py and parse.py (Go's text/template/parse), execute.py (exec.go),
funcs.py (builtins, report's functions, methods), values.py and gotime.py (Go's types, and
``time.Time``), fmt.py (Go's fmt printing), skopeo.py (the structs skopeo formats).
tests/integration/test_gotemplate_skopeo_differential.py compares it with the real skopeo.
Refused with an error naming the construct: ``table`` formats, ``{{define}}``, the
``time.Time`` methods gotime.py does not restate, and the ``digest.Digest``/``digest.Algorithm``
methods funcs.py does not (``Validate``, ``Verifier``, ``Available``…: UNSUPPORTED_DIGEST_METHODS).

Bounds (errors.py), where Go has none and skopeo would take the memory or the time, or where
Python's stack is shallower than Go's: a TemplateError naming the bound, never a traceback or an
out-of-memory kill. A text (one value, or the whole output) of at most 64 Mi characters
(``{{pad .Os 1000000000 0}}``, ``printf "%1000000[1]d%1000000[1]d…"``, ``print $big $big``: refused
before the text is built); ``split`` into at most a million parts; parentheses, ``if``/``with``/
``range`` and ``block`` nested at most 100 deep (Go: 10,000 and more); ``{{template}}`` calls at
most 100 deep (Go: 100,000), and a template calling itself from deep inside control structures
refused when Python's stack runs out; at most 10 million actions and range iterations per run
(nested ``{{range}}`` over the same list multiply).
"""

from __future__ import annotations

from trustcopy.cli.gotemplate.errors import TemplateError
from trustcopy.cli.gotemplate.fmt import go_float, go_json, go_quote, go_sprintf, go_str
from trustcopy.cli.gotemplate.funcs import FUNCS
from trustcopy.cli.gotemplate.gotime import GoTime
from trustcopy.cli.gotemplate.report import is_json_format, render
from trustcopy.cli.gotemplate.skopeo import config_value, inspect_value
from trustcopy.cli.gotemplate.values import Digest, Int64, Map, NilList, NilMap, Slice, Struct, Uint8, go_type

__all__ = [
    "FUNCS", "Digest", "GoTime", "Int64", "Map", "NilList", "NilMap", "Slice", "Struct", "TemplateError", "Uint8",
    "config_value", "go_float", "go_json", "go_quote", "go_sprintf", "go_str", "go_type", "inspect_value",
    "is_json_format", "render",
]

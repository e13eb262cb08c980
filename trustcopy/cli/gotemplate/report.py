"""containers/common's ``report`` formatting, as skopeo runs a ``--format``: JSON test, range, render.

Why: skopeo does not hand the format to text/template as typed: ``\\t``/``\\n`` escapes are
expanded, a final newline added, the format run once per item (``report.EnforceRange``) with
``$`` the list of items; this module is that wrapping around the parser and executor.
"""

from __future__ import annotations

import re
from typing import Any

from trustcopy.cli.gotemplate.errors import TemplateError
from trustcopy.cli.gotemplate.execute import Executor
from trustcopy.cli.gotemplate.parse import Parser
from trustcopy.cli.gotemplate.values import Slice

_GO_SPACE = "[\t\n\f\r ]*"  # Go's \s (Python's also matches \v and Unicode spaces such as U+2028)
# (compiled on use: start-up time; \Z, as Go's $ matches only at the very end)
_JSON_FORMAT = f"{_GO_SPACE}(json|\\{{\\{{{_GO_SPACE}json\\.?{_GO_SPACE}\\}}\\}}){_GO_SPACE}\\Z"


def is_json_format(text: str) -> bool:
    """Whether the format asks for indented JSON (containers/common's ``IsJSON``)."""
    return re.match(_JSON_FORMAT, text) is not None


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
        try:
            parser = Parser(_enforce_range(normalized), name)
            nodes = parser.parse()
        except TemplateError:
            # report.Formatter.Parse: when the expanded escapes break the template ('{{printf "\\n"}}'),
            # the format is parsed as written.
            parser = Parser(_enforce_range(text), name)
            nodes = parser.parse()
        out: list[str] = []
        root = Slice([data])
        root.type_name = "[]interface {}"
        Executor(name, root, parser.templates).run(nodes, root, out)
    except RecursionError:
        # The nesting bounds (MAX_NESTING, MAX_TEMPLATE_DEPTH) multiply: a template nested 100 deep calling
        # itself 100 times is deeper than Python's stack. Go would run it; we refuse it, by name.
        raise TemplateError(f"template: {name}: nested too deeply for trustcopy (templates calling templates "
                            "inside nested control structures)") from None
    return "".join(out)

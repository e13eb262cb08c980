"""The parser of Go's text/template (text/template/parse/parse.go, restated): items → node tree.

Why: errors are found where Go finds them (an undefined variable or function is a parse
error, before anything is printed), and the tree shapes (pipelines, commands, field chains,
control nodes) are the ones the executor walks as Go's exec.go does.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any

from trustcopy.cli.gotemplate.errors import MAX_NESTING, TemplateError
from trustcopy.cli.gotemplate.funcs import FUNCS
from trustcopy.cli.gotemplate.lex import Lexer
from trustcopy.cli.gotemplate.literals import number_value, unquote
from trustcopy.lazy import dataclass

_CONTROL = ("if", "with", "range")


@dataclass
class Pipe:
    decl: list[str]
    is_assign: bool
    cmds: list[list[Any]]


@dataclass
class Node:
    kind: str  # text | action | if | with | range | break | continue
    text: str = ""
    pipe: Pipe | None = None
    body: list[Node] = field(default_factory=list)
    orelse: list[Node] = field(default_factory=list)


class Parser:
    def __init__(self, text: str, name: str) -> None:
        self.name = name
        self.items = Lexer(text, self._fail).run()
        self.pos = 0
        self.vars: list[str] = ["$"]
        self.range_depth = 0
        self.nesting = 0  # open parentheses, control structures and blocks (bounded: MAX_NESTING)
        self.templates: dict[str, list[Node]] = {}

    def _fail(self, message: str) -> TemplateError:
        return TemplateError(f"template: {self.name}: {message}")

    def _nest(self) -> None:
        """One more level of nesting: past MAX_NESTING, an error (Go recurses on; Python would overflow its stack)."""
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise self._fail(f"parentheses, control structures and blocks nested more than {MAX_NESTING} deep "
                             "(trustcopy's limit)")

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

    def parse(self) -> list[Node]:
        nodes: list[Node] = []
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

    def _item_list(self) -> tuple[list[Node], Node]:
        nodes: list[Node] = []
        while self._peek_non_space()[0] != "eof":
            node = self._text_or_action()
            if node.kind in ("end", "else"):
                return nodes, node
            nodes.append(node)
        raise self._fail("unexpected EOF")

    def _text_or_action(self) -> Node:
        kind, value = self._next_non_space()
        if kind == "text":
            return Node("text", text=value)
        if kind == "{{":
            return self._action()
        raise self._fail(f"unexpected {value!r} in input")

    def _action(self) -> Node:
        kind, _ = self._next_non_space()
        if kind in ("break", "continue"):
            if self._next_non_space()[0] != "}}":
                raise self._fail(f"unexpected token in {{{{{kind}}}}}")
            if not self.range_depth:
                raise self._fail(f"{{{{{kind}}}}} outside {{{{range}}}}")
            return Node(kind)
        if kind == "else":
            if self._peek_non_space()[0] == "if":
                return Node("else", text="if")
            if self._next_non_space()[0] != "}}":
                raise self._fail("unexpected token in else")
            return Node("else")
        if kind == "end":
            if self._next_non_space()[0] != "}}":
                raise self._fail("unexpected token in end")
            return Node("end")
        if kind in _CONTROL:
            return self._control(kind)
        if kind in ("template", "block"):
            return self._template(kind)
        if kind == "define":  # only at the top level, outside skopeo's own {{range}}: refused
            raise self._fail("{{define}} is not supported in --format")
        self.pos -= 1
        return Node("action", pipe=self._pipeline("command", "}}"))

    def _template(self, kind: str) -> Node:
        """``{{template "name" pipeline}}``, or ``{{block "name" pipeline}}…{{end}}`` (define and run)."""
        what, value = self._next_non_space()
        if what not in ("string", "rawstring"):
            raise self._fail(f"unexpected {value!r} in {kind} clause")
        name = unquote(value[1:-1], '"') if what == "string" else value[1:-1]
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
            self._nest()
            body, stop = self._item_list()
            self.nesting -= 1
            self.vars, self.range_depth = saved
            if stop.kind != "end":
                raise self._fail(f"unexpected {{{{{stop.kind}}}}} in block")
            self.templates[name] = body
        return Node("template", text=name, pipe=pipe)

    def _control(self, kind: str) -> Node:
        saved = len(self.vars)
        self._nest()
        try:
            node = Node(kind, pipe=self._pipeline(kind, "}}"))
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
            self.nesting -= 1

    def _pipeline(self, context: str, end: str) -> Pipe:
        pipe = Pipe([], False, [])
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
                # An assignment to an undeclared variable parses (Go's parser declares it, for the rest
                # of the scope); it fails only when run: "{{if false}}{{$x = 2}}{{end}}" prints nothing.
                return pipe
            if kind in ("bool", "char", "dot", "field", "ident", "number", "nil", "rawstring", "string",
                        "variable", "("):
                self.pos -= 1
                pipe.cmds.append(self._command())
            else:
                raise self._fail(f"unexpected {value!r} in {context}")

    def _check_pipeline(self, pipe: Pipe, context: str) -> None:
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
                number = number_value(value, kind)
            except ValueError as exc:
                raise self._fail(str(exc)) from exc
            if isinstance(number, ValueError):
                raise self._fail(str(number))
            return ("number", number)
        if kind == "(":
            self._nest()
            pipe = self._pipeline("parenthesized pipeline", ")")
            self.nesting -= 1
            return ("pipe", pipe)
        if kind == "string":
            text = unquote(value[1:-1], '"')
            if text is None:
                raise self._fail(f"invalid syntax: {value}")
            return ("string", text)
        if kind == "rawstring":
            return ("string", value[1:-1].replace("\r", ""))
        self.pos -= 1
        return None

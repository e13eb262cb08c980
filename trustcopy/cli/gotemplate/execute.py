"""The executor of Go's text/template (text/template/exec.go, restated): node tree + data → text.

Why: field and method lookup, argument checking, variables and scopes, truth, range over
slices and maps, break/continue: each has Go's semantics and Go's error message, so a script
that works (or fails) with skopeo works (or fails) here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trustcopy.cli.gotemplate.errors import (
    MAX_STEPS,
    MAX_TEMPLATE_DEPTH,
    MAX_TEXT,
    GoError,
    TemplateError,
    check_text_size,
)
from trustcopy.cli.gotemplate.fmt import go_quote, go_str
from trustcopy.cli.gotemplate.funcs import FUNCS, METHODS, UNSUPPORTED_DIGEST_METHODS, Func, truth
from trustcopy.cli.gotemplate.gotime import UNSUPPORTED_METHODS, GoTime
from trustcopy.cli.gotemplate.literals import Overflow
from trustcopy.cli.gotemplate.parse import Node, Pipe
from trustcopy.cli.gotemplate.values import NO_VALUE, Struct, go_type

MISSING: Any = object()  # no piped value (Go's missingVal)


class Break(Exception):
    pass


class Continue(Exception):
    pass


def go_str_or_no_value(value: Any) -> str:
    """An action's output: ``<no value>`` for a missing map key, else Go's formatting."""
    return "<no value>" if value is NO_VALUE else go_str(value)


class Executor:
    def __init__(self, name: str, root: Any, templates: dict[str, list[Node]]) -> None:
        self.name = name
        self.vars: list[list[Any]] = [["$", root]]
        self.templates = templates
        self.depth = 0
        self.steps = 0  # nodes walked and range iterations (bounded: MAX_STEPS)
        self.size = 0  # characters written to the output (bounded: MAX_TEXT)

    def _fail(self, message: str) -> TemplateError:
        return TemplateError(f'template: {self.name}: executing "{self.name}": {message}')

    def run(self, nodes: list[Node], dot: Any, out: list[str]) -> None:
        mark = len(self.vars)
        try:
            for node in nodes:
                self._walk(node, dot, out)
        finally:
            del self.vars[mark:]

    def _step(self) -> None:
        """One more node or iteration: a template that would run (nearly) forever fails instead."""
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise self._fail(f"more than {MAX_STEPS} actions and range iterations (trustcopy's limit)")

    def _write(self, text: str, out: list[str]) -> None:
        self.size += len(text)
        if self.size > MAX_TEXT:
            raise self._fail(f"the output would be longer than {MAX_TEXT} characters (trustcopy's limit)")
        out.append(text)

    def _walk(self, node: Node, dot: Any, out: list[str]) -> None:
        self._step()
        if node.kind == "text":
            self._write(node.text, out)
            return
        if node.kind == "break":
            raise Break
        if node.kind == "continue":
            raise Continue
        if node.kind == "template":
            self._template(node, dot, out)
            return
        assert node.pipe is not None
        if node.kind == "action":
            value = self._pipeline(node.pipe, dot)
            if not node.pipe.decl:
                try:
                    self._write(go_str_or_no_value(value), out)
                except GoError as exc:  # a time gotime.py cannot print as Go would
                    raise self._fail(str(exc)) from exc
            return
        mark = len(self.vars)
        try:
            if node.kind == "range":
                self._range(node, dot, out)
                return
            value = self._pipeline(node.pipe, dot)
            if truth(value):
                self.run(node.body, value if node.kind == "with" else dot, out)
            else:
                self.run(node.orelse, dot, out)
        finally:
            del self.vars[mark:]

    def _template(self, node: Node, dot: Any, out: list[str]) -> None:
        body = self.templates.get(node.text)
        if body is None or self.depth >= MAX_TEMPLATE_DEPTH:  # a template calling itself never ends: Go fails too
            raise self._fail(f"no such template {node.text!r}" if body is None else
                             f"exceeded maximum template depth ({MAX_TEMPLATE_DEPTH}, trustcopy's limit)")
        value = self._pipeline(node.pipe, dot) if node.pipe is not None else None
        saved = self.vars
        self.vars = [["$", value]]
        self.depth += 1
        try:
            self.run(body, value, out)
        finally:
            self.vars = saved
            self.depth -= 1

    def _range(self, node: Node, dot: Any, out: list[str]) -> None:
        assert node.pipe is not None
        value = self._pipeline(node.pipe, dot)
        if isinstance(value, GoTime) or value is None:  # a time, or a nil pointer (nil *time.Time): Go fails
            raise self._fail(f"range can't iterate over {go_str(value)}")
        if isinstance(value, Mapping) and not isinstance(value, Struct):
            pairs: list[tuple[Any, Any]] = [(k, value[k]) for k in sorted(value)]
        elif isinstance(value, list | tuple):
            pairs = list(enumerate(value))
        elif value is NO_VALUE:
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
            self._step()
            if node.pipe.decl:
                self.vars[-1][1] = elem
            if len(node.pipe.decl) > 1:
                self.vars[-2][1] = key
            try:
                self.run(node.body, elem, out)
            except Continue:
                continue
            except Break:
                break
            finally:
                del self.vars[mark:]

    def _pipeline(self, pipe: Pipe, dot: Any) -> Any:
        value: Any = MISSING
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
        if len(cmd) > 1 or final is not MISSING:
            raise self._fail(f"can't give argument to non-function {cmd[0]}")

    def _literal(self, node: Any) -> Any:
        kind = node[0]
        if kind == "bool":
            return node[1]
        if kind == "number":
            if isinstance(node[1], Overflow):
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
            receiver = self._field(dot, name, receiver, [], MISSING)
        return self._field(dot, names[-1], receiver, cmd[1:], final)

    def _field(self, dot: Any, name: str, receiver: Any, args: list[Any], final: Any) -> Any:
        if receiver is NO_VALUE:
            return NO_VALUE
        method = METHODS.get((go_type(receiver), name))
        if method is not None:
            if isinstance(receiver, GoTime) and receiver.rfc3339 is None:
                raise self._fail(f"error calling {name}: nil pointer")  # a nil *time.Time
            return self._call_fn(name, method, args, dot, final, receiver=receiver)
        if (isinstance(receiver, GoTime) and name in UNSUPPORTED_METHODS) or \
                (go_type(receiver) in ("digest.Digest", "digest.Algorithm") and name in UNSUPPORTED_DIGEST_METHODS):
            raise self._fail(f"method {name} of {go_type(receiver)} is not supported by trustcopy")
        has_args = bool(args) or final is not MISSING
        if isinstance(receiver, Struct):
            if name in receiver:
                if has_args:
                    raise self._fail(f"{name} has arguments but cannot be invoked as function")
                return receiver[name]
        elif isinstance(receiver, Mapping):
            if has_args:
                raise self._fail(f"{name} is not a method but has arguments")
            return receiver.get(name, NO_VALUE)
        elif receiver is None:
            raise self._fail(f"nil pointer evaluating interface {{}}.{name}")
        raise self._fail(f"can't evaluate field {name} in type {go_type(receiver)}")

    # -- calls ---------------------------------------------------------------------------------

    def _call(self, name: str, args: list[Any], dot: Any, final: Any) -> Any:
        fn = FUNCS[name]
        return self._call_fn(name, fn, args, dot, final)

    def _call_fn(self, name: str, fn: Func, args: list[Any], dot: Any, final: Any,
                 receiver: Any = MISSING) -> Any:
        count = len(args) + (final is not MISSING)
        if fn.variadic:
            if count < len(fn.params):
                raise self._fail(f"wrong number of args for {name}: want at least {len(fn.params)} got {len(args)}")
        elif count != len(fn.params):
            raise self._fail(f"wrong number of args for {name}: want {len(fn.params)} got {count}")
        if name in ("and", "or") and receiver is MISSING:
            value: Any = MISSING
            for arg in args:
                value = self._arg(arg, dot, "value")
                if truth(value) == (name == "or"):
                    return value
            if final is not MISSING:
                value = self._check(final, "value")
            return value
        values = []
        for n, arg in enumerate(args):
            kind = fn.params[n] if n < len(fn.params) else fn.variadic
            values.append(self._arg(arg, dot, kind))
        if final is not MISSING:
            kind = fn.params[count - 1] if count - 1 < len(fn.params) else fn.variadic
            values.append(self._check(final, kind))
        try:
            result = fn.call(*values) if receiver is MISSING else fn.call(receiver, *values)
            if isinstance(result, str):
                check_text_size(len(result))
            return result
        except GoError as exc:
            raise self._fail(f"error calling {name}: {exc}") from exc

    def _arg(self, node: Any, dot: Any, kind: str) -> Any:
        """evalArg: a node as an argument of a parameter of this kind (string, int, value, any)."""
        what = node[0]
        if what == "dot":
            return self._check(dot, kind)
        if what == "nil":
            if kind in ("any", "value"):
                return None if kind == "any" else NO_VALUE  # Go: the zero reflect.Value (invalid)
            raise self._fail(f"cannot assign nil to {_KIND_NAMES[kind]}")
        if what in ("field", "chain", "variable", "pipe"):
            return self._check(self._arg_value(node, dot), kind)
        if what == "ident":
            return self._check(self._call(node[1], [], dot, MISSING), kind)
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
            return self._field_chain(dot, dot, node[1], [node], MISSING)
        if what == "variable":
            value = self._variable(node[1])
            return self._field_chain(dot, value, node[2], [node], MISSING) if node[2] else value
        if what == "chain":
            receiver = self._arg_value(node[1], dot)
            return self._field_chain(dot, receiver, node[2], [node], MISSING)
        if what == "pipe":
            return self._pipeline(node[1], dot)
        if what == "dot":
            return dot
        if what == "ident":
            return self._call(node[1], [], dot, MISSING)
        if what == "nil":
            raise self._fail("nil is not a command")
        return self._literal(node)

    def _check(self, value: Any, kind: str) -> Any:
        """validateType: a computed value against a parameter kind."""
        if value is NO_VALUE:
            if kind in ("any", "value"):
                return None if kind == "any" else NO_VALUE
            raise self._fail(f"invalid value; expected {_KIND_NAMES[kind]}")
        if kind == "string" and (not isinstance(value, str) or go_type(value) != "string"):  # digest.Digest too
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

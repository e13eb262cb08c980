"""The lexer of Go's text/template (text/template/parse/lex.go, restated): text and action items.

Why: what is a delimiter, a trim marker, a number or a keyword decides how every template
parses; restating Go's lexer keeps the corner cases (``{{-3}}`` versus ``{{- 3}}``) Go's.
"""

from __future__ import annotations

from collections.abc import Callable

from trustcopy.cli.gotemplate.errors import TemplateError

_SPACE = " \t\r\n"
_KEYWORDS = {"block", "break", "continue", "define", "else", "end", "if", "range", "nil", "template", "with"}


def _alnum(ch: str) -> bool:
    return ch == "_" or ch.isalpha() or ch.isdecimal()  # Go: unicode.IsLetter, IsDigit (Nd: not "²")


class Lexer:
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
            elif ch in "$" or (ch == "." and not "0" <= text[self.pos:self.pos + 1] <= "9"):
                self._field_or_variable(start, "variable" if ch == "$" else "field")
            elif ch in "+-." or "0" <= ch <= "9":
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

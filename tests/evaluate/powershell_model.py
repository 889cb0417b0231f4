"""A small model of PowerShell's tokenizer: enough to read one command line the way PowerShell would.

Written from PowerShell's own tokenizer (``src/System.Management.Automation/engine/parser/tokenizer.cs``:
``ScanStringLiteral`` for single-quoted strings, ``ScanStringExpandable`` for double-quoted ones, and
``CharTraits.cs``: ``IsSingleQuote`` is ' U+2018 U+2019 U+201A U+201B, ``IsDoubleQuote`` is " U+201C U+201D
U+201E). In both kinds two quote characters in a row stand for the second one; in a double-quoted string a
backtick escapes the next character and ``$`` starts an expansion. Line breaks are CR and LF. The model is strict
where PowerShell is lenient: any ``$`` in a double-quoted string counts as an expansion and is reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"
DOUBLE_QUOTES = '"\u201c\u201d\u201e'
NEWLINES = "\r\n"
# Windows PowerShell 5.1 escapes; `e and `u{...} came with PowerShell 6 and are not read as escapes here.
ESCAPES = {"0": "\0", "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_CHAR = re.compile(r"\[char\]0x([0-9A-F]{4})")


class TokenError(Exception):
    """The text is not what the model accepts (an unterminated string, say)."""


@dataclass(frozen=True, slots=True)
class StringToken:
    """A string literal: what it evaluates to, where it ends, and the sub-expressions it runs."""

    value: str
    end: int
    expansions: tuple[str, ...] = ()


def read_string(text: str, start: int) -> StringToken:
    """Read the string literal that starts at ``text[start]`` (either quote kind)."""
    if text[start] in SINGLE_QUOTES:
        return _single(text, start)
    if text[start] in DOUBLE_QUOTES:
        return _double(text, start)
    raise TokenError(f"no string starts at {start}")


def _single(text: str, start: int) -> StringToken:
    value: list[str] = []
    i = start + 1
    while i < len(text):
        c = text[i]
        if c in SINGLE_QUOTES:
            if i + 1 < len(text) and text[i + 1] in SINGLE_QUOTES:
                value.append(text[i + 1])
                i += 2
                continue
            return StringToken("".join(value), i + 1)
        value.append(c)
        i += 1
    raise TokenError("unterminated single-quoted string")


def _double(text: str, start: int) -> StringToken:
    value: list[str] = []
    expansions: list[str] = []
    i = start + 1
    while i < len(text):
        c = text[i]
        if c == "`":
            if i + 1 >= len(text):
                raise TokenError("backtick at the end")
            value.append(ESCAPES.get(text[i + 1], text[i + 1]))
            i += 2
            continue
        if c in DOUBLE_QUOTES:
            if i + 1 < len(text) and text[i + 1] in DOUBLE_QUOTES:
                value.append(text[i + 1])
                i += 2
                continue
            return StringToken("".join(value), i + 1, tuple(expansions))
        if c == "$":
            if text[i + 1 : i + 2] != "(":
                raise TokenError(f"variable expansion at {i}")
            depth, j = 0, i + 1
            while j < len(text):
                depth += {"(": 1, ")": -1}.get(text[j], 0)
                if depth == 0:
                    break
                j += 1
            else:
                raise TokenError("unterminated sub-expression")
            inner = text[i + 2 : j]
            expansions.append(inner)
            constant = _CHAR.fullmatch(inner)
            value.append(chr(int(constant.group(1), 16)) if constant else f"<{inner}>")
            i = j + 1
            continue
        value.append(c)
        i += 1
    raise TokenError("unterminated double-quoted string")


@dataclass(frozen=True, slots=True)
class Line:
    """One logical line: its bare words (code), its strings, and its comment."""

    words: tuple[str, ...]
    strings: tuple[StringToken, ...]
    comment: str | None


def read_lines(script: str) -> list[Line]:
    """Split a script into lines the way PowerShell does (a line break inside a string does not end the line)."""
    lines: list[Line] = []
    words: list[str] = []
    strings: list[StringToken] = []
    comment: str | None = None
    i = 0
    while i < len(script):
        c = script[i]
        if c in NEWLINES:
            lines.append(Line(tuple(words), tuple(strings), comment))
            words, strings, comment = [], [], None
            i += 1
        elif c in " \t":
            i += 1
        elif c == "#":
            j = i
            while j < len(script) and script[j] not in NEWLINES:
                j += 1
            comment = script[i + 1 : j]
            i = j
        elif c in SINGLE_QUOTES or c in DOUBLE_QUOTES:
            token = read_string(script, i)
            strings.append(token)
            i = token.end
        else:
            j = i
            while j < len(script) and script[j] not in " \t\r\n" + SINGLE_QUOTES + DOUBLE_QUOTES:
                j += 1
            words.append(script[i:j])
            i = j
    if words or strings or comment is not None:
        lines.append(Line(tuple(words), tuple(strings), comment))
    return lines

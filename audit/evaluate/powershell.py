"""Quote a value for the PowerShell exaudit prints (remediation, ``exaudit plan``): the one place that does it.

Names come from the directory and from policies, so they are hostile: a quote must end where exaudit means it to
end, whatever the name holds. PowerShell's tokenizer ends a single-quoted string at any of FIVE characters, not
one: ``'`` and the typographic U+2018, U+2019, U+201A, U+201B (``IsSingleQuote`` in PowerShell's
``CharTraits.cs``); two of them in a row stand for one. Double-quoted strings likewise end at ``"``, U+201C,
U+201D or U+201E (``IsDoubleQuote``), and expand ``$`` and backtick escapes.
https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.core/about/about_quoting_rules

A value without control characters becomes a single-quoted string, every single-quote character doubled (nothing
inside expands). A value with control characters cannot be written in a single-quoted string (a newline there is a
newline in the value, and a terminal would act on an ESC), so it becomes a double-quoted string in which every
``$``, backtick and double-quote character is escaped with a backtick, the control characters Windows PowerShell
5.1 has an escape for are written as one (`` `n ``, `` `r ``, `` `t ``, `` `0 ``, `` `a ``, `` `b ``, `` `f ``,
`` `v ``) and any other as the constant sub-expression ``$([char]0x1B)`` (`` `e `` and `` `u{} `` exist only
from PowerShell 6; the Exchange Management Shell is 5.1). Either way the result is one line of printable text.
"""

from __future__ import annotations

import re

SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"
DOUBLE_QUOTES = '"\u201c\u201d\u201e'

# C0, DEL, C1, the line and paragraph separators, and the bidirectional controls (embeddings, overrides,
# isolates, marks) that reorder what a reviewer sees on screen ("Trojan Source", CVE-2021-42574).
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

_BACKTICK_ESCAPES = {"\0": "0", "\a": "a", "\b": "b", "\f": "f", "\n": "n", "\r": "r", "\t": "t", "\v": "v"}


def ps(value: str) -> str:
    """``value`` as one PowerShell string literal that evaluates to exactly ``value`` and is never more than that."""
    if CONTROL.search(value) is None:
        return "'" + "".join(c + c if c in SINGLE_QUOTES else c for c in value) + "'"
    return '"' + "".join(_double_quoted(c) for c in value) + '"'


def _double_quoted(char: str) -> str:
    if char in DOUBLE_QUOTES or char in "`$":
        return "`" + char
    if char in _BACKTICK_ESCAPES:
        return "`" + _BACKTICK_ESCAPES[char]
    if CONTROL.fullmatch(char):
        return f"$([char]0x{ord(char):04X})"
    return char


def escape_control(text: str) -> str:
    r"""``text`` with every control character written as ``\x1b`` or ``\u202e``: inert in a comment or YAML."""
    return CONTROL.sub(_escaped, text)


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def ps_comment(text: str) -> str:
    """Text for a ``#`` comment line: control characters (a newline would end the comment) shown escaped."""
    return escape_control(text)

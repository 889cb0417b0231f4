"""The exact text of a quoted value and of an escaped comment: what an admin reads and pastes.

tests/evaluate/test_powershell.py proves that every quoted value reads back exactly (a model of PowerShell's
tokenizer); these cases pin the form: only ``$``, backtick and the double quotes get a backtick (PowerShell would
read ``X`` and a backticked X alike, but the printed command should hold no needless escape), and a control
character in a comment is ``\\xNN`` below U+0100 and ``\\uNNNN`` above.
"""

from __future__ import annotations

import pytest

from audit.evaluate.powershell import escape_control, ps, ps_comment


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("Xavier\n", '"Xavier`n"'),
        ('a$b`c"d\u201ce\t', '"a`$b``c`"d`\u201ce`t"'),
        ("e\x1bX", '"e$([char]0x001B)X"'),
        ("it's", "'it''s'"),
    ],
)
def test_quoted_form(value: str, quoted: str) -> None:
    assert ps(value) == quoted


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("a\x1bb", "a\\x1bb"),
        ("\x7f\x9f", "\\x7f\\x9f"),
        ("x\u202ey", "x\\u202ey"),
        ("line\u2028break", "line\\u2028break"),
        ("plain \u0100 text", "plain \u0100 text"),
    ],
)
def test_escaped_comment_form(text: str, escaped: str) -> None:
    assert escape_control(text) == escaped
    assert ps_comment(text) == escaped

"""The nesting limit counts open parentheses and -not, not how many there are in a row: exactly 128 levels parse.

Exchange's own regenerated filters nest about 45 deep; a filter of many short siblings is common (one comparison
per mailbox) and must never trip the limit, while a deep branch after a closed one must still count the levels
that are open around it.
"""

from __future__ import annotations

import pytest

from audit.errors import FilterError
from audit.opath import Comparison, Operator, parse

LEAF = "(Name -eq 'x')"


def _nested(levels: int) -> str:
    return "(" * levels + "Name -eq 'x'" + ")" * levels


def test_exactly_the_limit_parses_and_one_more_does_not() -> None:
    assert parse(_nested(128)) == Comparison("Name", Operator.EQ, "x")
    with pytest.raises(FilterError, match="nests deeper than 128 levels"):
        parse(_nested(129))
    assert parse("-not " * 127 + LEAF) is not None
    with pytest.raises(FilterError, match="nests deeper than 128 levels"):
        parse("-not " * 128 + LEAF)


@pytest.mark.parametrize("sibling", [LEAF, "-not " + LEAF])
def test_many_siblings_never_reach_the_limit(sibling: str) -> None:
    parse(" -and ".join([sibling] * 300))


@pytest.mark.parametrize("closed", [LEAF, "(-not " + LEAF + ")"], ids=["parenthesis", "not"])
def test_a_closed_branch_gives_back_exactly_its_levels(closed: str) -> None:
    # Two levels open around both branches; the deep branch then adds 126 (parses) or 127 (one too many).
    assert parse("((" + closed + " -and " + _nested(126) + "))") is not None
    with pytest.raises(FilterError, match="nests deeper than 128 levels"):
        parse("((" + closed + " -and " + _nested(127) + "))")


def test_names_may_hold_and_start_with_an_underscore() -> None:
    assert parse("_Frob_1 -eq 'x'") == Comparison("_Frob_1", Operator.EQ, "x")

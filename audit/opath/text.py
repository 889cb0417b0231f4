"""Print a Filter the way Exchange regenerates a stored recipient filter.

New-ManagementScope parses ``-RecipientRestrictionFilter`` and stores the filter printed back from its parse tree
(exchange-rbac.md section 2.3). Observed stored forms: a single comparison has no outer parentheses
(``Alias -eq 'user1'``); in compound filters every operand is parenthesized and negation is written
``(-not(Name -like 'SystemMailbox{*'))``, as in the RecipientFilter Exchange writes for dynamic distribution
groups. Text values are single-quoted with embedded quotes doubled.
"""

from __future__ import annotations

from audit.opath.nodes import And, Comparison, Filter, Not, SystemValue, Value


def to_text(f: Filter) -> str:
    """Return the filter as Exchange-like canonical OPATH text, e.g. ``((A -eq 'x') -and (B -ne 'y'))``."""
    if isinstance(f, Comparison):
        return _comparison(f)
    if isinstance(f, Not):
        return "-not" + _nested(f.operand)
    return _nested(f)


def _nested(f: Filter) -> str:
    """Return the text of a filter that sits inside another one: always parenthesized."""
    if isinstance(f, Comparison):
        return f"({_comparison(f)})"
    if isinstance(f, Not):
        return f"(-not{_nested(f.operand)})"
    joiner = " -and " if isinstance(f, And) else " -or "
    return "(" + joiner.join(_nested(operand) for operand in f.operands) + ")"


def _comparison(c: Comparison) -> str:
    return f"{c.property} {c.operator.value} {format_value(c.value)}"


def format_value(value: Value) -> str:
    """Return an OPATH literal: 'text' with quotes doubled, a bare integer, or $true/$false/$null."""
    if isinstance(value, SystemValue):
        return value.value
    if isinstance(value, int):
        return str(value)
    return "'" + value.replace("'", "''") + "'"

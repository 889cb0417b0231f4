"""Semantic comparison of filters: rewrite both into one canonical form and compare the trees.

The canonical form is chosen so that every rewrite preserves what the filter matches under exaudit's evaluation
(:mod:`audit.opath.evaluate`), which a property test checks: negation pushed inward (De Morgan, double negation,
``-not(-eq)`` to ``-ne`` and ``-not(-like)`` to ``-notlike``, exact because ``-ne`` means "no value matches"),
nested ``-and``/``-or`` flattened, operands deduplicated and sorted, property names in Microsoft's spelling,
values in the case Active Directory ignores (DNs parsed per RFC 4514 and printed in one form by
audit.opath.dn), ``-like`` without a wildcard turned into ``-eq``, and Exchange's ``'True'``/``'False'`` read
as ``$true``/``$false``.
"""

from __future__ import annotations

import re

from audit.opath.dn import canonical_dn, is_dn, loose_dn_pattern
from audit.opath.nodes import And, Comparison, Filter, Not, Operator, Or, SystemValue, Value
from audit.opath.properties import KNOWN_PROPERTIES, Kind, canonical_name, kind_of
from audit.opath.text import to_text

# canonical_dn moved to audit.opath.dn; it stays importable from here for existing callers.
__all__ = ["canonical_dn", "canonical_proxy", "equivalent", "normalize"]

_NEGATED = {
    Operator.EQ: Operator.NE,
    Operator.NE: Operator.EQ,
    Operator.LIKE: Operator.NOTLIKE,
    Operator.NOTLIKE: Operator.LIKE,
}
_WITHOUT_WILDCARD = {Operator.LIKE: Operator.EQ, Operator.NOTLIKE: Operator.NE}
_BOOLEAN_TEXT = {"true": SystemValue.TRUE, "false": SystemValue.FALSE}
# A proxy address type ("SMTP:", "smtp:", "X500:", "sip:") before the address itself.
_PROXY_PREFIX = re.compile(r"[a-z0-9]+:")


def normalize(f: Filter) -> Filter:
    """Return the canonical form of a filter: equal canonical forms match the same recipients."""
    return _canonical(f, negate=False)


def equivalent(a: Filter, b: Filter) -> bool:
    """Return whether two filters have the same canonical form (so they mean the same)."""
    return normalize(a) == normalize(b)


def canonical_proxy(address: str) -> str:
    """Return a proxy address in the form exaudit compares: lower case, with its type prefix.

    An address without a prefix is an SMTP address, so ``a@contoso.com`` and ``SMTP:a@contoso.com`` compare equal.
    """
    lowered = address.lower()
    return lowered if _PROXY_PREFIX.match(lowered) else "smtp:" + lowered


def _canonical(f: Filter, *, negate: bool) -> Filter:
    if isinstance(f, Not):
        return _canonical(f.operand, negate=not negate)
    if isinstance(f, Comparison):
        return _comparison(f, negate=negate)
    # De Morgan when negated: -not(a -and b) == (-not a) -or (-not b).
    conjunction = isinstance(f, And) != negate
    operands: set[Filter] = set()
    for operand in f.operands:
        canonical = _canonical(operand, negate=negate)
        same_junction = isinstance(canonical, And) if conjunction else isinstance(canonical, Or)
        if same_junction and isinstance(canonical, And | Or):
            operands.update(canonical.operands)
        else:
            operands.add(canonical)
    if len(operands) == 1:
        return operands.pop()
    ordered = tuple(sorted(operands, key=_sort_key))
    return And(ordered) if conjunction else Or(ordered)


def _sort_key(f: Filter) -> str:
    return to_text(f)


def _comparison(c: Comparison, *, negate: bool) -> Filter:
    # Exchange reads property names case-insensitively: a known name takes Microsoft's spelling, another one
    # lower case.
    name = canonical_name(c.property)
    if name == c.property and name not in KNOWN_PROPERTIES:
        name = name.lower()
    kind = kind_of(name)
    operator = c.operator
    raw = c.value
    if kind is not Kind.BOOL and isinstance(raw, str | int) and "*" not in str(raw) and operator in _WITHOUT_WILDCARD:
        # -like without a wildcard is a case-insensitive equality.
        operator = _WITHOUT_WILDCARD[operator]
    value = _canonical_value(kind, operator, raw)
    if negate:
        if operator not in _NEGATED:
            # -not(-lt) is not -gt (equal values, multi-valued properties): keep the negation.
            return Not(Comparison(name, operator, value))
        operator = _NEGATED[operator]
    if kind is Kind.BOOL and value in (SystemValue.TRUE, SystemValue.FALSE) and operator is Operator.NE:
        # A boolean property always has a value, so -ne $false is -eq $true.
        operator = Operator.EQ
        value = SystemValue.TRUE if value is SystemValue.FALSE else SystemValue.FALSE
    return Comparison(name, operator, value)


def _canonical_value(kind: Kind, operator: Operator, value: Value) -> Value:
    if isinstance(value, SystemValue):
        return value
    if kind is Kind.BOOL:
        if isinstance(value, str):
            return _BOOLEAN_TEXT.get(value.strip().lower(), value.lower())
        return value
    text = str(value)  # a bare number compared with a text property is its digits
    if kind is Kind.DN:
        if operator in (Operator.LIKE, Operator.NOTLIKE) and not is_dn(text):
            # A -like pattern that is not a DN is matched as loose text (audit.opath.evaluate._like): keep it so.
            return loose_dn_pattern(text)
        return canonical_dn(text)
    if kind is Kind.PROXY and operator in (Operator.EQ, Operator.NE, Operator.LT, Operator.GT):
        return canonical_proxy(text)
    return text.lower()

"""Evaluate a filter over the snapshot's recipients, as Exchange would decide who is in a management scope.

Semantics (Microsoft's RecipientFilter page and the AD attributes behind it): text compares case-insensitively;
``-like`` takes ``*`` wildcards; a property without a value has no values; ``-eq`` holds when any value matches
and ``-ne``/``-notlike`` when no value matches (so ``-ne`` is exactly ``-not -eq``); ``-eq $null`` holds when the
property has no value. ``MemberOfGroup`` reads the recipient's *direct* memberships only: AD ``memberOf`` is not
transitive, and Microsoft's custom-scope guidance says "Nested groups will not work" (exchange-rbac.md section 3).
A property exaudit cannot read from a ``Recipient`` is a FilterError when compiling, never a silent false.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from audit.errors import FilterError
from audit.opath.dn import canonical_dn, is_dn, loose_dn_pattern
from audit.opath.nodes import And, Comparison, Filter, Not, Operator, SystemValue
from audit.opath.normal import canonical_proxy
from audit.opath.properties import EVALUABLE, KNOWN_PROPERTIES, Kind, PropertySpec, canonical_name
from audit.opath.text import to_text

if TYPE_CHECKING:  # only a type here: importing the snapshot models would cost `exaudit validate` their build time
    from audit.snapshot import Recipient

Predicate = Callable[["Recipient"], bool]
_BOOLEAN_TEXT = {"true": True, "false": False}


def compile_filter(f: Filter) -> Predicate:
    """Return a predicate telling whether a recipient matches the filter.

    All parsing and lower-casing of the filter's values happens here, once; the predicate only reads the
    recipient.

    Raises:
        FilterError: the filter names a property exaudit cannot evaluate, or compares it in a way Exchange
            would refuse (a wildcard on a boolean, ``-lt $null``, ...).
    """
    return _compile(f, f)


def matches(f: Filter, recipient: Recipient) -> bool:
    """Return whether one recipient matches the filter (compile once with compile_filter for many)."""
    return compile_filter(f)(recipient)


def _compile(f: Filter, root: Filter) -> Predicate:
    if isinstance(f, Comparison):
        return _comparison(f, root)
    if isinstance(f, Not):
        inner = _compile(f.operand, root)
        return lambda recipient: not inner(recipient)
    parts = tuple(_compile(operand, root) for operand in f.operands)
    if isinstance(f, And):
        return lambda recipient: all(part(recipient) for part in parts)
    return lambda recipient: any(part(recipient) for part in parts)


def _comparison(c: Comparison, root: Filter) -> Predicate:
    name = canonical_name(c.property)
    spec = EVALUABLE.get(name)
    if spec is None:
        raise _unevaluable(name, root)
    if spec.kind is Kind.BOOL:
        return _boolean(spec, c, root)
    return _multivalued(spec, c, root)


def _unevaluable(name: str, root: Filter) -> FilterError:
    if name in KNOWN_PROPERTIES:
        return FilterError(
            f"'{name}' is a filterable Exchange property, but the snapshot does not record it, so exaudit cannot "
            f"evaluate it; evaluable properties: {', '.join(sorted(EVALUABLE))}",
            to_text(root),
        )
    close = difflib.get_close_matches(name.lower(), [known.lower() for known in KNOWN_PROPERTIES], n=1)
    hint = f"; did you mean '{canonical_name(close[0])}'?" if close else ""
    return FilterError(f"unknown property '{name}'{hint}", to_text(root))


def _boolean(spec: PropertySpec, c: Comparison, root: Filter) -> Predicate:
    flag = spec.flag
    assert flag is not None
    value = c.value
    if c.operator not in (Operator.EQ, Operator.NE):
        raise FilterError(f"'{spec.name}' is a boolean; only -eq and -ne compare it", to_text(root))
    if value is SystemValue.NULL:
        # A boolean recipient property always has a value.
        never = c.operator is Operator.EQ
        return lambda recipient: not never
    if value is SystemValue.TRUE or value is SystemValue.FALSE:
        wanted = value is SystemValue.TRUE
    elif isinstance(value, str) and value.strip().lower() in _BOOLEAN_TEXT:
        wanted = _BOOLEAN_TEXT[value.strip().lower()]  # Exchange regenerates booleans as 'True' / 'False'
    else:
        raise FilterError(f"'{spec.name}' is a boolean; compare it with $true or $false", to_text(root))
    if c.operator is Operator.EQ:
        return lambda recipient: flag(recipient) is wanted
    return lambda recipient: flag(recipient) is not wanted


def _multivalued(spec: PropertySpec, c: Comparison, root: Filter) -> Predicate:
    values = spec.values
    assert values is not None
    operator, value = c.operator, c.value
    if value is SystemValue.NULL:
        if operator is Operator.EQ:
            return lambda recipient: not values(recipient)
        if operator is Operator.NE:
            return lambda recipient: bool(values(recipient))
        raise FilterError(f"only -eq and -ne compare with $null, not {operator.value}", to_text(root))
    if isinstance(value, SystemValue):
        raise FilterError(f"'{spec.name}' holds text; compare it with a quoted value, not {value.value}", to_text(root))
    text = str(value)
    key = _key(spec.kind)
    if operator in (Operator.LIKE, Operator.NOTLIKE):
        found = _like(spec, text, key, root)
    else:
        found = _order(values, key, operator, text)
    if operator in (Operator.NE, Operator.NOTLIKE):
        return lambda recipient: not found(recipient)
    return found


def _order(
    values: Callable[[Recipient], tuple[str, ...]], key: Callable[[str], str], operator: Operator, text: str
) -> Predicate:
    """Return "some value is equal to / less than / greater than the target" (-ne negates the first)."""
    target = key(text)
    if operator is Operator.LT:
        return lambda recipient: any(key(candidate) < target for candidate in values(recipient))
    if operator is Operator.GT:
        return lambda recipient: any(key(candidate) > target for candidate in values(recipient))

    def equal(recipient: Recipient) -> bool:
        # A plain loop, not any(<generator>): this is the hot path of a MemberOfGroup scope over 100,000 recipients.
        for candidate in values(recipient):  # noqa: SIM110
            if key(candidate) == target:
                return True
        return False

    return equal


def _key(kind: Kind) -> Callable[[str], str]:
    """Return the function that puts a value of this kind into the form exaudit compares."""
    if kind is Kind.DN:
        # Recipients share a handful of group DNs: remember each DN's canonical form instead of recomputing it
        # for every recipient.
        memo: dict[str, str] = {}

        def dn_key(dn: str) -> str:
            try:
                return memo[dn]
            except KeyError:
                memo[dn] = canonical = canonical_dn(dn)
                return canonical

        return dn_key
    if kind is Kind.PROXY:
        return canonical_proxy
    return str.lower


def _like(spec: PropertySpec, pattern: str, key: Callable[[str], str], root: Filter) -> Predicate:
    values = spec.values
    assert values is not None
    if spec.kind is Kind.PROXY:
        # "smtp:*@contoso.com" and "*@contoso.com" both make sense: try the address with and without its prefix.
        regex = _wildcard(pattern.lower())

        def proxy_found(recipient: Recipient) -> bool:
            for proxy in values(recipient):
                canonical = canonical_proxy(proxy)
                if regex(canonical) or (canonical.startswith("smtp:") and regex(canonical[5:])):
                    return True
            return False

        return proxy_found
    if spec.kind is Kind.DN and not is_dn(pattern):
        # Candidates are compared in their canonical DN form (audit.opath.dn). A pattern that is not itself a DN
        # ('CN=ad.viseur,*', '*OU=Sales*') is matched against that form as lower-case text with the blanks around
        # its commas dropped, which is how the DN's RDNs are printed there. How Exchange applies -like to a DN
        # property is UNVERIFIED (LDAP's distinguishedNameMatch has no substring rule, RFC 4517 4.2.15).
        loose = _wildcard(loose_dn_pattern(pattern))
        return lambda recipient: any(loose(key(candidate)) for candidate in values(recipient))
    regex = _wildcard(key(pattern))
    return lambda recipient: any(regex(key(candidate)) for candidate in values(recipient))


def _wildcard(pattern: str) -> Callable[[str], object]:
    """Return a full-match test for an OPATH -like pattern, where only '*' is special."""
    compiled = re.compile(".*".join(re.escape(piece) for piece in pattern.split("*")), re.DOTALL)
    return compiled.fullmatch

"""OPATH recipient filters: parse them, print them as Exchange stores them, compare them, evaluate them.

The filter of a management scope (``New-ManagementScope -RecipientRestrictionFilter``) decides which mailboxes an
impersonating service account reaches. Exchange does not store the text the admin typed but a regenerated one
(exchange-rbac.md section 2.3), so filters are compared by meaning (:func:`equivalent`), never byte for byte, and
evaluated over the snapshot's recipients (:func:`compile_filter`) to list who is really in scope.
"""

from __future__ import annotations

from audit.errors import FilterError
from audit.opath.dn import canonical_dn, is_dn
from audit.opath.evaluate import Predicate, compile_filter, matches
from audit.opath.nodes import And, Comparison, Filter, Not, Operator, Or, SystemValue, Value
from audit.opath.normal import canonical_proxy, equivalent, normalize
from audit.opath.parser import parse
from audit.opath.properties import EVALUABLE_PROPERTIES, KNOWN_PROPERTIES, canonical_name
from audit.opath.text import to_text


def member_of_group(dn: str) -> Filter:
    """Return the filter New-ManagementScope stores for ``-RecipientRestrictionFilter "MemberOfGroup -eq '<dn>'"``."""
    return Comparison("MemberOfGroup", Operator.EQ, dn.strip())


def properties(f: Filter) -> frozenset[str]:
    """Return the property names the filter reads, in Microsoft's spelling where the name is a known one."""
    if isinstance(f, Comparison):
        return frozenset((canonical_name(f.property),))
    if isinstance(f, Not):
        return properties(f.operand)
    return frozenset().union(*(properties(operand) for operand in f.operands))


__all__ = [
    "EVALUABLE_PROPERTIES",
    "KNOWN_PROPERTIES",
    "And",
    "Comparison",
    "Filter",
    "FilterError",
    "Not",
    "Operator",
    "Or",
    "Predicate",
    "SystemValue",
    "Value",
    "canonical_dn",
    "canonical_proxy",
    "compile_filter",
    "equivalent",
    "is_dn",
    "matches",
    "member_of_group",
    "normalize",
    "parse",
    "properties",
    "to_text",
]

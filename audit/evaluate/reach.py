"""Which recipients an OU or an exclusive scope covers: the pieces of EXA040's effective scope beyond filters.

- An OU (a scope's RecipientRoot, an assignment's RecipientWriteScope OU) is an OrganizationalUnitIdParameter:
  Exchange accepts a DN or a canonical name and prints the canonical name (``contoso.com/Field Sales``). Whichever
  form a snapshot holds, a recipient is below the OU when its DN ends in the OU's DN, or its canonical name (its
  Identity on premises) starts with the OU's canonical name and a slash.
  https://learn.microsoft.com/powershell/module/exchangepowershell/new-managementscope (-RecipientRoot)
- Exclusive scopes: "Users or USGs that aren't assigned an exclusive scope that contains the objects immediately
  lose access to those objects" (same page, -Exclusive;
  https://learn.microsoft.com/exchange/understanding-exclusive-scopes-exchange-2013-help). Every exclusive
  recipient scope of the organisation counts, whether or not the principal's assignments use it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from audit.errors import FilterError
from audit.evaluate.directory import key
from audit.opath import compile_filter, parse
from audit.opath.dn import canonical_dn
from audit.snapshot import ManagementScope, Recipient

RecipientTest = Callable[[Recipient], bool]
RECIPIENT_SCOPE = "recipientscope"


def is_dn(ou: str) -> bool:
    """Whether an OU identity is written as a DN (``OU=Field Sales,DC=contoso,DC=com``), not a canonical name."""
    head = ou.strip().split(",", 1)[0]
    return "=" in head and "/" not in head.split("=", 1)[0]


def below(ou: str) -> RecipientTest:
    """A test: is the recipient below the OU ``ou`` (any depth), given as a DN or as a canonical name."""
    if is_dn(ou):
        suffix = "," + canonical_dn(ou)

        def by_dn(recipient: Recipient) -> bool:
            # canonical_dn (RFC 4514: escapes, multi-valued RDNs, blanks, case) has its own fast path for the
            # plain DNs Exchange prints.
            return canonical_dn(recipient.distinguished_name).endswith(suffix)

        return by_dn
    prefix = key(ou).rstrip("/") + "/"

    def by_canonical(recipient: Recipient) -> bool:
        return key(recipient.identity).startswith(prefix)

    return by_canonical


def ou_canonical(ou: str) -> str:
    """An OU identity as its canonical name (``contoso.com/Field Sales``), from a DN or a canonical name.

    A DN's DC components make the domain, the others the path from the top (RFC 4514 escapes resolved).
    """
    text = ou.strip()
    if not is_dn(text):
        return text.rstrip("/")
    parts: list[tuple[str, str]] = []
    for rdn in _split_rdns(text):
        kind, _, value = rdn.partition("=")
        parts.append((kind.strip().upper(), value.strip()))
    domain = ".".join(v for k, v in parts if k == "DC")
    return "/".join([domain, *(v for k, v in reversed(parts) if k != "DC")])


def _split_rdns(dn: str) -> list[str]:
    out: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(dn):
        ch = dn[i]
        if ch == "\\" and i + 1 < len(dn):
            pair = dn[i + 1 : i + 3]
            if len(pair) == 2 and all(c in "0123456789abcdefABCDEF" for c in pair):
                current.append(chr(int(pair, 16)))
                i += 3
            else:
                current.append(dn[i + 1])
                i += 2
            continue
        if ch == ",":
            out.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    out.append("".join(current))
    return out


def same_ou(a: str, b: str) -> bool:
    """Whether two OU identities (each a DN or a canonical name) name the same OU."""
    return ou_canonical(a).casefold() == ou_canonical(b).casefold()


def within(root: str | None, predicate: RecipientTest) -> RecipientTest:
    """Restrict a predicate to the recipients below ``root`` (no root: the predicate itself)."""
    if not root:
        return predicate
    under = below(root)

    def test(recipient: Recipient) -> bool:
        return predicate(recipient) and under(recipient)  # the filter first: it is the more selective test

    return test


@dataclasses.dataclass(frozen=True, slots=True)
class ExclusiveScope:
    """An exclusive recipient scope of the organisation and the test for the recipients it contains."""

    name: str
    test: RecipientTest


def _everyone(_recipient: Recipient) -> bool:
    return True


def exclusive_scopes(scopes: tuple[ManagementScope, ...]) -> list[ExclusiveScope]:
    """Every exclusive recipient scope, compiled; FilterError when one of them cannot be evaluated (fail closed).

    A scope without a filter restricts by its root alone (everything below it: the reading that takes more away,
    UNVERIFIED in Exchange, whose New-ManagementScope always sets a filter); server and database scopes do not
    cover recipients and are left out.
    """
    out: list[ExclusiveScope] = []
    for scope in scopes:
        if not scope.exclusive or key(scope.scope_restriction_type) != RECIPIENT_SCOPE:
            continue
        text = (scope.recipient_filter or "").strip()
        try:
            predicate = compile_filter(parse(text)) if text else _everyone
        except FilterError as exc:
            raise FilterError(f"the exclusive scope '{scope.name}': {exc}") from exc
        out.append(ExclusiveScope(scope.name, within(scope.recipient_root, predicate)))
    return out


def cover(exclusive: list[ExclusiveScope], recipient: Recipient) -> tuple[str, ...]:
    """The names of the exclusive scopes that contain ``recipient``."""
    return tuple(s.name for s in exclusive if s.test(recipient))

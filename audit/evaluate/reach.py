"""EXA040's effective scope beyond filters: OUs in either form, exclusive scopes, and the union of the paths.

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


@dataclasses.dataclass(frozen=True, slots=True)
class Selector:
    """One path of the principal's access: what it reaches, as a recipient test, and how to name it."""

    label: str
    test: RecipientTest
    # The exclusive scope (key) of an ExclusiveRecipientScope assignment: it reaches only the recipients that scope
    # contains, and only those reach an assignment's holder once any exclusive scope contains them (reach.py).
    exclusive: str | None = None
    # A scope with a RecipientRoot: the root and the filter alone, to say why an expected mailbox is out of scope.
    root: str | None = None
    unrooted: RecipientTest | None = None


def taken_note(names: tuple[str, ...] | None) -> str:
    """The note naming the exclusive scopes that took a mailbox away (empty when none did)."""
    if not names:
        return ""
    return " (taken away by exclusive scope " + ", ".join(f"'{n}'" for n in names) + ")"


def exclusive_remedy(taken_by: dict[str, tuple[str, ...]]) -> str:
    """What to decide when exclusive scopes take expected mailboxes away (a choice for people, so comments only)."""
    if not taken_by:
        return ""
    names = sorted({n for scopes in taken_by.values() for n in scopes})
    quoted = ", ".join(f"'{n}'" for n in names)
    return (
        f"# {len(taken_by)} expected mailbox(es) sit in the exclusive scope(s) {quoted}: only assignments made with\n"
        "# -ExclusiveRecipientWriteScope on such a scope reach them. Decide with the scope's owner: narrow that\n"
        "# scope's filter (Set-ManagementScope -RecipientRestrictionFilter), or drop the mailbox(es) from the\n"
        "# policy. An exclusive assignment for this account would also open every other mailbox the scope guards.\n"
    )


def reach(
    selectors: list[Selector], exclusive: list[ExclusiveScope], mailboxes: list[Recipient]
) -> tuple[list[Recipient], list[tuple[Recipient, tuple[str, ...]]]]:
    """(mailboxes the principal reaches, mailboxes a regular path selects but exclusive scopes take away).

    Exchange's own reading (DECOMP ManagementReporting.FindRoleAssignmentsWithWritableRecipient): a recipient inside
    any exclusive scope is reached only through ExclusiveRecipientScope assignments whose scope contains it; any
    other recipient through the regular assignments, and an ExclusiveRecipientScope assignment reaches nothing there.
    """
    regular = [s.test for s in selectors if s.exclusive is None]
    exclusive_paths = [(s.exclusive, s.test) for s in selectors if s.exclusive is not None]
    if not exclusive_paths:
        if len(regular) == 1:  # the usual case: one scope; no per-recipient generator
            test = regular[0]
            hits = [r for r in mailboxes if test(r)]
        else:
            hits = [r for r in mailboxes if any(t(r) for t in regular)]
        if not exclusive:
            return hits, []
        # The exclusive scopes are only read for the recipients a regular path reaches, one scope at a time.
        taken_by: dict[int, list[str]] = {}
        for scope in exclusive:
            test = scope.test
            for r in hits:
                if test(r):
                    taken_by.setdefault(id(r), []).append(scope.name)
        if not taken_by:
            return hits, []
        kept = [r for r in hits if id(r) not in taken_by]
        return kept, [(r, tuple(taken_by[id(r)])) for r in hits if id(r) in taken_by]
    matched: list[Recipient] = []
    taken: list[tuple[Recipient, tuple[str, ...]]] = []
    for recipient in mailboxes:
        by_regular = any(t(recipient) for t in regular)
        if not by_regular and not exclusive_paths:
            continue  # the exclusive scopes are only read for recipients a path could reach
        covering = cover(exclusive, recipient)
        if not covering:
            if by_regular:
                matched.append(recipient)
            continue
        keys = {key(n) for n in covering}
        if any(k in keys and t(recipient) for k, t in exclusive_paths):
            matched.append(recipient)
        elif by_regular:
            taken.append((recipient, covering))
    return matched, taken

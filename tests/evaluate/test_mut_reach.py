"""OU identities in either form, several exclusive scopes (audit.evaluate.reach), beyond test_reach.py.

Killed mutants of issue 14's mutation run. An OU is an OrganizationalUnitIdParameter: a DN or a canonical name
(https://learn.microsoft.com/powershell/module/exchangepowershell/new-managementscope, -RecipientRoot). A DN's
values may carry RFC 4514 escapes (``\\,`` and ``\\2C`` for a comma), which the canonical name shows unescaped.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from audit.evaluate.reach import ExclusiveScope, Selector, is_dn, ou_canonical, reach, same_ou
from audit.findings import Status
from audit.policy import LoadedPolicy
from audit.snapshot import Recipient, Snapshot
from tests.evaluate.test_reach import compliant, exa040, policy, scope, with_scopes

__all__ = ["compliant", "policy"]  # the fixtures, shared with test_reach.py


@pytest.mark.parametrize(
    ("ou", "dn"),
    [
        ("OU=Field Sales,DC=contoso,DC=com", True),
        ("OU = Field Sales, DC = contoso, DC = com", True),  # blanks around '=' and ','
        ("OU=Sales/EMEA=1,DC=contoso,DC=com", True),  # '/' and '=' inside a value (RFC 4514 escapes neither)
        ("contoso.com/Field Sales", False),
        ("contoso.com/R=D", False),  # a canonical name whose OU name holds '='
        ("contoso.com", False),  # the domain itself
        ("Sales, EMEA=1, West", False),
        ("Field Sales/R=D", False),  # an OU's Name (accepted too) with a blank, '/' and '='
        # a bare name with ',' and '=': no attribute type before the first '='
    ],
)
def test_is_dn_tells_a_dn_from_a_canonical_name(ou: str, dn: bool) -> None:
    assert is_dn(ou) is dn


@pytest.mark.parametrize(
    ("ou", "canonical"),
    [
        ("OU=Field Sales,OU=EMEA,DC=contoso,DC=com", "contoso.com/EMEA/Field Sales"),
        ("ou = Field Sales , dc = contoso , dc = com", "contoso.com/Field Sales"),
        ("DC=contoso,DC=com", "contoso.com"),  # the domain root
        ("OU=Sales=1,DC=contoso,DC=com", "contoso.com/Sales=1"),
        (r"OU=R\2CD\2cE,DC=contoso,DC=com", "contoso.com/R,D,E"),  # hex escapes, either case
        (r"OU=R\,D,DC=contoso,DC=com", "contoso.com/R,D"),  # an escaped special character
        (r"OU=A\X1,DC=contoso,DC=com", "contoso.com/AX1"),  # a backslash before a non-hex pair escapes one char
        (r"OU=A\2,DC=contoso,DC=com", "contoso.com/A2"),  # ... and before a single hex digit
        ("DC=contoso,DC=com,OU=R\\,", "contoso.com/R,"),  # an escape that ends the DN
        ("DC=contoso,DC=com,OU=Lab\\", "contoso.com/Lab\\"),  # a lone backslash at the end stays
        ("contoso.com/Lab X/", "contoso.com/Lab X"),
        ("contoso.com/Lab X", "contoso.com/Lab X"),
    ],
)
def test_ou_canonical_resolves_escapes_and_orders_the_path(ou: str, canonical: str) -> None:
    assert ou_canonical(ou) == canonical


def test_same_ou_compares_either_form_case_insensitively() -> None:
    assert same_ou(r"OU=R\2CD,DC=Contoso,DC=com", "contoso.com/r,d/")
    assert not same_ou("OU=Sales,DC=contoso,DC=com", "contoso.com/Sales West")


def test_every_exclusive_scope_that_takes_a_member_away_is_named(policy: LoadedPolicy, compliant: Snapshot) -> None:
    snap = with_scopes(
        compliant,
        scope("VIP Mailboxes", "Alias -eq 'dirk.dealer'"),
        scope("Dealers", "Alias -eq 'dirk.dealer' -or Alias -eq 'bea.buiten'"),
    )
    found = exa040(policy, snap)
    assert found.status is Status.FAIL
    assert "dirk.dealer@contoso.com (taken away by exclusive scope 'VIP Mailboxes', 'Dealers')" in found.message
    assert (
        "# 2 expected mailbox(es) sit in the exclusive scope(s) 'Dealers', 'VIP Mailboxes': only" in found.remediation
    )


def _aliases(*aliases: str) -> Callable[[Recipient], bool]:
    return lambda r: r.alias in aliases


def test_several_regular_paths_reach_the_union(compliant: Snapshot) -> None:
    mailboxes = list(compliant.recipients)
    hits, taken = reach(
        [Selector("first", _aliases("ad.viseur")), Selector("second", _aliases("gijs.grond"))], [], mailboxes
    )
    assert [r.alias for r in hits] == ["ad.viseur", "gijs.grond"]
    assert taken == []


def test_regular_and_exclusive_paths_together(compliant: Snapshot) -> None:
    # ad.viseur: a regular path, no exclusive scope. bea.buiten: a regular path, but inside the exclusive scope VIP
    # that the principal's exclusive path does not select her through: taken away. cor.veld: only the exclusive
    # path, inside VIP: reached. dirk.dealer: no path at all.
    order = ["ad.viseur", "bea.buiten", "cor.veld", "dirk.dealer"]
    mailboxes = sorted((r for r in compliant.recipients if r.alias in order), key=lambda r: order.index(r.alias))
    selectors = [
        Selector("regular", _aliases("ad.viseur", "bea.buiten")),
        Selector("exclusive", _aliases("cor.veld"), exclusive="vip"),
    ]
    hits, taken = reach(selectors, [ExclusiveScope("VIP", _aliases("bea.buiten", "cor.veld"))], mailboxes)
    assert [r.alias for r in hits] == ["ad.viseur", "cor.veld"]
    assert [(r.alias, names) for r, names in taken] == [("bea.buiten", ("VIP",))]


def test_an_exclusive_scope_with_a_root_covers_only_what_is_below_it(policy: LoadedPolicy, compliant: Snapshot) -> None:
    # dirk.dealer matches the filter but sits in CN=Users, not below the scope's root: he is not taken away.
    snap = with_scopes(compliant, scope("VIP", "Alias -eq 'dirk.dealer'", root="contoso.com/Executives"))
    assert exa040(policy, snap).status is Status.PASS
    snap = with_scopes(compliant, scope("VIP", "Alias -eq 'dirk.dealer'", root="contoso.com/Users"))
    assert exa040(policy, snap).status is Status.FAIL


def test_the_exclusive_scope_remedy_word_for_word(policy: LoadedPolicy, compliant: Snapshot) -> None:
    snap = with_scopes(
        compliant,
        scope("VIP Mailboxes", "Alias -eq 'dirk.dealer'"),
        scope("Dealers", "Alias -eq 'dirk.dealer' -or Alias -eq 'bea.buiten'"),
    )
    assert exa040(policy, snap).remediation == (
        "# 2 expected mailbox(es) sit in the exclusive scope(s) 'Dealers', 'VIP Mailboxes': only assignments made "
        "with\n"
        "# -ExclusiveRecipientWriteScope on such a scope reach them. Decide with the scope's owner: narrow that\n"
        "# scope's filter (Set-ManagementScope -RecipientRestrictionFilter), or drop the mailbox(es) from the\n"
        "# policy. An exclusive assignment for this account would also open every other mailbox the scope guards.\n"
        "# Follows from the assignment, scope and membership fixes (EXA012, EXA013, EXA020, EXA021, EXA033, EXA034)."
    )


def test_no_exclusive_scope_no_remedy_for_it(policy: LoadedPolicy, compliant: Snapshot) -> None:
    # bea left the group: EXA040 fails, and its fix names no exclusive scope.
    group_dn = "CN=SecurityGroup-CallPro Calendar Access,OU=Groups,DC=contoso,DC=com"
    recipients = tuple(
        dataclasses.replace(r, member_of=tuple(m for m in r.member_of if m != group_dn))
        if r.alias == "bea.buiten"
        else r
        for r in compliant.recipients
    )
    found = exa040(policy, dataclasses.replace(compliant, recipients=recipients))
    assert found.status is Status.FAIL
    assert found.remediation == (
        "# Follows from the assignment, scope and membership fixes (EXA012, EXA013, EXA020, EXA021, EXA033, EXA034)."
    )

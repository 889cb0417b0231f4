"""EXA040's effective scope beyond filters: exclusive scopes, RecipientRoot in both forms, OU-scoped assignments.

Built on the compliant snapshot with one change each. Exclusive scopes: "Users or USGs that aren't assigned an
exclusive scope that contains the objects immediately lose access to those objects"
(https://learn.microsoft.com/powershell/module/exchangepowershell/new-managementscope).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

from audit.evaluate import evaluate
from audit.evaluate.reach import below, is_dn
from audit.findings import Finding, Status
from audit.policy import LoadedPolicy, load_policy
from audit.snapshot import ManagementScope, Recipient, Snapshot, load

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
CALLPRO_ASSIGNMENT = "ApplicationImpersonation-CallPro Calendar Access"


@pytest.fixture(scope="module")
def policy() -> LoadedPolicy:
    return load_policy(ROOT / "policies" / "callpro.yaml")


@pytest.fixture(scope="module")
def compliant() -> Snapshot:
    return load(ROOT / "tests" / "data" / "snapshots" / "compliant.snapshot.json")[0]


def scope(
    name: str, recipient_filter: str | None, *, exclusive: bool = True, root: str | None = None
) -> ManagementScope:
    return ManagementScope(
        name=name,
        identity=name,
        scope_restriction_type="RecipientScope",
        exclusive=exclusive,
        recipient_filter=recipient_filter,
        recipient_root=root,
    )


def exa040(policy: LoadedPolicy, snap: Snapshot) -> Finding:
    return next(f for f in evaluate(policy, snap, NOW) if f.check_id == "EXA040")


def with_scopes(snap: Snapshot, *extra: ManagementScope) -> Snapshot:
    return dataclasses.replace(snap, scopes=(*snap.scopes, *extra))


def moved(snap: Snapshot, alias: str, ou_dn: str, ou_canonical: str) -> Snapshot:
    """The snapshot with one recipient moved into another OU (its DN and canonical Identity both change)."""

    def move(r: Recipient) -> Recipient:
        if r.alias != alias:
            return r
        return dataclasses.replace(r, distinguished_name=f"CN={r.name},{ou_dn}", identity=f"{ou_canonical}/{r.name}")

    return dataclasses.replace(snap, recipients=tuple(move(r) for r in snap.recipients))


# -- exclusive scopes -------------------------------------------------------------------------------------


def test_an_exclusive_scope_covering_a_member_fails_and_names_the_scope(
    policy: LoadedPolicy, compliant: Snapshot
) -> None:
    # The VIP scope is used by nobody's assignment here: it still takes dirk.dealer away.
    snap = with_scopes(compliant, scope("VIP Mailboxes", "Alias -eq 'dirk.dealer' -or Department -eq 'Executive'"))
    found = exa040(policy, snap)
    assert found.status is Status.FAIL
    assert "dirk.dealer@contoso.com (taken away by exclusive scope 'VIP Mailboxes')" in found.message
    assert any("exclusive ManagementScope Name='VIP Mailboxes'" in e for e in found.evidence)


def test_an_exclusive_scope_outside_the_members_changes_nothing(policy: LoadedPolicy, compliant: Snapshot) -> None:
    snap = with_scopes(compliant, scope("VIP Mailboxes", "Department -eq 'Executive'"))
    assert exa040(policy, snap).status is Status.PASS


def test_a_regular_scope_is_not_exclusive(policy: LoadedPolicy, compliant: Snapshot) -> None:
    snap = with_scopes(compliant, scope("Field", "Department -eq 'Field Sales'", exclusive=False))
    assert exa040(policy, snap).status is Status.PASS


def test_an_exclusive_scope_that_cannot_be_evaluated_is_an_error(policy: LoadedPolicy, compliant: Snapshot) -> None:
    snap = with_scopes(compliant, scope("Odd", "NoSuchProperty -eq 'x'"))
    found = exa040(policy, snap)
    assert found.status is Status.ERROR
    assert "exclusive scope 'Odd'" in found.message


def test_the_principals_own_exclusive_assignment_keeps_what_its_scope_contains(
    policy: LoadedPolicy, compliant: Snapshot
) -> None:
    # The CallPro assignment made with -ExclusiveRecipientWriteScope on an exclusive CallPro scope; a second
    # exclusive scope over dirk.dealer alone does not take him away (the account holds an exclusive scope
    # containing him), one over ceo changes nothing either.
    assignments = tuple(
        dataclasses.replace(a, recipient_write_scope="ExclusiveRecipientScope") if a.name == CALLPRO_ASSIGNMENT else a
        for a in compliant.role_assignments
    )
    scopes = tuple(dataclasses.replace(s, exclusive=True) for s in compliant.scopes)
    snap = dataclasses.replace(compliant, role_assignments=assignments, scopes=scopes)
    snap = with_scopes(snap, scope("Dirk", "Alias -eq 'dirk.dealer'"), scope("VIP", "Alias -eq 'ceo'"))
    assert exa040(policy, snap).status is Status.PASS


def test_an_exclusive_recipient_scope_assignment_on_a_regular_scope_reaches_nothing(
    policy: LoadedPolicy, compliant: Snapshot
) -> None:
    assignments = tuple(
        dataclasses.replace(a, recipient_write_scope="ExclusiveRecipientScope") if a.name == CALLPRO_ASSIGNMENT else a
        for a in compliant.role_assignments
    )
    found = exa040(policy, dataclasses.replace(compliant, role_assignments=assignments))
    assert found.status is Status.FAIL
    assert "6 expected mailbox(es) out of scope" in found.message


def test_exclusive_server_scopes_do_not_cover_recipients(policy: LoadedPolicy, compliant: Snapshot) -> None:
    server = dataclasses.replace(scope("Servers", None), scope_restriction_type="ServerScope")
    assert exa040(policy, with_scopes(compliant, server)).status is Status.PASS


def test_an_exclusive_scope_without_filter_covers_its_root(policy: LoadedPolicy, compliant: Snapshot) -> None:
    snap = with_scopes(compliant, scope("Users OU", None, root="contoso.com/Users"))
    found = exa040(policy, snap)
    assert found.status is Status.FAIL
    assert "6 expected mailbox(es) out of scope" in found.message


# -- OUs: either form -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ou", "dn"),
    [
        ("OU=Field Sales,DC=contoso,DC=com", True),
        ("ou=field sales, dc=contoso, dc=com", True),
        ("contoso.com/Field Sales", False),
        ("contoso.com/Field Sales/", False),
    ],
)
def test_below_takes_a_dn_or_a_canonical_name(compliant: Snapshot, ou: str, dn: bool) -> None:
    snap = moved(compliant, "cor.veld", "OU=Field Sales,DC=contoso,DC=com", "contoso.com/Field Sales")
    assert is_dn(ou) is dn
    test = below(ou)
    assert {r.alias for r in snap.recipients if test(r)} == {"cor.veld"}


def test_below_does_not_match_a_sibling_with_a_longer_name(compliant: Snapshot) -> None:
    snap = moved(compliant, "cor.veld", "OU=Field Sales North,DC=contoso,DC=com", "contoso.com/Field Sales North")
    for ou in ("OU=Field Sales,DC=contoso,DC=com", "contoso.com/Field Sales"):
        assert not any(below(ou)(r) for r in snap.recipients)

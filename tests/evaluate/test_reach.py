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
from audit.evaluate.export import export_policy
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


# -- RecipientRoot: EXA020 and EXA040 ---------------------------------------------------------------------------


def finding(policy: LoadedPolicy, snap: Snapshot, check: str) -> Finding:
    return next(f for f in evaluate(policy, snap, NOW) if f.check_id == check)


def rooted(snap: Snapshot, root: str | None) -> Snapshot:
    return dataclasses.replace(snap, scopes=tuple(dataclasses.replace(s, recipient_root=root) for s in snap.scopes))


def policy_with_root(tmp_path: Path, root: str) -> LoadedPolicy:
    text = (ROOT / "policies" / "callpro.yaml").read_text(encoding="utf-8")
    old = "  recipientFilter:\n    memberOfGroup: SecurityGroup-CallPro Calendar Access\n"
    assert old in text
    path = tmp_path / "p.yaml"
    path.write_text(text.replace(old, old + f"  recipientRoot: '{root}'\n"), encoding="utf-8")
    return load_policy(path)


@pytest.mark.parametrize("root", ["contoso.com/Users", "CN=Users,DC=contoso,DC=com", "cn=users, dc=contoso, dc=com"])
def test_exa040_computes_a_root_in_either_form(policy: LoadedPolicy, compliant: Snapshot, root: str) -> None:
    assert finding(policy, rooted(compliant, root), "EXA040").status is Status.PASS  # every member is in Users
    snap = moved(rooted(compliant, root), "cor.veld", "OU=Field Sales,DC=contoso,DC=com", "contoso.com/Field Sales")
    found = finding(policy, snap, "EXA040")
    assert found.status is Status.FAIL
    assert "cor.veld@contoso.com" in found.message


def test_exa020_reports_a_root_the_policy_does_not_name(policy: LoadedPolicy, compliant: Snapshot) -> None:
    found = finding(policy, rooted(compliant, "contoso.com/Users"), "EXA020")
    assert found.status is Status.PASS
    assert "RecipientRoot contoso.com/Users" in found.message
    assert "under RecipientRoot contoso.com/Users" in found.actual


@pytest.mark.parametrize(
    ("declared", "actual", "status"),
    [
        ("contoso.com/Users", "CN=Users,DC=contoso,DC=com", Status.PASS),
        ("CN=Users,DC=contoso,DC=com", "contoso.com/Users", Status.PASS),
        ("contoso.com/Users/", "contoso.com/users", Status.PASS),
        ("contoso.com/Field Sales", "contoso.com/Users", Status.FAIL),
        ("contoso.com/Users", None, Status.FAIL),
    ],
)
def test_exa020_compares_the_declared_root_in_either_form(
    tmp_path: Path, compliant: Snapshot, declared: str, actual: str | None, status: Status
) -> None:
    found = finding(policy_with_root(tmp_path, declared), rooted(compliant, actual), "EXA020")
    assert found.status is status
    assert f"RecipientRoot {declared}" in found.expected
    if status is Status.FAIL:
        assert found.remediation.startswith("Set-ManagementScope -Identity 'Scope-CallPro Calendar Access'")
        assert f"-RecipientRoot '{declared}'" in found.remediation


# -- OU-scoped assignments --------------------------------------------------------------------------------------


@pytest.mark.parametrize("ou", ["contoso.com/Field Sales", "OU=Field Sales,DC=contoso,DC=com"])
def test_exa040_reaches_everyone_below_an_ou_scope(policy: LoadedPolicy, compliant: Snapshot, ou: str) -> None:
    snap = compliant
    for alias in ("ad.viseur", "bea.buiten", "cor.veld", "dirk.dealer", "eva.expediteur", "fien.field", "jet.janssen"):
        snap = moved(snap, alias, "OU=Field Sales,DC=contoso,DC=com", "contoso.com/Field Sales")
    assignments = tuple(
        dataclasses.replace(a, recipient_write_scope="OU", custom_recipient_write_scope=None, recipient_ou_scope=ou)
        if a.name == CALLPRO_ASSIGNMENT
        else a
        for a in snap.role_assignments
    )
    found = exa040(policy, dataclasses.replace(snap, role_assignments=assignments))
    assert found.status is Status.FAIL
    assert found.message == "1 mailbox(es) in scope that the policy does not allow: jet.janssen@contoso.com."


def test_export_keeps_the_root_and_the_export_evaluates_clean(compliant: Snapshot, tmp_path: Path) -> None:
    snap = rooted(compliant, "contoso.com/Users")
    text = export_policy(snap, "svcServiceAccount@contoso.com")
    assert '  recipientRoot: "contoso.com/Users"' in text
    path = tmp_path / "exported.yaml"
    path.write_text(text, encoding="utf-8")
    found = finding(load_policy(path), snap, "EXA020")
    assert found.status is Status.PASS


def test_exa040_says_which_members_a_root_leaves_out(policy: LoadedPolicy, compliant: Snapshot) -> None:
    snap = moved(
        rooted(compliant, "OU=Field Sales,DC=contoso,DC=com"),
        "cor.veld",
        "OU=Field Sales,DC=contoso,DC=com",
        "contoso.com/Field Sales",
    )
    found = exa040(policy, snap)
    assert found.status is Status.FAIL
    assert "ad.viseur@contoso.com (outside RecipientRoot OU=Field Sales,DC=contoso,DC=com)" in found.message
    assert "cor.veld" not in found.message

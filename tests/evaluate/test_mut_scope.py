"""EXA020's new-scope fix, EXA040's notes and EXA050's reasons (audit.evaluate.scope), beyond the other tests.

Killed mutants of issue 14's mutation run: the fix for a missing scope keeps the policy's RecipientRoot
(New-ManagementScope -RecipientRoot); a member the filter leaves out is not said to be outside a root that
contains it; an expected address no recipient has gets no reason it cannot have.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from audit.evaluate import evaluate
from audit.findings import Status
from audit.policy import LoadedPolicy, load_policy
from audit.snapshot import ManagementScope, ProbeOutcome, Snapshot, load
from tests.evaluate.app_snapshot import NOW, au_policy_in, au_snapshot, online_snapshot
from tests.evaluate.test_reach import CALLPRO_ASSIGNMENT, ROOT, finding, policy_with_root, rooted
from tests.evaluate.test_refusal_reasons import refused
from tests.evaluate.test_semantics import policy_with


@pytest.fixture(scope="module")
def compliant() -> Snapshot:
    return load(ROOT / "tests" / "data" / "snapshots" / "compliant.snapshot.json")[0]


@pytest.fixture(scope="module")
def policy() -> LoadedPolicy:
    return load_policy(ROOT / "policies" / "callpro.yaml")


@pytest.fixture
def with_nobody(tmp_path: Path) -> LoadedPolicy:
    """The policy expecting one more member, an address no recipient has."""
    return policy_with(
        tmp_path, "      - fien.field@contoso.com\n", "      - fien.field@contoso.com\n      - nobody@contoso.com\n"
    )


def test_the_fix_for_a_missing_scope_keeps_the_policys_root(tmp_path: Path, compliant: Snapshot) -> None:
    found = finding(
        policy_with_root(tmp_path, "contoso.com/Users"), dataclasses.replace(compliant, scopes=()), "EXA020"
    )
    assert found.status is Status.FAIL
    assert found.remediation.endswith(
        "New-ManagementScope -Name 'Scope-CallPro Calendar Access' "
        "-RecipientRestrictionFilter \"MemberOfGroup -eq '$($group.DistinguishedName)'\" "
        "-RecipientRoot 'contoso.com/Users'"
    )


def test_a_member_the_filter_leaves_out_is_not_blamed_on_the_root(policy: LoadedPolicy, compliant: Snapshot) -> None:
    # dirk.dealer left the group: the filter no longer selects him, and the root (contoso.com/Users) contains him.
    dn = compliant.groups[0].distinguished_name
    snap = rooted(compliant, "contoso.com/Users")
    snap = dataclasses.replace(
        snap,
        recipients=tuple(
            dataclasses.replace(r, member_of=tuple(m for m in r.member_of if m != dn))
            if r.alias == "dirk.dealer"
            else r
            for r in snap.recipients
        ),
    )
    found = finding(policy, snap, "EXA040")
    assert found.status is Status.FAIL
    assert found.message == "1 expected mailbox(es) out of scope: dirk.dealer@contoso.com."


def test_an_expected_address_no_recipient_has_gets_no_reason(with_nobody: LoadedPolicy, compliant: Snapshot) -> None:
    found = finding(with_nobody, compliant, "EXA040")
    assert found.status is Status.FAIL
    assert found.message == "1 expected mailbox(es) out of scope: nobody@contoso.com."


def test_a_refused_address_no_recipient_has_stays_outside_the_scope(
    with_nobody: LoadedPolicy, compliant: Snapshot
) -> None:
    probe = dataclasses.replace(
        compliant.probes[0],
        mailbox="nobody@contoso.com",
        outcome=ProbeOutcome.DENIED,
        response_code="ErrorImpersonateUserDenied",
    )
    found = finding(with_nobody, dataclasses.replace(compliant, probes=(*compliant.probes, probe)), "EXA050")
    assert found.status is Status.FAIL
    assert found.message == (
        "1 in-scope mailbox(es) cannot be impersonated: nobody@contoso.com refused with ErrorImpersonateUserDenied "
        "(outside the scope)."
    )


def test_a_scope_without_filter_shows_an_empty_filter_in_the_evidence(
    policy: LoadedPolicy, compliant: Snapshot
) -> None:
    snap = dataclasses.replace(
        compliant, scopes=tuple(dataclasses.replace(s, recipient_filter=None) for s in compliant.scopes)
    )
    found = finding(policy, snap, "EXA020")
    assert found.status is Status.FAIL
    assert found.evidence == (
        "ManagementScope Name='Scope-CallPro Calendar Access' ScopeRestrictionType=RecipientScope Exclusive=False "
        "RecipientRoot='' RecipientFilter=''",
    )
    assert found.expected == (
        "RecipientScope 'Scope-CallPro Calendar Access' with filter "
        "MemberOfGroup -eq 'CN=SecurityGroup-CallPro Calendar Access,OU=Groups,DC=contoso,DC=com'"
    )
    assert found.actual == "RecipientFilter empty"
    assert found.remediation.endswith(
        "Set-ManagementScope -Identity 'Scope-CallPro Calendar Access' "
        "-RecipientRestrictionFilter \"MemberOfGroup -eq '$($group.DistinguishedName)'\""
    )


def test_the_group_named_exactly_wins_over_one_that_only_shows_the_name(
    policy: LoadedPolicy, compliant: Snapshot
) -> None:
    # A second group whose DisplayName is the policy's memberOfGroup: the filter is expected to name the group
    # whose Name it is, not to be ambiguous (groups_named matches Name, DisplayName and address).
    real = compliant.groups[0]
    lookalike = dataclasses.replace(
        real,
        name="Lookalike",
        display_name=real.name,
        identity="contoso.com/Groups/Lookalike",
        distinguished_name="CN=Lookalike,OU=Groups,DC=contoso,DC=com",
        primary_smtp_address="lookalike@contoso.com",
    )
    snap = dataclasses.replace(compliant, groups=(*compliant.groups, lookalike))
    found = finding(policy, snap, "EXA020")
    assert found.status is Status.PASS, found.message
    assert f"MemberOfGroup -eq '{real.distinguished_name}'" in found.expected


def test_two_groups_that_only_show_the_name_are_ambiguous(policy: LoadedPolicy, compliant: Snapshot) -> None:
    # Neither group's Name is the policy's memberOfGroup, both DisplayNames are: which DN the filter should name
    # cannot be told, and that is an ERROR naming both (fail closed), not "the group does not exist".
    real = compliant.groups[0]
    a = dataclasses.replace(real, name="Field Sales A", display_name=real.name)
    b = dataclasses.replace(
        a,
        name="Field Sales B",
        identity="contoso.com/Groups/Field Sales B",
        distinguished_name="CN=Field Sales B,OU=Groups,DC=contoso,DC=com",
        primary_smtp_address="field-sales-b@contoso.com",
    )
    found = finding(policy, dataclasses.replace(compliant, groups=(a, b, *compliant.groups[1:])), "EXA020")
    assert found.status is Status.ERROR
    assert (
        f"2 groups are named '{real.name}' ('{real.distinguished_name}', "
        "'CN=Field Sales B,OU=Groups,DC=contoso,DC=com'); cannot tell which DN is meant"
    ) in found.message
    assert found.remediation == ""  # which group is meant is for people to decide


def test_a_member_another_path_reaches_gets_no_root_reason_for_a_refusal(
    policy: LoadedPolicy, compliant: Snapshot
) -> None:
    # The CallPro scope gets a root that leaves the members out, and a second assignment reaches them through an
    # unrooted copy of the scope: EXA040 finds dirk.dealer in scope, so EXA050 cannot blame the root for his
    # refusal and keeps its own wording.
    callpro = next(a for a in compliant.role_assignments if a.name == CALLPRO_ASSIGNMENT)
    scope = compliant.scopes[0]
    snap = dataclasses.replace(
        compliant,
        scopes=(
            dataclasses.replace(scope, recipient_root="contoso.com/Sales"),
            dataclasses.replace(scope, name="Second", identity="Second"),
            *compliant.scopes[1:],
        ),
        role_assignments=(
            *compliant.role_assignments,
            dataclasses.replace(
                callpro, name="Second path", identity="Second path", custom_recipient_write_scope="Second"
            ),
        ),
    )
    snap = refused(snap, "dirk.dealer@contoso.com")
    assert finding(policy, snap, "EXA040").status is Status.PASS
    found = finding(policy, snap, "EXA050")
    assert found.status is Status.FAIL
    assert "dirk.dealer@contoso.com refused with ErrorImpersonateUserDenied (outside the scope)." in found.message


def test_a_declared_root_adds_to_the_expected_scope(tmp_path: Path, compliant: Snapshot) -> None:
    found = finding(
        policy_with_root(tmp_path, "contoso.com/Users"), rooted(compliant, "CN=Users,DC=contoso,DC=com"), "EXA020"
    )
    assert found.status is Status.PASS
    assert found.expected == (
        "RecipientScope 'Scope-CallPro Calendar Access' with filter "
        "MemberOfGroup -eq 'CN=SecurityGroup-CallPro Calendar Access,OU=Groups,DC=contoso,DC=com' "
        "under RecipientRoot contoso.com/Users"
    )


def test_an_administrative_unit_member_listed_by_identity_is_in_scope(tmp_path: Path) -> None:
    # EXA040 for an app scoped by an administrative unit: a member may be listed by the recipient's identity, not
    # only by an address (scope._in_unit), in any case.
    snap = au_snapshot(online_snapshot(), ("CONTOSO.COM/Users/Ad Viseur", "bea.buiten@contoso.com"))
    found = next(f for f in evaluate(au_policy_in(tmp_path), snap, NOW) if f.check_id == "EXA040")
    assert found.status is Status.PASS, found.message


def test_an_apps_refusal_is_not_blamed_on_an_exclusive_scope(tmp_path: Path) -> None:
    # Exclusive scopes do not restrict apps (exo-2026.md, APPRBAC): EXA040 keeps ad.viseur in the app's scope, so
    # EXA050 cannot name the exclusive scope over him as the reason for his refusal.
    snap = au_snapshot(online_snapshot(), ("ad.viseur@contoso.com", "bea.buiten@contoso.com"))
    vip = ManagementScope(
        name="VIP",
        identity="VIP",
        scope_restriction_type="RecipientScope",
        exclusive=True,
        recipient_filter="Alias -eq 'ad.viseur'",
    )
    probes = tuple(
        dataclasses.replace(p, outcome=ProbeOutcome.DENIED, response_code="ErrorImpersonateUserDenied")
        if p.mailbox == "ad.viseur@contoso.com" and p.expect == "allow"
        else p
        for p in snap.probes
    )
    snap = dataclasses.replace(snap, scopes=(*snap.scopes, vip), probes=probes)
    found = {f.check_id: f for f in evaluate(au_policy_in(tmp_path), snap, NOW)}
    assert found["EXA040"].status is Status.PASS
    assert found["EXA050"].status is Status.FAIL
    assert found["EXA050"].message == (
        "1 in-scope mailbox(es) cannot be impersonated: ad.viseur@contoso.com refused with "
        "ErrorImpersonateUserDenied (outside the scope)."
    )


def test_a_scope_of_another_type_says_what_was_expected_and_found(policy: LoadedPolicy, compliant: Snapshot) -> None:
    snap = dataclasses.replace(
        compliant,
        scopes=(dataclasses.replace(compliant.scopes[0], scope_restriction_type="ServerScope"), *compliant.scopes[1:]),
    )
    found = finding(policy, snap, "EXA020")
    assert found.status is Status.FAIL
    assert found.message == "'Scope-CallPro Calendar Access' is a ServerScope, not a recipient scope."
    assert found.expected == (
        "RecipientScope 'Scope-CallPro Calendar Access' with filter "
        "MemberOfGroup -eq 'CN=SecurityGroup-CallPro Calendar Access,OU=Groups,DC=contoso,DC=com'"
    )
    assert found.actual == "ScopeRestrictionType ServerScope"
    assert found.evidence[0].startswith(
        "ManagementScope Name='Scope-CallPro Calendar Access' ScopeRestrictionType=ServerScope Exclusive=False"
    )
    assert found.remediation.startswith("# Recreate 'Scope-CallPro Calendar Access' as a recipient scope:\n")


EXPECTED = (
    "RecipientScope 'Scope-CallPro Calendar Access' with filter "
    "MemberOfGroup -eq 'CN=SecurityGroup-CallPro Calendar Access,OU=Groups,DC=contoso,DC=com'"
)
STORED = "MemberOfGroup -eq 'CN=SecurityGroup-CallPro Calendar Access,OU=Groups,DC=contoso,DC=com'"


def test_an_unreadable_stored_filter_is_an_error_with_the_text_it_read(
    policy: LoadedPolicy, compliant: Snapshot
) -> None:
    snap = dataclasses.replace(
        compliant,
        scopes=(dataclasses.replace(compliant.scopes[0], recipient_filter="MemberOfGroup -eq"), *compliant.scopes[1:]),
    )
    found = finding(policy, snap, "EXA020")
    assert found.status is Status.ERROR
    assert found.message.startswith(
        "Cannot read the stored filter of 'Scope-CallPro Calendar Access': expected a value"
    )
    assert found.expected == EXPECTED
    assert found.actual == "MemberOfGroup -eq"
    assert found.evidence[0].endswith("RecipientFilter='MemberOfGroup -eq'")
    assert found.remediation == ""


def test_a_missing_group_fails_with_the_stored_filter_and_the_fix(policy: LoadedPolicy, compliant: Snapshot) -> None:
    found = finding(policy, dataclasses.replace(compliant, groups=compliant.groups[1:]), "EXA020")
    assert found.status is Status.FAIL
    assert found.message == (
        "Cannot build the expected filter: the group 'SecurityGroup-CallPro Calendar Access' the filter should name "
        f'does not exist; the stored filter is "{STORED}".'
    )
    assert found.expected == (
        "RecipientScope 'Scope-CallPro Calendar Access' with filter "
        "MemberOfGroup -eq '<DN of SecurityGroup-CallPro Calendar Access>'"
    )
    assert found.actual == STORED
    assert found.evidence[0].endswith(f'RecipientFilter="{STORED}"')
    assert found.remediation == (
        "$group = Get-DistributionGroup -Identity 'SecurityGroup-CallPro Calendar Access'\n"
        "Set-ManagementScope -Identity 'Scope-CallPro Calendar Access' "
        "-RecipientRestrictionFilter \"MemberOfGroup -eq '$($group.DistinguishedName)'\""
    )


def test_the_right_filter_under_the_wrong_root_says_both(tmp_path: Path, compliant: Snapshot) -> None:
    found = finding(
        policy_with_root(tmp_path, "contoso.com/Field Sales"), rooted(compliant, "contoso.com/Users"), "EXA020"
    )
    assert found.status is Status.FAIL
    assert found.message == (
        f"The filter of 'Scope-CallPro Calendar Access' means {STORED}, but its RecipientRoot is "
        "'contoso.com/Users', not 'contoso.com/Field Sales'."
    )
    assert found.actual == f"{STORED} under RecipientRoot contoso.com/Users"
    assert found.evidence[0].endswith(f"RecipientRoot='contoso.com/Users' RecipientFilter=\"{STORED}\"")


def test_a_missing_root_is_shown_as_none(tmp_path: Path, compliant: Snapshot) -> None:
    found = finding(policy_with_root(tmp_path, "contoso.com/Field Sales"), rooted(compliant, None), "EXA020")
    assert found.status is Status.FAIL
    assert found.actual == f"{STORED} under RecipientRoot (none)"


def test_a_wrong_filter_and_a_wrong_root_are_both_said(tmp_path: Path, compliant: Snapshot) -> None:
    snap = rooted(compliant, "contoso.com/Users")
    wrong = dataclasses.replace(snap.scopes[0], recipient_filter="Department -eq 'Sales'")
    snap = dataclasses.replace(snap, scopes=(wrong, *snap.scopes[1:]))
    found = finding(policy_with_root(tmp_path, "contoso.com/Field Sales"), snap, "EXA020")
    assert found.status is Status.FAIL
    assert found.message.endswith(
        f"which does not mean {STORED}; and its RecipientRoot is 'contoso.com/Users', not 'contoso.com/Field Sales'."
    )


def test_a_wrong_filter_and_a_wrong_root_get_both_fixes(tmp_path: Path, compliant: Snapshot) -> None:
    snap = rooted(compliant, "contoso.com/Users")
    wrong = dataclasses.replace(snap.scopes[0], recipient_filter="Department -eq 'Sales'")
    snap = dataclasses.replace(snap, scopes=(wrong, *snap.scopes[1:]))
    found = finding(policy_with_root(tmp_path, "contoso.com/Field Sales"), snap, "EXA020")
    assert found.remediation == (
        "$group = Get-DistributionGroup -Identity 'SecurityGroup-CallPro Calendar Access'\n"
        "Set-ManagementScope -Identity 'Scope-CallPro Calendar Access' "
        "-RecipientRestrictionFilter \"MemberOfGroup -eq '$($group.DistinguishedName)'\"\n"
        "Set-ManagementScope -Identity 'Scope-CallPro Calendar Access' -RecipientRoot 'contoso.com/Field Sales'"
    )

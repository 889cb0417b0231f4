"""EXA040 (audit.evaluate.scope.exa040 and _selectors): what the effective scope reaches, every field asserted.

Issue 14's mutation run left EXA040's counts, severity, notes, evidence and fix unguarded, and some of the paths
_selectors follows (a regular assignment on an exclusive scope, an assignment naming no scope, another role that
reaches the principal). Each test changes one thing on the compliant snapshot and the CallPro policy. Exclusive
scopes: "Users or USGs that aren't assigned an exclusive scope that contains the objects immediately lose access to
those objects" (https://learn.microsoft.com/powershell/module/exchangepowershell/new-managementscope, -Exclusive).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from audit.findings import Finding, Severity, Status
from audit.policy import LoadedPolicy, load_policy
from audit.snapshot import ManagementScope, Snapshot, load
from tests.evaluate.app_snapshot import AU_ID, au_policy_in, au_snapshot, online_snapshot
from tests.evaluate.test_reach import CALLPRO_ASSIGNMENT, ROOT, finding
from tests.evaluate.test_refusal_reasons import refused
from tests.evaluate.test_semantics import SVC, assignment, role_group

SCOPE = "Scope-CallPro Calendar Access"
GROUP_DN = "CN=SecurityGroup-CallPro Calendar Access,OU=Groups,DC=contoso,DC=com"
STORED = f"MemberOfGroup -eq '{GROUP_DN}'"
SCOPE_LINE = (
    f"ManagementScope Name='{SCOPE}' ScopeRestrictionType=RecipientScope Exclusive=False RecipientRoot='' "
    f'RecipientFilter="{STORED}"'
)
PATH_LINE = "via svcServiceAccount -> role group 'CallPro Calendar Access'"
EXPECTED = "6 mailbox(es) from group.members (policy)"
FOLLOWS = "# Follows from the assignment, scope and membership fixes (EXA012, EXA013, EXA020, EXA021, EXA033, EXA034)."
MEMBERS = (
    "ad.viseur@contoso.com",
    "bea.buiten@contoso.com",
    "cor.veld@contoso.com",
    "dirk.dealer@contoso.com",
    "eva.expediteur@contoso.com",
    "fien.field@contoso.com",
)


@pytest.fixture(scope="module")
def compliant() -> Snapshot:
    return load(ROOT / "tests" / "data" / "snapshots" / "compliant.snapshot.json")[0]


@pytest.fixture(scope="module")
def policy() -> LoadedPolicy:
    return load_policy(ROOT / "policies" / "callpro.yaml")


def edited(tmp_path: Path, old: str, new: str) -> LoadedPolicy:
    """policies/callpro.yaml with one text replaced (it must occur once)."""
    text = (ROOT / "policies" / "callpro.yaml").read_text(encoding="utf-8")
    assert text.count(old) == 1
    path = tmp_path / "edited.yaml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return load_policy(path)


def exa040(policy: LoadedPolicy, snap: Snapshot) -> Finding:
    return finding(policy, snap, "EXA040")


def member_of(snap: Snapshot, alias: str, joins: bool) -> Snapshot:
    """The snapshot with one recipient added to, or removed from, the scope's group (its MemberOf)."""
    recipients = tuple(
        dataclasses.replace(
            r,
            member_of=(*r.member_of, GROUP_DN) if joins else tuple(m for m in r.member_of if m != GROUP_DN),
        )
        if r.alias == alias
        else r
        for r in snap.recipients
    )
    return dataclasses.replace(snap, recipients=recipients)


def exclusive(name: str, recipient_filter: str | None) -> ManagementScope:
    return ManagementScope(
        name=name,
        identity=name,
        scope_restriction_type="RecipientScope",
        exclusive=True,
        recipient_filter=recipient_filter,
    )


def callpro(snap: Snapshot, **changes: object) -> Snapshot:
    """The snapshot with the CallPro assignment changed."""
    assignments = tuple(
        dataclasses.replace(a, **changes) if a.name == CALLPRO_ASSIGNMENT else a  # type: ignore[arg-type]
        for a in snap.role_assignments
    )
    return dataclasses.replace(snap, role_assignments=assignments)


def test_the_compliant_scope_passes_with_what_it_computed(policy: LoadedPolicy, compliant: Snapshot) -> None:
    found = exa040(policy, compliant)
    assert found.status is Status.PASS
    assert found.message == "The effective scope selects exactly the expected 6 mailbox(es)."
    assert found.expected == EXPECTED
    assert found.actual == f"6 of 14 mailboxes selected by scope '{SCOPE}'"
    assert len(found.evidence) == 2
    assert found.evidence[0].startswith(f"Identity='{CALLPRO_ASSIGNMENT}' Role='ApplicationImpersonation'")
    assert found.evidence[0].endswith(PATH_LINE)
    assert found.evidence[1] == SCOPE_LINE


def test_a_member_left_out_is_high_with_the_generic_fix(policy: LoadedPolicy, compliant: Snapshot) -> None:
    found = exa040(policy, member_of(compliant, "dirk.dealer", joins=False))
    assert found.status is Status.FAIL
    assert found.severity is Severity.HIGH
    assert found.message == "1 expected mailbox(es) out of scope: dirk.dealer@contoso.com."
    assert found.expected == EXPECTED
    assert found.actual == f"5 of 14 mailboxes selected by scope '{SCOPE}'"
    assert found.evidence[-1] == "expected, not in scope: dirk.dealer@contoso.com"
    assert found.evidence[1] == SCOPE_LINE
    assert len(found.evidence) == 3
    assert found.remediation == FOLLOWS


def test_a_mailbox_the_policy_does_not_allow_is_critical(policy: LoadedPolicy, compliant: Snapshot) -> None:
    found = exa040(policy, member_of(compliant, "ceo", joins=True))
    assert found.status is Status.FAIL
    assert found.severity is Severity.CRITICAL
    assert found.message == "1 mailbox(es) in scope that the policy does not allow: ceo@contoso.com."
    assert found.actual == f"7 of 14 mailboxes selected by scope '{SCOPE}'"
    assert found.evidence[2:] == ("in scope, not allowed: ceo@contoso.com",)
    assert found.remediation == FOLLOWS


def test_a_mailbox_without_primary_address_is_named_by_identity(policy: LoadedPolicy, compliant: Snapshot) -> None:
    snap = member_of(compliant, "ceo", joins=True)
    snap = dataclasses.replace(
        snap,
        recipients=tuple(
            dataclasses.replace(r, primary_smtp_address="") if r.alias == "ceo" else r for r in snap.recipients
        ),
    )
    found = exa040(policy, snap)
    assert found.message == "1 mailbox(es) in scope that the policy does not allow: contoso.com/Users/Carla Eo."


def test_both_problems_are_said_extra_first(policy: LoadedPolicy, compliant: Snapshot) -> None:
    snap = member_of(member_of(compliant, "ceo", joins=True), "dirk.dealer", joins=False)
    found = exa040(policy, snap)
    assert found.message == (
        "1 mailbox(es) in scope that the policy does not allow: ceo@contoso.com; "
        "1 expected mailbox(es) out of scope: dirk.dealer@contoso.com."
    )
    assert found.severity is Severity.CRITICAL
    assert found.evidence[2:] == (
        "in scope, not allowed: ceo@contoso.com",
        "expected, not in scope: dirk.dealer@contoso.com",
    )


def test_an_at_least_policy_allows_more_mailboxes(tmp_path: Path, compliant: Snapshot) -> None:
    at_least = edited(tmp_path, "    exactly:\n", "    atLeast:\n")
    found = exa040(at_least, member_of(compliant, "ceo", joins=True))
    assert found.status is Status.PASS, found.message
    assert found.expected == f"{EXPECTED} at least"
    assert found.actual == f"7 of 14 mailboxes selected by scope '{SCOPE}'"
    missing = exa040(at_least, member_of(compliant, "dirk.dealer", joins=False))
    assert missing.message == "1 expected mailbox(es) out of scope: dirk.dealer@contoso.com."
    assert missing.expected == f"{EXPECTED} at least"


def test_more_than_25_missing_are_counted_and_listed_in_part(tmp_path: Path, compliant: Snapshot) -> None:
    nobody = [f"nobody{i:02}@contoso.com" for i in range(26)]
    extra = "".join(f"      - {a}\n" for a in nobody)
    many = edited(tmp_path, "      - fien.field@contoso.com\n", "      - fien.field@contoso.com\n" + extra)
    found = exa040(many, compliant)
    assert found.status is Status.FAIL
    assert found.message == f"26 expected mailbox(es) out of scope: {', '.join(nobody[:25])} and 1 more."
    assert found.expected == "32 mailbox(es) from group.members (policy)"
    assert found.evidence[2:] == tuple(f"expected, not in scope: {a}" for a in nobody[:25])


def test_an_exclusive_scope_is_named_in_the_note_the_evidence_and_the_fix(
    policy: LoadedPolicy, compliant: Snapshot
) -> None:
    # fien.field has a second address (fien@contoso.com): only the expected one counts as taken away. eva left the
    # group: she is missing for another reason and gets no exclusive-scope note.
    snap = member_of(compliant, "eva.expediteur", joins=False)
    snap = dataclasses.replace(snap, scopes=(*snap.scopes, exclusive("VIP", "Alias -eq 'fien.field'")))
    found = exa040(policy, snap)
    assert found.status is Status.FAIL
    assert found.message == (
        "2 expected mailbox(es) out of scope: eva.expediteur@contoso.com, "
        "fien.field@contoso.com (taken away by exclusive scope 'VIP')."
    )
    assert found.evidence[2] == (
        "exclusive ManagementScope Name='VIP' ScopeRestrictionType=RecipientScope Exclusive=True RecipientRoot='' "
        "RecipientFilter=\"Alias -eq 'fien.field'\""
    )
    assert found.evidence[3:] == (
        "expected, not in scope: eva.expediteur@contoso.com",
        "expected, not in scope: fien.field@contoso.com (taken away by exclusive scope 'VIP')",
    )
    assert found.remediation.startswith(
        "# 1 expected mailbox(es) sit in the exclusive scope(s) 'VIP': only assignments made with\n"
    )
    assert found.remediation.endswith("\n" + FOLLOWS)


def test_an_exclusive_scope_exaudit_cannot_read_is_an_error_with_the_path(
    policy: LoadedPolicy, compliant: Snapshot
) -> None:
    snap = dataclasses.replace(compliant, scopes=(*compliant.scopes, exclusive("Odd", "NoSuchProperty -eq 'x'")))
    found = exa040(policy, snap)
    assert found.status is Status.ERROR
    assert found.message.startswith("Cannot evaluate the exclusive scope 'Odd': unknown property 'NoSuchProperty'")
    assert found.message.endswith("; which mailboxes it takes away from the principal is unknown.")
    assert len(found.evidence) == 2
    assert found.evidence[1] == SCOPE_LINE


def test_a_regular_assignment_on_an_exclusive_scope_loses_what_that_scope_contains(
    policy: LoadedPolicy, compliant: Snapshot
) -> None:
    # Only -ExclusiveRecipientWriteScope assignments reach what an exclusive scope contains; the CallPro assignment
    # names the scope with -CustomRecipientWriteScope, so the scope's own members are taken away from it.
    snap = dataclasses.replace(
        compliant, scopes=tuple(dataclasses.replace(s, exclusive=True) for s in compliant.scopes)
    )
    found = exa040(policy, snap)
    assert found.status is Status.FAIL
    assert found.message.startswith(
        f"6 expected mailbox(es) out of scope: ad.viseur@contoso.com (taken away by exclusive scope '{SCOPE}'), "
    )


def test_with_nothing_granting_the_named_scope_is_judged_as_a_regular_one(
    policy: LoadedPolicy, compliant: Snapshot
) -> None:
    # The grant will be a regular assignment on the scope the policy names: an exclusive scope takes its members
    # away from it as well.
    snap = callpro(compliant, enabled=False)
    snap = dataclasses.replace(snap, scopes=tuple(dataclasses.replace(s, exclusive=True) for s in snap.scopes))
    found = exa040(policy, snap)
    assert found.status is Status.FAIL
    assert f"(taken away by exclusive scope '{SCOPE}')" in found.message
    assert found.evidence[0] == (
        "no enabled Regular ApplicationImpersonation assignment reaches the principal; judging scope "
        f"'{SCOPE}' as named by the policy"
    )


def test_a_custom_scope_assignment_naming_no_scope_fails(policy: LoadedPolicy, compliant: Snapshot) -> None:
    found = exa040(policy, callpro(compliant, custom_recipient_write_scope=None))
    assert found.status is Status.FAIL
    assert found.message == "The scope '' does not exist; nothing to evaluate (see EXA020)."
    assert len(found.evidence) == 1


def test_another_role_reaching_the_principal_does_not_widen_the_scope(
    policy: LoadedPolicy, compliant: Snapshot
) -> None:
    helpdesk = role_group("Helpdesk", (SVC,), ("Mail Recipients",))
    unscoped = assignment("Mail Recipients-Helpdesk", "Mail Recipients", helpdesk.identity)
    snap = dataclasses.replace(
        compliant,
        role_groups=(*compliant.role_groups, helpdesk),
        role_assignments=(*compliant.role_assignments, unscoped),
    )
    found = exa040(policy, snap)
    assert found.status is Status.PASS, found.message
    assert found.actual == f"6 of 14 mailboxes selected by scope '{SCOPE}'"


def test_an_ou_on_a_write_scope_that_is_not_ou_is_not_computed(policy: LoadedPolicy, compliant: Snapshot) -> None:
    snap = callpro(
        compliant,
        recipient_write_scope="MyGAL",
        custom_recipient_write_scope=None,
        recipient_ou_scope="contoso.com/Users",
    )
    found = exa040(policy, snap)
    assert found.status is Status.ERROR
    assert found.message == (
        f"Cannot evaluate '{CALLPRO_ASSIGNMENT}': RecipientWriteScope MyGAL is not a scope exaudit can compute."
    )


def test_an_unscoped_assignment_reaches_every_mailbox(policy: LoadedPolicy, compliant: Snapshot) -> None:
    found = exa040(policy, callpro(compliant, recipient_write_scope="Organization", custom_recipient_write_scope=None))
    assert found.status is Status.FAIL
    assert found.actual == f"14 of 14 mailboxes selected by '{CALLPRO_ASSIGNMENT}' (unscoped: every mailbox)"
    assert found.message.startswith("8 mailbox(es) in scope that the policy does not allow: ceo@contoso.com, ")


def test_an_at_most_policy_flags_what_lies_above_the_ceiling(tmp_path: Path, compliant: Snapshot) -> None:
    at_most = edited(tmp_path, "    exactly:\n", "    atMost:\n")
    found = exa040(at_most, member_of(compliant, "ceo", joins=True))
    assert found.status is Status.FAIL
    assert found.message == "1 mailbox(es) in scope that the policy does not allow: ceo@contoso.com."
    assert found.expected == "0 mailbox(es) from group.members (policy)"


def test_a_policy_without_group_expects_its_probes_allow_list(compliant: Snapshot) -> None:
    # exo-rbac-for-apps.yaml names no group: its probes.allow addresses are the expected mailboxes.
    from tests.evaluate.test_semantics import _app_snapshot

    apps = load_policy(ROOT / "policies" / "exo-rbac-for-apps.yaml")
    found = exa040(apps, _app_snapshot(compliant))
    assert found.status is Status.PASS, found.message
    assert found.expected == "2 mailbox(es) from probes.allow"
    assert found.actual == "2 of 14 mailboxes selected by scope 'Scope-CallPro Field Sales'"


def test_every_refusal_gets_its_reason_after_one_that_is_in_scope(policy: LoadedPolicy, compliant: Snapshot) -> None:
    # ad.viseur is in the effective scope (EXA040 knows no reason for his refusal); dirk.dealer, refused after him,
    # is taken away by an exclusive scope and EXA050 says so.
    from tests.evaluate.test_refusal_reasons import vip

    snap = refused(vip(compliant), "ad.viseur@contoso.com", "dirk.dealer@contoso.com")
    found = finding(policy, snap, "EXA050")
    assert found.status is Status.FAIL
    assert "ad.viseur@contoso.com refused with ErrorImpersonateUserDenied (outside the scope)" in found.message
    assert (
        "dirk.dealer@contoso.com refused with ErrorImpersonateUserDenied "
        "(taken away by exclusive scope 'VIP Mailboxes', see EXA040)"
    ) in found.message


AU_LINE = f"AdministrativeUnit Id={AU_ID} DisplayName='Field Sales' Members=2"
NOT_GRANTING = (
    "no enabled Regular Application Calendars.ReadWrite assignment reaches the principal; judging scope "
    f"'{AU_ID}' as named by the policy"
)


def au_not_granting() -> Snapshot:
    """An app scoped by an administrative unit (RBAC for Applications) whose assignment is disabled."""
    snap = au_snapshot(online_snapshot(), ("ad.viseur@contoso.com", "bea.buiten@contoso.com"))
    assignments = tuple(
        dataclasses.replace(a, enabled=False) if a.recipient_administrative_unit_scope else a
        for a in snap.role_assignments
    )
    return dataclasses.replace(snap, role_assignments=assignments)


def test_with_nothing_granting_the_policys_administrative_unit_is_judged(tmp_path: Path) -> None:
    found = exa040(au_policy_in(tmp_path), au_not_granting())
    assert found.status is Status.PASS, found.message
    assert found.actual == "2 of 14 mailboxes selected by administrative unit 'Field Sales'"
    assert found.evidence == (NOT_GRANTING, AU_LINE)


def test_an_administrative_unit_without_display_name_is_named_by_id(tmp_path: Path) -> None:
    snap = au_not_granting()
    snap = dataclasses.replace(
        snap, administrative_units=tuple(dataclasses.replace(u, display_name="") for u in snap.administrative_units)
    )
    found = exa040(au_policy_in(tmp_path), snap)
    assert found.actual == f"2 of 14 mailboxes selected by administrative unit '{AU_ID}'"


def test_an_administrative_unit_not_read_is_an_error(tmp_path: Path) -> None:
    found = exa040(au_policy_in(tmp_path), dataclasses.replace(au_not_granting(), administrative_units=()))
    assert found.status is Status.ERROR
    assert found.message == (
        f"The members of administrative unit {AU_ID} were not read; its reach is unknown (see EXA073)."
    )
    assert found.evidence == (NOT_GRANTING,)


@pytest.mark.parametrize("recipient_filter", [None, ""])
def test_a_scope_without_filter_fails_with_its_evidence(
    policy: LoadedPolicy, compliant: Snapshot, recipient_filter: str | None
) -> None:
    snap = dataclasses.replace(
        compliant, scopes=tuple(dataclasses.replace(s, recipient_filter=recipient_filter) for s in compliant.scopes)
    )
    found = exa040(policy, snap)
    assert found.status is Status.FAIL
    assert found.message == f"The scope '{SCOPE}' has no recipient filter (see EXA020)."
    assert found.evidence[1] == SCOPE_LINE.replace(f'"{STORED}"', "''")


def test_a_policy_naming_no_mailbox_set_skips(tmp_path: Path, compliant: Snapshot) -> None:
    # exo-rbac-for-apps.yaml without its probes section: no group and no probes.allow list name the mailboxes.
    from tests.evaluate.test_semantics import _app_snapshot

    text = (ROOT / "policies" / "exo-rbac-for-apps.yaml").read_text(encoding="utf-8")
    path = tmp_path / "no-probes.yaml"
    path.write_text(text[: text.index("\nprobes:\n")] + text[text.index("\nwaivers:") :], encoding="utf-8")
    found = exa040(load_policy(path), _app_snapshot(compliant))
    assert found.status is Status.SKIP
    assert found.message == "The policy names no expected mailbox set (no group, no probes.allow list)."


def test_an_apps_exclusive_scope_assignment_is_judged_without_exclusive_scopes(compliant: Snapshot) -> None:
    # Exclusive scopes do not restrict apps (exo-2026.md, APPRBAC): for an app, no exclusive scope is read, and an
    # assignment made with an exclusive write scope reaches only what an exclusive scope contains, which is nothing.
    from tests.evaluate.test_semantics import _app_snapshot

    snap = _app_snapshot(compliant)
    assignments = tuple(
        dataclasses.replace(
            a,
            custom_resource_scope=None,
            recipient_write_scope="ExclusiveRecipientScope",
            custom_recipient_write_scope="Scope-CallPro Field Sales",
        )
        if a.role_assignee_type == "ServicePrincipal"
        else a
        for a in snap.role_assignments
    )
    apps = load_policy(ROOT / "policies" / "exo-rbac-for-apps.yaml")
    found = exa040(apps, dataclasses.replace(snap, role_assignments=assignments))
    assert found.status is Status.FAIL
    assert found.message == "2 expected mailbox(es) out of scope: ad.viseur@contoso.com, bea.buiten@contoso.com."

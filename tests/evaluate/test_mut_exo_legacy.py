"""EXA077 (EWS against the date) and EXA078 (what the ApplicationImpersonation how-to left behind), verdict by verdict.

audit/evaluate/exo.py, issue 14's mutation triage: each check function is called on a Context built like the
engine builds it and its whole verdict compared. Domain: /work/shared/domain/exo-2026.md (EwsAllowedAppIDs, EWS
phase-off on 1 October 2026 and shutdown on 1 April 2027) and exchange-rbac.md (ApplicationImpersonation).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

from audit.evaluate import exo
from audit.evaluate.context import Verdict, assignment_line
from audit.findings import Severity, Status
from audit.policy import LoadedPolicy
from audit.snapshot import CollectionCall, RoleAssignment, Snapshot, load
from tests.evaluate.app_snapshot import APP_ID, DATA, app_assignment, with_policy
from tests.evaluate.test_mut_exo import au_policy_without_probes, ctx

# --- EXA077 ----------------------------------------------------------------------------------------------------

OTHER_APPS = ("0f8c1e2d-3b4a-4c5d-8e6f-7a8b9c0d1e2f", "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d")


def _ews(online: Snapshot, enabled: bool | None, allowed: tuple[str, ...] | None, exo: bool = True) -> Snapshot:
    assert online.organization is not None
    found = dataclasses.replace(
        online.organization, ews_enabled=enabled, ews_allowed_app_ids=allowed, is_exchange_online=exo
    )
    return dataclasses.replace(online, organization=found)


@pytest.fixture
def needs_ews(tmp_path: Path) -> LoadedPolicy:
    return with_policy(tmp_path, "required: false", "required: true")


def test_exa077_without_organization_facts_is_error(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    assert exo.exa077(ctx(exo_policy, dataclasses.replace(online, organization=None))) == Verdict(
        Status.ERROR, "Organization facts were not collected (Get-OrganizationConfig returned nothing)."
    )


def test_exa077_on_premises_is_skipped(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    target = dataclasses.replace(online.target, platform="exchange-server")
    state = dataclasses.replace(_ews(online, True, None, exo=False), target=target)
    assert exo.exa077(ctx(exo_policy, state)) == Verdict(
        Status.SKIP, "On-premises Exchange has no EWS app allow list (see EXA060)."
    )


@pytest.mark.parametrize(("online_org", "platform"), [(True, "exchange-server"), (False, "Exchange-Online")])
def test_exa077_either_sign_of_exchange_online_is_enough(
    exo_policy: LoadedPolicy, online: Snapshot, online_org: bool, platform: str
) -> None:
    target = dataclasses.replace(online.target, platform=platform)
    state = dataclasses.replace(_ews(online, True, (), exo=online_org), target=target)
    assert exo.exa077(ctx(exo_policy, state)).status is Status.PASS


def test_exa077_allow_list_not_read(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    assert exo.exa077(ctx(exo_policy, _ews(online, True, None))) == Verdict(
        Status.ERROR,
        "EwsAllowedAppIDs was not read (Get-OrganizationConfig -RetrieveEwsOperationAccessPolicy); whether the app "
        "may use EWS is unknown.",
        expected="EwsAllowedAppIDs read",
        actual="not read",
        evidence=("OrganizationConfig EWSEnabled=True EwsAllowedAppIDs=not read",),
    )


def test_exa077_graph_only_app_left_on_the_allow_list(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    allowed = (OTHER_APPS[0], APP_ID.upper(), OTHER_APPS[1])
    shown = f"EWSEnabled=True EwsAllowedAppIDs={list(allowed)}"
    assert exo.exa077(ctx(exo_policy, _ews(online, True, allowed))) == Verdict(
        Status.FAIL,
        "The app does not use EWS (ews.required false) but is in EwsAllowedAppIDs: remove it, so that a leaked "
        "credential cannot use EWS (EWS ends in 126 days).",
        expected="app not in EwsAllowedAppIDs",
        actual=shown,
        evidence=(f"OrganizationConfig {shown}",),
        remediation=f"Set-OrganizationConfig -EwsAllowedAppIDs '{OTHER_APPS[0]},{OTHER_APPS[1]}'",
        severity=Severity.LOW,
    )


def test_exa077_graph_only_app_off_the_allow_list(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    shown = f"EWSEnabled=False EwsAllowedAppIDs={[OTHER_APPS[0]]}"
    assert exo.exa077(ctx(exo_policy, _ews(online, False, (OTHER_APPS[0],)))) == Verdict(
        Status.PASS,
        "The app uses Microsoft Graph only and is not in the EWS allow list.",
        expected="app not in EwsAllowedAppIDs",
        actual=shown,
        evidence=(f"OrganizationConfig {shown}",),
    )


def test_exa077_a_policy_without_ews_section_means_graph_only(tmp_path: Path, online: Snapshot) -> None:
    verdict = exo.exa077(ctx(au_policy_without_probes(tmp_path), _ews(online, True, (APP_ID,))))
    assert verdict.status is Status.FAIL
    assert verdict.remediation == "Set-OrganizationConfig -EwsAllowedAppIDs $null"


def test_exa077_ews_is_gone_from_1_april_2027(needs_ews: LoadedPolicy, online: Snapshot) -> None:
    now = datetime(2027, 4, 1, 0, 0, tzinfo=UTC)
    assert exo.exa077(ctx(needs_ews, _ews(online, True, (APP_ID,)), now)) == Verdict(
        Status.FAIL,
        "EWS in Exchange Online was switched off for good on 1 April 2027 (today); the app still needs it "
        "(ews.required). Move it to Microsoft Graph.",
        expected="an app that no longer needs EWS",
        actual="ews.required true",
        evidence=(f"OrganizationConfig EWSEnabled=True EwsAllowedAppIDs={[APP_ID]}",),
        remediation="# Move the integration to Microsoft Graph, then set ews.required: false in policy.yaml",
        severity=Severity.CRITICAL,
    )
    later = exo.exa077(ctx(needs_ews, _ews(online, True, (APP_ID,)), datetime(2027, 4, 3, tzinfo=UTC)))
    assert "(2 days ago)" in later.message


def test_exa077_app_on_the_allow_list_with_ews_on(needs_ews: LoadedPolicy, online: Snapshot) -> None:
    shown = f"EWSEnabled=True EwsAllowedAppIDs={[APP_ID]}"
    assert exo.exa077(ctx(needs_ews, _ews(online, True, (APP_ID,)))) == Verdict(
        Status.PASS,
        "EWSEnabled is True and the app is in EwsAllowedAppIDs; EWS ends on 1 April 2027 (in 126 days).",
        expected="EWSEnabled True and the app in EwsAllowedAppIDs",
        actual=shown,
        evidence=(f"OrganizationConfig {shown}",),
    )


def test_exa077_after_the_phase_off_both_problems(needs_ews: LoadedPolicy, online: Snapshot) -> None:
    shown = f"EWSEnabled=False EwsAllowedAppIDs={list(OTHER_APPS)}"
    now = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)  # the phase-off day itself
    assert exo.exa077(ctx(needs_ews, _ews(online, False, OTHER_APPS), now)) == Verdict(
        Status.FAIL,
        "EWSEnabled is False and the app is not in EwsAllowedAppIDs: since 1 October 2026 EWS is blocked for every "
        "app not on the allow list, so the integration's EWS calls fail.",
        expected="EWSEnabled True and the app in EwsAllowedAppIDs",
        actual=shown,
        evidence=(f"OrganizationConfig {shown}",),
        remediation="Set-OrganizationConfig -EwsEnabled $true -EwsAllowedAppIDs "
        f"'{OTHER_APPS[0]},{OTHER_APPS[1]},{APP_ID}'",
        severity=Severity.CRITICAL,
    )


def test_exa077_before_the_phase_off(needs_ews: LoadedPolicy, online: Snapshot) -> None:
    now = datetime(2026, 9, 30, 23, 0, tzinfo=UTC)
    verdict = exo.exa077(ctx(needs_ews, _ews(online, True, ()), now))
    assert verdict.message == (
        "the app is not in EwsAllowedAppIDs: from 1 October 2026 (in 1 days) EWS is blocked for every app not on the "
        "allow list."
    )
    assert verdict.severity is Severity.HIGH
    assert verdict.remediation == f"Set-OrganizationConfig -EwsEnabled $true -EwsAllowedAppIDs '{APP_ID}'"


def test_exa077_before_the_phase_off_both_problems(needs_ews: LoadedPolicy, online: Snapshot) -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    verdict = exo.exa077(ctx(needs_ews, _ews(online, False, ()), now))
    assert verdict.message == (
        "EWSEnabled is False and the app is not in EwsAllowedAppIDs: from 1 October 2026 (in 122 days) EWS is "
        "blocked for every app not on the allow list."
    )


@pytest.mark.parametrize(("enabled", "problem"), [(False, "EWSEnabled is False"), (None, "EWSEnabled is None")])
def test_exa077_ews_off_for_a_listed_app(
    needs_ews: LoadedPolicy, online: Snapshot, enabled: bool | None, problem: str
) -> None:
    verdict = exo.exa077(ctx(needs_ews, _ews(online, enabled, (APP_ID,))))
    assert verdict.status is Status.FAIL
    assert verdict.message.startswith(f"{problem}: since 1 October 2026")


# --- EXA078 ----------------------------------------------------------------------------------------------------

HOWTO = "ApplicationImpersonation-CallPro Calendar Access"
RG = "contoso.com/Microsoft Exchange Security Groups/"


def _impersonation(name: str, assignee: str, assignee_name: str, **kw: object) -> RoleAssignment:
    return app_assignment(
        "ApplicationImpersonation",
        name=name,
        identity=name,
        role_assignee=assignee,
        role_assignee_name=assignee_name,
        role_assignee_type="RoleGroup",
        recipient_write_scope="Organization",
        custom_resource_scope=None,
        **kw,
    )


def _seed_leftovers(online: Snapshot) -> Snapshot:
    seed, _ = load(DATA / "compliant.snapshot.json")
    return dataclasses.replace(online, role_groups=seed.role_groups, role_assignments=seed.role_assignments)


def _assignment_line(identity: str, assignee: str) -> str:
    return (
        f"Identity={identity!r} Role='ApplicationImpersonation' RoleAssignee={assignee!r} RoleAssigneeType=RoleGroup "
        "RoleAssignmentDelegationType=Regular Enabled=True RecipientWriteScope=Organization "
        "CustomRecipientWriteScope=''"
    )


USER_LINE = (
    "User Identity='contoso.com/Users/svcServiceAccount' UserPrincipalName='svcServiceAccount@contoso.com' "
    "AccountDisabled={}"
)
EXPECTED_078 = "no ApplicationImpersonation assignment, legacy role group or enabled service account left"


def test_exa078_every_leftover_named(legacy_policy: LoadedPolicy, online: Snapshot) -> None:
    state = _seed_leftovers(online)
    problems = (
        f"ApplicationImpersonation is still assigned to 'CallPro Calendar Access' ({HOWTO!r}); the role group "
        "'CallPro Calendar Access' still exists; the service account 'svcServiceAccount@contoso.com' is still enabled"
    )
    assert exo.exa078(ctx(legacy_policy, state)) == Verdict(
        Status.FAIL,
        f"Leftovers of the ApplicationImpersonation setup, to clean up: {problems}.",
        expected=EXPECTED_078,
        actual=problems,
        evidence=(
            assignment_line(next(a for a in state.role_assignments if a.name == HOWTO)),
            "built-in, ignored: "
            + _assignment_line("ApplicationImpersonation-Hygiene Management", RG + "Hygiene Management"),
            f"RoleGroup Identity='{RG}CallPro Calendar Access' Roles=['ApplicationImpersonation'] "
            "Members=['contoso.com/Users/svcServiceAccount']",
            USER_LINE.format(False),
        ),
        remediation=f"Remove-ManagementRoleAssignment -Identity '{HOWTO}' -Confirm:$false\n"
        "Remove-RoleGroup -Identity 'CallPro Calendar Access' -BypassSecurityGroupManagerCheck -Confirm:$false\n"
        "Update-MgUser -UserId 'svcServiceAccount@contoso.com' -AccountEnabled:$false"
        "   # Microsoft Graph PowerShell; or remove the account",
        severity=Severity.MEDIUM,
    )


def test_exa078_disabled_and_built_in_holders_do_not_hide_a_later_one(
    exo_policy: LoadedPolicy, online: Snapshot
) -> None:
    # Order matters to a loop that stops early: a disabled assignment and a built-in holder come first.
    disabled = _impersonation("old-disabled", RG + "Old", "Old", enabled=False)
    builtin = _impersonation(
        "ApplicationImpersonation-Hygiene Management", RG + "Hygiene Management", "Hygiene Management"
    )
    howto = _impersonation(HOWTO, RG + "CallPro Calendar Access", "CallPro Calendar Access")
    state = dataclasses.replace(online, role_assignments=(disabled, builtin, howto, *online.role_assignments))
    verdict = exo.exa078(ctx(exo_policy, state))
    assert verdict.status is Status.FAIL
    assert verdict.remediation == f"Remove-ManagementRoleAssignment -Identity '{HOWTO}' -Confirm:$false"


def test_exa078_names_the_holder_by_its_record(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    # RoleAssigneeName can lag a rename: the report names the record the assignee resolves to.
    state = _seed_leftovers(online)
    assignments = tuple(
        dataclasses.replace(a, role_assignee_name="CallPro (old name)") if a.name == HOWTO else a
        for a in state.role_assignments
    )
    verdict = exo.exa078(ctx(exo_policy, dataclasses.replace(state, role_assignments=assignments)))
    assert verdict.message == (
        "Leftovers of the ApplicationImpersonation setup, to clean up: ApplicationImpersonation is still assigned to "
        f"'CallPro Calendar Access' ({HOWTO!r})."
    )


@pytest.mark.parametrize(
    ("assignee", "assignee_name"),
    [
        (RG + "Organization Management", "Org Management (renamed display)"),  # the record is built-in
        ("S-1-5-21-1-2-3-512", "Hygiene Management"),  # the name is built-in, the record unknown
    ],
)
def test_exa078_a_built_in_holder_by_either_name_is_ignored(
    exo_policy: LoadedPolicy, online: Snapshot, assignee: str, assignee_name: str
) -> None:
    state = _seed_leftovers(online)
    builtin = _impersonation("ApplicationImpersonation-builtin", assignee, assignee_name)
    kept = tuple(a for a in state.role_assignments if a.name != HOWTO)
    verdict = exo.exa078(ctx(exo_policy, dataclasses.replace(state, role_assignments=(*kept, builtin))))
    assert verdict.status is Status.PASS, verdict.message
    assert "built-in, ignored: " + _assignment_line("ApplicationImpersonation-builtin", assignee) in verdict.evidence


def test_exa078_nothing_left(legacy_policy: LoadedPolicy, online: Snapshot) -> None:
    users = tuple(dataclasses.replace(u, account_disabled=True) for u in online.users)
    assert exo.exa078(ctx(legacy_policy, dataclasses.replace(online, users=users))) == Verdict(
        Status.PASS,
        "Nothing of the ApplicationImpersonation setup is left.",
        expected=EXPECTED_078,
        actual="none left",
        evidence=(
            "built-in, ignored: "
            + _assignment_line("ApplicationImpersonation-Hygiene Management", RG + "Hygiene Management"),
            USER_LINE.format(True),
        ),
    )


def test_exa078_a_tenant_without_the_role_at_all(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    # Exchange Online removed ApplicationImpersonation in February 2025: no assignment of it at all is the goal.
    kept = tuple(a for a in online.role_assignments if a.role != "ApplicationImpersonation")
    assert exo.exa078(ctx(exo_policy, dataclasses.replace(online, role_assignments=kept))) == Verdict(
        Status.PASS,
        "Nothing of the ApplicationImpersonation setup is left.",
        expected=EXPECTED_078,
        actual="none left",
    )


def test_exa078_account_named_in_another_case_is_reported_by_its_upn(tmp_path: Path, online: Snapshot) -> None:
    policy = with_policy(tmp_path, "ews:\n  required: false", LEGACY_LOWER)
    verdict = exo.exa078(ctx(policy, online))
    assert verdict.actual == "the service account 'svcServiceAccount@contoso.com' is still enabled"
    upn_less = tuple(dataclasses.replace(u, user_principal_name="") for u in online.users)
    verdict = exo.exa078(ctx(policy, dataclasses.replace(online, users=upn_less)))
    assert verdict.actual == "the service account 'svcserviceaccount@contoso.com' is still enabled"
    assert verdict.remediation == (
        "Update-MgUser -UserId 'svcserviceaccount@contoso.com' -AccountEnabled:$false"
        "   # Microsoft Graph PowerShell; or remove the account"
    )


LEGACY_LOWER = "ews:\n  required: false\nlegacy:\n  serviceAccount: svcserviceaccount@contoso.com"


def _get_user(ok: bool, kind: str | None = None, **parameters: str) -> CollectionCall:
    return CollectionCall("Get-User", dict(parameters), ok, 1, 1.0, None if ok else "Get-User failed: denied", kind)


def _reads(online: Snapshot, *calls: CollectionCall) -> Snapshot:
    kept = tuple(c for c in online.calls if c.cmdlet != "Get-User")
    return dataclasses.replace(online, users=(), calls=(*kept, *calls))


ACCOUNT = "svcServiceAccount@contoso.com"


def test_exa078_account_not_found_is_removed(legacy_policy: LoadedPolicy, online: Snapshot) -> None:
    state = _reads(online, _get_user(False, "ManagementObjectNotFound", Identity=ACCOUNT))
    verdict = exo.exa078(ctx(legacy_policy, state))
    assert verdict.status is Status.PASS
    assert verdict.evidence[-1] == f"Get-User -Identity {ACCOUNT}: not found (removed)"


def test_exa078_account_read_without_a_user_is_removed(legacy_policy: LoadedPolicy, online: Snapshot) -> None:
    for state in (
        _reads(online, _get_user(True, Identity=ACCOUNT.upper())),
        _reads(online, _get_user(True, ResultSize="Unlimited")),
        _reads(online, _get_user(True, ResultSize="Unlimited"), _get_user(True, Identity=ACCOUNT)),
    ):
        verdict = exo.exa078(ctx(legacy_policy, state))
        assert verdict.status is Status.PASS
        assert verdict.evidence[-1] == f"Get-User: no user {ACCOUNT} (removed)"


def test_exa078_a_read_of_someone_else_proves_nothing(legacy_policy: LoadedPolicy, online: Snapshot) -> None:
    state = _reads(online, _get_user(True, Identity="someone@contoso.com"))
    assert exo.exa078(ctx(legacy_policy, state)) == Verdict(
        Status.ERROR,
        f"Cannot tell whether the service account {ACCOUNT} still exists (it was not read).",
        expected=EXPECTED_078,
        actual="not read",
        evidence=(
            "built-in, ignored: "
            + _assignment_line("ApplicationImpersonation-Hygiene Management", RG + "Hygiene Management"),
        ),
    )


def test_exa078_a_failed_read_is_quoted(legacy_policy: LoadedPolicy, online: Snapshot) -> None:
    for calls in (
        (_get_user(False, "AccessDenied", Identity=ACCOUNT),),
        (_get_user(True, Identity=ACCOUNT), _get_user(False, "ManagementObjectNotFound", Identity=ACCOUNT)),
    ):
        verdict = exo.exa078(ctx(legacy_policy, _reads(online, *calls)))
        assert verdict.status is Status.ERROR, calls
        assert verdict.message == (
            f"Cannot tell whether the service account {ACCOUNT} still exists (Get-User failed: denied)."
        ), verdict.message

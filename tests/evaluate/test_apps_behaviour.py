"""EXA076-EXA078, the Graph probes of an app (propagation, 404) and its remediation plan."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

from audit.evaluate.checks import CHECKS
from audit.findings import Finding, Severity, Status
from audit.policy import LoadedPolicy
from audit.snapshot import (
    Probe,
    ProbeOutcome,
    Snapshot,
    User,
    load,
)
from tests.evaluate.app_snapshot import (
    APP_ID,
    DATA,
    NOW,
    ROLE,
    _canary_reached,
    aap,
    app_assignment,
    call,
    grant,
    org,
    replace_calls,
    run,
    with_policy,
)

# --- EXA076: Test-ServicePrincipalAuthorization ----------------------------------------------------------------


def test_exa076_canary_in_scope(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    rows = tuple(
        dataclasses.replace(r, in_scope=True) if r.resource == "ceo@contoso.com" else r for r in online.authorizations
    )
    found = run(exo_policy, dataclasses.replace(online, authorizations=rows))
    assert found["EXA076"].status is Status.FAIL
    assert found["EXA076"].severity is Severity.CRITICAL


def test_exa076_member_out_of_scope(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    rows = tuple(
        dataclasses.replace(r, in_scope=False) if r.resource == "cor.veld@contoso.com" else r
        for r in online.authorizations
    )
    found = run(exo_policy, dataclasses.replace(online, authorizations=rows))
    assert found["EXA076"].status is Status.FAIL
    assert "cor.veld@contoso.com" in found["EXA076"].message


def test_exa076_untested_or_unreadable_is_error(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    untested = tuple(r for r in online.authorizations if r.resource != "fien.field@contoso.com")
    assert run(exo_policy, dataclasses.replace(online, authorizations=untested))["EXA076"].status is Status.ERROR
    odd = tuple(
        dataclasses.replace(r, in_scope=None, raw_in_scope="Maybe") if r.resource == "ceo@contoso.com" else r
        for r in online.authorizations
    )
    assert run(exo_policy, dataclasses.replace(online, authorizations=odd))["EXA076"].status is Status.ERROR
    failed = replace_calls(online, "Test-ServicePrincipalAuthorization", ok=False)
    assert run(exo_policy, failed)["EXA076"].status is Status.ERROR


def test_exa076_not_run_for_a_member_is_error(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    rows = tuple(
        dataclasses.replace(r, in_scope=None, raw_in_scope="Not Run") if r.resource == "ad.viseur@contoso.com" else r
        for r in online.authorizations
    )
    exa076 = run(exo_policy, dataclasses.replace(online, authorizations=rows))["EXA076"]
    assert exa076.status is Status.ERROR
    assert "'Not Run'" in exa076.message


# --- EXA077: EWS against the date ------------------------------------------------------------------------------


def test_exa077_graph_only_app_on_the_allow_list(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    found = run(exo_policy, dataclasses.replace(online, organization=org(True, (APP_ID,))))
    assert found["EXA077"].status is Status.FAIL
    assert found["EXA077"].severity is Severity.LOW
    assert found["EXA077"].remediation == "Set-OrganizationConfig -EwsAllowedAppIDs $null"


@pytest.mark.parametrize(
    ("now", "enabled", "allowed", "status", "severity"),
    [
        (datetime(2026, 6, 1, tzinfo=UTC), None, (), Status.FAIL, Severity.HIGH),
        (NOW, None, (), Status.FAIL, Severity.CRITICAL),
        (NOW, True, ("0f8c1e2d-3b4a-4c5d-8e6f-7a8b9c0d1e2f",), Status.FAIL, Severity.CRITICAL),
        (NOW, True, (APP_ID.upper(),), Status.PASS, Severity.HIGH),
        (datetime(2027, 4, 1, tzinfo=UTC), True, (APP_ID,), Status.FAIL, Severity.CRITICAL),
    ],
    ids=["before-phase-off", "after-phase-off", "not-listed", "listed", "after-the-end"],
)
def test_exa077_app_that_still_needs_ews(
    tmp_path: Path,
    online: Snapshot,
    now: datetime,
    enabled: bool | None,
    allowed: tuple[str, ...],
    status: Status,
    severity: Severity,
) -> None:
    exo_policy = with_policy(tmp_path, "required: false", "required: true")
    found = run(exo_policy, dataclasses.replace(online, organization=org(enabled, allowed)), now)
    assert found["EXA077"].status is status, found["EXA077"].message
    assert found["EXA077"].severity is severity
    if status is Status.FAIL and now < datetime(2027, 4, 1, tzinfo=UTC):
        assert "Set-OrganizationConfig -EwsEnabled $true -EwsAllowedAppIDs" in found["EXA077"].remediation
        assert APP_ID in found["EXA077"].remediation


def test_exa077_on_premises_has_no_allow_list(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    seed, _ = load(DATA / "compliant.snapshot.json")
    found = run(exo_policy, dataclasses.replace(online, organization=seed.organization, target=seed.target))
    assert found["EXA077"].status is Status.SKIP
    assert found["EXA060"].status is Status.FAIL


def test_exa077_allow_list_not_read_is_error(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    found = run(exo_policy, dataclasses.replace(online, organization=org(True, None)))
    assert found["EXA077"].status is Status.ERROR


# --- EXA078: leftovers of the how-to ---------------------------------------------------------------------------


def test_exa078_leftovers_listed_for_clean_up(legacy_policy: LoadedPolicy, online: Snapshot) -> None:
    seed, _ = load(DATA / "compliant.snapshot.json")
    snap = dataclasses.replace(online, role_groups=seed.role_groups, role_assignments=seed.role_assignments)
    found = run(legacy_policy, snap)
    exa078 = found["EXA078"]
    assert exa078.status is Status.FAIL
    assert "Remove-RoleGroup -Identity 'CallPro Calendar Access'" in exa078.remediation
    assert "Update-MgUser -UserId 'svcServiceAccount@contoso.com' -AccountEnabled:$false" in exa078.remediation
    assert "Remove-ManagementRoleAssignment -Identity 'ApplicationImpersonation-CallPro Calendar Access'" in (
        exa078.remediation
    )
    assert "Hygiene Management" not in exa078.remediation  # a built-in holder is not the how-to's


def test_exa078_disabled_or_removed_service_account_passes(legacy_policy: LoadedPolicy, online: Snapshot) -> None:
    users = tuple(dataclasses.replace(u, account_disabled=True) for u in online.users)
    assert run(legacy_policy, dataclasses.replace(online, users=users))["EXA078"].status is Status.PASS
    gone = tuple(
        dataclasses.replace(c, ok=False, error="not found", error_kind="ManagementObjectNotFound")
        if c.cmdlet == "Get-User"
        else c
        for c in online.calls
    )
    assert run(legacy_policy, dataclasses.replace(online, users=(), calls=gone))["EXA078"].status is Status.PASS


def test_exa078_account_absent_from_a_read_of_every_user_is_removed(
    legacy_policy: LoadedPolicy, online: Snapshot
) -> None:
    calls = (*(c for c in online.calls if c.cmdlet != "Get-User"), call("Get-User", ResultSize="Unlimited"))
    found = run(legacy_policy, dataclasses.replace(online, users=(), calls=calls))
    assert found["EXA078"].status is Status.PASS
    failed = (*(c for c in online.calls if c.cmdlet != "Get-User"), call("Get-User", ok=False, ResultSize="Unlimited"))
    assert run(legacy_policy, dataclasses.replace(online, users=(), calls=failed))["EXA078"].status is Status.ERROR


def test_exa078_service_account_never_read_is_error(legacy_policy: LoadedPolicy, online: Snapshot) -> None:
    calls = tuple(c for c in online.calls if c.cmdlet != "Get-User")
    found = run(legacy_policy, dataclasses.replace(online, users=(), calls=calls))
    assert found["EXA078"].status is Status.ERROR
    assert isinstance(online.users[0], User)


def test_exa078_without_a_legacy_block_still_finds_impersonation(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    seed, _ = load(DATA / "compliant.snapshot.json")
    found = run(
        exo_policy, dataclasses.replace(online, role_assignments=(*online.role_assignments, seed.role_assignments[0]))
    )
    assert found["EXA078"].status is Status.FAIL


# --- probes for an app: propagation and 404 --------------------------------------------------------------------


def test_probe_disagreeing_after_a_recent_change_is_propagating(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    found = run(exo_policy, _canary_reached(online, "2026-11-26T10:30:00Z"))
    assert found["EXA051"].status is Status.ERROR
    assert found["EXA051"].message.startswith("Propagating, re-run after 2026-11-26 12:30 UTC")


def test_probe_disagreeing_long_after_the_change_is_a_breach(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    found = run(exo_policy, _canary_reached(online, "2026-11-26T08:30:00Z"))
    assert found["EXA051"].status is Status.FAIL


def test_member_refused_right_after_the_assignment_was_made(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    recent = tuple(
        dataclasses.replace(a, when_changed="2026-11-26T10:55:00Z") if a.role == ROLE else a
        for a in online.role_assignments
    )
    probes = tuple(
        dataclasses.replace(p, outcome=ProbeOutcome.DENIED, response_code="403 ErrorAccessDenied")
        if p.expect == "allow"
        else p
        for p in online.probes
    )
    found = run(exo_policy, dataclasses.replace(online, role_assignments=recent, probes=probes))
    assert found["EXA050"].status is Status.ERROR
    assert "re-run after 2026-11-26 12:55 UTC" in found["EXA050"].message


def test_graph_404_is_error_never_pass_or_fail(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    probes = tuple(
        dataclasses.replace(p, outcome=ProbeOutcome.NO_MAILBOX, response_code="404 MailboxNotEnabledForRESTAPI")
        if p.mailbox in ("ad.viseur@contoso.com", "ceo@contoso.com")
        else p
        for p in online.probes
    )
    found = run(exo_policy, dataclasses.replace(online, probes=probes))
    assert found["EXA050"].status is Status.ERROR
    assert found["EXA051"].status is Status.ERROR


def test_probes_of_another_app_prove_nothing(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    target = dataclasses.replace(online.target, service_account="0f8c1e2d-3b4a-4c5d-8e6f-7a8b9c0d1e2f")
    found = run(exo_policy, dataclasses.replace(online, target=target))
    assert found["EXA050"].status is Status.ERROR
    assert found["EXA051"].status is Status.ERROR


def test_probe_of_a_wrongly_scoped_app_fails(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    found = run(exo_policy, _canary_reached(online, "2026-10-01T08:00:00Z"))
    assert found["EXA051"].status is Status.FAIL
    assert isinstance(found["EXA051"], Finding)
    assert Probe  # the records used above are the snapshot's own


def test_plan_for_an_app_removes_the_entra_grant_before_anything_else(
    exo_policy: LoadedPolicy, online: Snapshot
) -> None:
    from audit.evaluate import remediation_plan
    from audit.evaluate.plan import PLAN_ORDER

    assert set(CHECKS) <= set(PLAN_ORDER), "every check has its place in the plan"
    wide = app_assignment(custom_resource_scope=None, recipient_write_scope="Organization")
    snap = dataclasses.replace(
        online,
        app_role_grants=(grant("Calendars.ReadWrite"),),
        application_access_policies=(aap("All Staff"),),
        role_assignments=(*(a for a in online.role_assignments if a.role != ROLE), wide),
    )
    plan = remediation_plan(exo_policy, snap, NOW)
    assert "Microsoft Graph PowerShell" in plan
    removal = plan.index("Remove-MgServicePrincipalAppRoleAssignment")
    scoping = plan.index("Set-ManagementRoleAssignment")
    policy_removal = plan.index("Remove-ApplicationAccessPolicy")
    assert removal < scoping < policy_removal

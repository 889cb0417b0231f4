"""The engine (audit.evaluate.engine): why a check is SKIP, which cmdlets it needs, what a collection failure or an
unreadable record makes of it, and what waivers do, each pinned to the exact text a report shows.

Killed mutants of issue 14's mutation run: every not-applicable reason and the policies it applies to (EXA076's
"no pointer" only when Get-ServicePrincipal was read in full and lists the app by neither id); an app needs no
Get-User, an administrative unit's EXA040 needs its Graph members, a grant through a security group needs
Get-Group for every check that resolves grant.via (and only then); the collection error is quoted without its
trailing dot, several joined; an ExauditError raised by a check is its ERROR; a waiver holds through its expiry
day and then becomes EXA000, never hides an ERROR, and a waiver of a check that is not evaluated for the policy
says so; findings of several policies come one policy after the other.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

from audit.errors import ExauditError
from audit.evaluate import engine, evaluate, evaluate_all
from audit.evaluate.checks import APP_CHECKS, CHECKS, ORDER
from audit.evaluate.context import Context, Verdict
from audit.findings import Finding, Severity, Status
from audit.policy import LoadedPolicy, load_policy
from audit.snapshot import CollectionCall, Snapshot, load
from tests.evaluate.app_snapshot import au_policy_in, au_snapshot, exo_policy, online_snapshot
from tests.evaluate.test_semantics import CALLPRO, DATA, NOW, by_id, policy_with

TODAY = "2026-11-26"  # NOW's date


@pytest.fixture(scope="module")
def policy() -> LoadedPolicy:
    return load_policy(CALLPRO)


@pytest.fixture(scope="module")
def compliant() -> Snapshot:
    return load(DATA / "compliant.snapshot.json")[0]


@pytest.fixture(scope="module")
def online() -> Snapshot:
    return online_snapshot()


def failing(snapshot: Snapshot, cmdlet: str, error: str) -> Snapshot:
    """The snapshot with every call of ``cmdlet`` failed with ``error``."""
    calls = tuple(
        CollectionCall(c.cmdlet, c.parameters, False, 0, c.duration_ms, error, "Timeout") if c.cmdlet == cmdlet else c
        for c in snapshot.calls
    )
    assert calls != snapshot.calls, cmdlet
    return dataclasses.replace(snapshot, calls=calls)


def statuses(findings: tuple[Finding, ...]) -> dict[str, Status]:
    return {f.check_id: f.status for f in findings}


# --- not applicable ------------------------------------------------------------------------------------------------


def _skip(found: dict[str, Finding], *checks: str) -> set[str]:
    """The messages of ``checks``, each asserted SKIP."""
    for check in checks:
        assert found[check].status is Status.SKIP, (check, found[check].message)
    return {found[c].message for c in checks}


def test_a_policy_without_group_and_probes_sections_skips_their_checks(tmp_path: Path, compliant: Snapshot) -> None:
    text = CALLPRO.read_text(encoding="utf-8")
    text = text[: text.index("\ngroup:\n")] + "\n" + text[text.index("\n# Accepted deviations") :]
    text = text.replace("onlyPath: true", "onlyPath: false")
    path = tmp_path / "bare.yaml"
    path.write_text(text, encoding="utf-8")
    found = by_id(evaluate(load_policy(path), compliant, NOW))
    assert _skip(found, "EXA030", "EXA031", "EXA032", "EXA033", "EXA034", "EXA035") == {
        "The policy has no group section; group checks do not apply."
    }
    assert _skip(found, "EXA050", "EXA051") == {"The policy asks for no probes (no probes section)."}
    assert _skip(found, "EXA013") == {"The policy allows other paths to the role (grant.onlyPath: false)."}
    # EXA040 decides its own SKIP (no expected mailbox set: no group, no probes.allow list).
    assert {c for c, f in found.items() if f.status is Status.SKIP} == {
        "EXA030", "EXA031", "EXA032", "EXA033", "EXA034", "EXA035", "EXA050", "EXA051", "EXA013", "EXA040"
    }  # fmt: skip


def test_the_full_policy_skips_nothing(policy: LoadedPolicy, compliant: Snapshot) -> None:
    assert Status.SKIP not in statuses(evaluate(policy, compliant, NOW)).values()


def test_a_direct_grant_has_no_role_group_to_check(tmp_path: Path, compliant: Snapshot) -> None:
    text = CALLPRO.read_text(encoding="utf-8")
    start, end = text.index("    roleGroup:\n"), text.index("  # Without a scope")
    path = tmp_path / "direct.yaml"
    path.write_text(text[:start] + "    direct: {}\n" + text[end:], encoding="utf-8")
    found = by_id(evaluate(load_policy(path), compliant, NOW))
    assert _skip(found, "EXA014") == {
        "The role does not come through a role group (grant.via), so there is no role group to check."
    }
    assert [c for c, f in found.items() if f.status is Status.SKIP] == ["EXA014"]


def test_an_app_with_a_management_scope_skips_the_unit_and_role_group_checks(online: Snapshot) -> None:
    found = by_id(evaluate(exo_policy(), online, NOW))
    assert _skip(found, "EXA073") == {
        "The assignment is scoped to a management scope, not an administrative unit (EXA020/EXA040 judge it)."
    }
    assert _skip(found, "EXA014") == {
        "Applications cannot be members of a role group; RBAC for Applications assigns roles directly."
    }
    assert sorted(c for c, f in found.items() if f.status is Status.SKIP) == ["EXA014", "EXA073"]


def test_an_app_with_an_administrative_unit_skips_the_scope_checks(tmp_path: Path, online: Snapshot) -> None:
    snap = au_snapshot(online, ("ad.viseur@contoso.com", "bea.buiten@contoso.com"))
    found = by_id(evaluate(au_policy_in(tmp_path), snap, NOW))
    assert _skip(found, "EXA020", "EXA021") == {
        "The assignment is scoped to an administrative unit, not a management scope; EXA073 checks it."
    }
    assert found["EXA073"].status is not Status.SKIP
    assert _skip(found, "EXA014") == {
        "Applications cannot be members of a role group; RBAC for Applications assigns roles directly."
    }


NO_POINTER = (
    "Exchange has no service principal for this app (EXA070): RBAC for Applications grants it nothing, and "
    "Test-ServicePrincipalAuthorization has nothing to test."
)


def test_exa076_is_skipped_only_when_exchange_surely_has_no_pointer(online: Snapshot) -> None:
    app = exo_policy()
    assert by_id(evaluate(app, online, NOW))["EXA076"].status is not Status.SKIP
    none = dataclasses.replace(online, service_principals=())
    found = by_id(evaluate(app, none, NOW))
    assert _skip(found, "EXA076") == {NO_POINTER}
    assert sorted(c for c, f in found.items() if f.status is Status.SKIP) == ["EXA014", "EXA073", "EXA076"]
    # Not read in full: whether a pointer exists is unknown, so EXA076 is decided (here: its own data is there).
    unread = failing(none, "Get-ServicePrincipal", "HTTP 403")
    assert by_id(evaluate(app, unread, NOW))["EXA076"].status is not Status.SKIP
    # A pointer found by either id is a pointer.
    (sp,) = online.service_principals
    for other in (dataclasses.replace(sp, app_id="00000000-1111-2222-3333-444444444444"),
                  dataclasses.replace(sp, object_id="00000000-1111-2222-3333-444444444444")):  # fmt: skip
        found = by_id(evaluate(app, dataclasses.replace(online, service_principals=(other,)), NOW))
        assert found["EXA076"].status is not Status.SKIP


# --- what a check needs --------------------------------------------------------------------------------------------


def test_an_app_needs_no_get_user(online: Snapshot) -> None:
    app = exo_policy()
    before = statuses(evaluate(app, online, NOW))
    assert statuses(evaluate(app, failing(online, "Get-User", "HTTP 500"), NOW)) == before
    found = by_id(evaluate(app, failing(online, "Get-ManagementRoleAssignment", "HTTP 500"), NOW))
    assert found["EXA071"].status is Status.ERROR


def test_an_administrative_units_exa040_needs_its_members(tmp_path: Path, online: Snapshot) -> None:
    au = au_policy_in(tmp_path)
    snap = au_snapshot(online, ("ad.viseur@contoso.com", "bea.buiten@contoso.com"))
    before = statuses(evaluate(au, snap, NOW))
    found = by_id(evaluate(au, failing(snap, "Graph:administrativeUnitMembers", "HTTP 429"), NOW))
    changed = {c for c, f in found.items() if f.status is not before[c]}
    assert changed == {"EXA040", "EXA073"}
    assert found["EXA040"].status is Status.ERROR
    assert found["EXA040"].evidence == ("Graph:administrativeUnitMembers failed: HTTP 429",)
    # The same failure means nothing to an app scoped by a management scope.
    assert (
        statuses(evaluate(exo_policy(), failing(snap, "Graph:administrativeUnitMembers", "x"), NOW))["EXA040"]
        is (statuses(evaluate(exo_policy(), snap, NOW))["EXA040"])
    )


VIA_READERS = {"EXA010", "EXA013", "EXA015", "EXA020", "EXA021", "EXA030", "EXA031", "EXA032", "EXA033"}
VIA_READERS |= {"EXA034", "EXA035", "EXA040"}  # the checks whose registry entry reads Get-Group


def test_a_grant_through_a_security_group_needs_get_group(tmp_path: Path, compliant: Snapshot) -> None:
    broken = failing(compliant, "Get-Group", "Get-Group timed out")
    text = CALLPRO.read_text(encoding="utf-8")
    start, end = text.index("    roleGroup:\n"), text.index("  # Without a scope")
    path = tmp_path / "sg.yaml"
    path.write_text(text[:start] + "    securityGroup: {name: SG-CallPro}\n" + text[end:], encoding="utf-8")
    found = by_id(evaluate(load_policy(path), broken, NOW))
    errors = {c for c, f in found.items() if f.status is Status.ERROR}
    assert errors == VIA_READERS | {"EXA011", "EXA012"}
    # Through a role group, Get-Group decides only the checks that read it.
    found = by_id(evaluate(load_policy(CALLPRO), broken, NOW))
    assert {c for c, f in found.items() if f.status is Status.ERROR} == VIA_READERS


# --- data missing, a record that cannot be read --------------------------------------------------------------------


def test_a_failed_cmdlet_is_quoted_without_its_trailing_dot(policy: LoadedPolicy, compliant: Snapshot) -> None:
    found = by_id(evaluate(policy, failing(compliant, "Get-User", "The WinRM client cannot reach MBX. "), NOW))
    exa001 = found["EXA001"]
    assert exa001.status is Status.ERROR
    assert exa001.message == (
        "Cannot evaluate: Get-User failed: The WinRM client cannot reach MBX. The state is unknown (fail closed); "
        "fix collection and re-run."
    )
    assert exa001.actual == "data missing"
    assert exa001.expected == ""
    assert exa001.evidence == ("Get-User failed: The WinRM client cannot reach MBX",)
    assert exa001.remediation == ""


def test_every_failed_cmdlet_is_named(policy: LoadedPolicy, compliant: Snapshot) -> None:
    snap = failing(failing(compliant, "Get-RoleGroup", "timeout"), "Get-Group", "access denied")
    snap = dataclasses.replace(snap, calls=tuple(c for c in snap.calls if c.cmdlet != "Get-User"))
    found = by_id(evaluate(policy, snap, NOW))["EXA010"]
    assert found.message == (
        "Cannot evaluate: Get-RoleGroup failed: timeout; Get-Group failed: access denied; Get-User was not called "
        "during collection. The state is unknown (fail closed); fix collection and re-run."
    )
    assert found.evidence == (
        "Get-RoleGroup failed: timeout",
        "Get-Group failed: access denied",
        "Get-User was not called during collection",
    )


def test_an_exaudit_error_raised_by_a_check_is_its_error(
    monkeypatch: pytest.MonkeyPatch, policy: LoadedPolicy, compliant: Snapshot
) -> None:
    def unreadable(ctx: Context) -> Verdict:
        raise ExauditError(f"the stored filter of {ctx.scope_name!r} cannot be read")

    monkeypatch.setitem(engine.IMPLEMENTATIONS, "EXA060", (unreadable, "principal"))
    found = by_id(evaluate(policy, compliant, NOW))["EXA060"]
    assert found.status is Status.ERROR
    assert found.message == "Cannot evaluate: the stored filter of 'Scope-CallPro Calendar Access' cannot be read"
    assert found.actual == "error"
    assert found.location == policy.location("principal")


@pytest.mark.parametrize("status", [Status.PASS, Status.ERROR, Status.SKIP, Status.FAIL])
def test_only_a_fail_carries_its_remediation(
    monkeypatch: pytest.MonkeyPatch, policy: LoadedPolicy, compliant: Snapshot, status: Status
) -> None:
    def decided(ctx: Context) -> Verdict:
        return Verdict(status, "m", remediation="Set-OrganizationConfig -EwsEnabled $false")

    monkeypatch.setitem(engine.IMPLEMENTATIONS, "EXA060", (decided, "principal"))
    found = by_id(evaluate(policy, compliant, NOW))["EXA060"]
    assert found.status is status
    fix = "Set-OrganizationConfig -EwsEnabled $false" if status is Status.FAIL else ""
    assert found.remediation == fix


def test_any_other_exception_is_not_hidden(
    monkeypatch: pytest.MonkeyPatch, policy: LoadedPolicy, compliant: Snapshot
) -> None:
    def broken(ctx: Context) -> Verdict:
        raise KeyError("bug")

    monkeypatch.setitem(engine.IMPLEMENTATIONS, "EXA060", (broken, "principal"))
    with pytest.raises(KeyError):
        evaluate(policy, compliant, NOW)


# --- severity ------------------------------------------------------------------------------------------------------


def test_a_severity_override_beats_the_verdicts_and_the_registrys(tmp_path: Path) -> None:
    online = load(DATA / "exchange-online.snapshot.json")[0]
    september = datetime(2026, 9, 30, tzinfo=UTC)
    plain = by_id(evaluate(load_policy(CALLPRO), online, september))["EXA060"]
    assert plain.severity is Severity.HIGH  # the verdict's (the registry says high too)
    assert by_id(evaluate(load_policy(CALLPRO), online, NOW))["EXA060"].severity is Severity.CRITICAL
    low = policy_with(tmp_path, "severity: {}", "severity: {EXA060: low}")
    assert by_id(evaluate(low, online, NOW))["EXA060"].severity is Severity.LOW


# --- waivers -------------------------------------------------------------------------------------------------------

# Block style, each key on its own line, so that every key has a location of its own.
WAIVERS = "waivers:\n" + "".join(
    f"  - reason: {reason}\n    check: {check}\n    expires: {expires}\n"
    for check, reason, expires in (
        ("EXA031", "visible until migration", TODAY),
        ("EXA099", "typo", "2027-01-01"),
        ("EXA074", "wrong policy", "2027-01-01"),
        ("EXA001", "account known", TODAY),
        ("EXA060", "platform known", "2027-01-01"),
    )
)


def in_waivers(policy: LoadedPolicy, finding: Finding) -> bool:
    """Whether the finding points into the policy's waivers section (it starts at its ``waivers:`` line)."""
    assert finding.location is not None
    return finding.location.path == str(policy.path) and finding.location.line >= policy.location("waivers").line


@pytest.fixture
def waived(tmp_path: Path) -> LoadedPolicy:
    return policy_with(tmp_path, "waivers: []\n", WAIVERS, name="w.yaml")


def test_a_waiver_holds_through_its_expiry_day(waived: LoadedPolicy, policy: LoadedPolicy) -> None:
    snap = load(DATA / "group-visible.snapshot.json")[0]
    plain = by_id(evaluate(policy, snap, NOW))["EXA031"]
    assert plain.status is Status.FAIL
    found = by_id(evaluate(waived, snap, NOW))["EXA031"]
    assert found.status is Status.SKIP
    assert found.message == f"Waived until {TODAY}: visible until migration (would have been FAIL: {plain.message})"
    assert (found.expected, found.actual, found.evidence) == (plain.expected, plain.actual, plain.evidence)
    assert found.severity is plain.severity
    assert found.remediation == ""
    assert found.waived_by == "visible until migration"
    spec = CHECKS["EXA031"]
    assert (found.title, found.doc_url, found.rationale) == (spec.title, spec.doc_url, spec.rationale)
    assert found.policy == "callpro-calendar-access"
    assert in_waivers(waived, found)


def test_a_waived_finding_keeps_the_verdicts_severity(tmp_path: Path) -> None:
    online = load(DATA / "exchange-online.snapshot.json")[0]
    waived = policy_with(
        tmp_path, "waivers: []\n", "waivers:\n  - {check: EXA060, reason: moving, expires: 2027-01-01}\n"
    )
    found = by_id(evaluate(waived, online, NOW))["EXA060"]
    assert found.status is Status.SKIP
    assert found.severity is Severity.CRITICAL  # the verdict's, after 1 October 2026; the registry says high


def test_a_passing_check_waived_says_it_would_have_passed(waived: LoadedPolicy, compliant: Snapshot) -> None:
    found = by_id(evaluate(waived, compliant, NOW))["EXA060"]
    assert found.status is Status.SKIP
    assert found.message.startswith("Waived until 2027-01-01: platform known (would have been PASS: On-premises ")


def test_an_expired_waiver_is_a_finding_of_its_own(waived: LoadedPolicy) -> None:
    snap = load(DATA / "group-visible.snapshot.json")[0]
    tomorrow = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    findings = evaluate(waived, snap, tomorrow)
    exa031 = by_id(findings)["EXA031"]
    assert exa031.status is Status.FAIL
    assert exa031.waived_by is None
    assert exa031.location == waived.location("group.hiddenFromAddressLists")
    expired = [f for f in findings if f.check_id == "EXA000" and "expired" in f.message]
    assert [f.message for f in expired] == [
        f"The waiver for EXA001 expired on {TODAY} ('account known'); EXA001 is evaluated again and is PASS. "
        "Renew the waiver deliberately or remove it.",
        f"The waiver for EXA031 expired on {TODAY} ('visible until migration'); EXA031 is evaluated again and is "
        "FAIL. Renew the waiver deliberately or remove it.",
    ]
    last = expired[1]
    assert last.status is Status.FAIL
    assert last.title == "Waiver expired"
    assert last.expected == "waiver for EXA031 valid on 2026-11-27"
    assert last.actual == f"expired {TODAY}"
    assert last.remediation == "# Remove (or renew) waivers[0] (EXA031) in 'w.yaml'"
    assert in_waivers(waived, last)
    # Waiver findings first (the two waivers of checks not evaluated, sorted, after the expired ones).
    assert [f.check_id for f in findings[:4]] == ["EXA000"] * 4
    assert findings[:2] == tuple(expired)
    assert findings[4].check_id == "EXA001"


def test_the_policys_findings_come_after_its_waiver_findings(waived: LoadedPolicy, compliant: Snapshot) -> None:
    findings = evaluate(waived, compliant, NOW)
    exa000 = [n for n, f in enumerate(findings) if f.check_id == "EXA000"]
    assert exa000 == [0, 1]  # the two waivers of checks not evaluated (no waiver expired)
    assert [f.check_id for f in findings[2:]] == [c for c in ORDER if c not in APP_CHECKS]


def test_a_waiver_of_a_check_that_is_not_evaluated_waives_nothing(waived: LoadedPolicy, compliant: Snapshot) -> None:
    findings = evaluate(waived, compliant, NOW)
    app, unknown = findings[0], findings[1]  # sorted by check id
    assert (app.check_id, app.status) == (unknown.check_id, unknown.status) == ("EXA000", Status.FAIL)
    assert app.message == (
        "waivers[2] names EXA074, which applies only to an app principal (principal.app); it waives nothing."
    )
    assert unknown.message == "waivers[1] names EXA099, which is not a check exaudit knows; it waives nothing."
    assert (unknown.expected, unknown.actual) == ("a waiver for a known check", "EXA099")
    assert (app.expected, app.actual) == ("a waiver for a known check", "EXA074")
    assert unknown.remediation == "# Correct or remove waivers[1] in 'w.yaml'"
    assert app.remediation == "# Correct or remove waivers[2] in 'w.yaml'"
    assert in_waivers(waived, unknown)
    assert in_waivers(waived, app)


def test_no_waiver_hides_an_error_even_on_its_last_day(waived: LoadedPolicy, compliant: Snapshot) -> None:
    findings = evaluate(waived, failing(compliant, "Get-User", "timeout"), NOW)
    assert [f.check_id for f in findings[2:]] == [c for c in ORDER if c not in APP_CHECKS]  # and the others go on
    found = by_id(findings)["EXA001"]
    assert found.status is Status.ERROR
    assert found.message == (
        "Cannot evaluate: Get-User failed: timeout. The state is unknown (fail closed); fix collection and re-run. "
        "(waivers[3] for EXA001 does not apply: it accepts an observed deviation, not an unknown state.)"
    )
    assert found.waived_by is None
    assert found.actual == "data missing"
    assert found.location == waived.location("principal")


# --- several policies ----------------------------------------------------------------------------------------------


def test_several_policies_are_evaluated_one_after_the_other(
    waived: LoadedPolicy, policy: LoadedPolicy, compliant: Snapshot
) -> None:
    both = evaluate_all((policy, waived), compliant, NOW)
    first, second = evaluate(policy, compliant, NOW), evaluate(waived, compliant, NOW)
    assert both == first + second
    assert evaluate_all((), compliant, NOW) == ()


def test_a_waiver_finding_points_at_its_waiver(waived: LoadedPolicy, compliant: Snapshot) -> None:
    findings = evaluate(waived, compliant, datetime(2026, 11, 27, tzinfo=UTC))
    expired = [f for f in findings if f.check_id == "EXA000" and "expired" in f.message]
    assert expired[0].location == waived.location("waivers[3].expires")  # EXA001's waiver, the fourth
    assert findings[len(expired)].location == waived.location("waivers[2].check")  # EXA074's

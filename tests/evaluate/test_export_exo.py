"""`exaudit export --app-id` (audit/evaluate/export_exo.py) on Exchange Online snapshots built in Python.

The exported policy must mirror the state (evaluating it against the same snapshot finds nothing but what needs the
admin's review), keep questionable values visible as REVIEW comments, never allow a mailbox-reaching Entra grant,
and refuse what has no least-privilege setup to mirror.
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import pytest

from audit import cli
from audit import snapshot as snap
from audit.errors import CollectionError, UsageError
from audit.evaluate import evaluate
from audit.evaluate.export_exo import export_app_policy, require_pointer
from audit.findings import ExitCode
from audit.policy import LoadedPolicy, load_policy
from audit.snapshot import ManagementScope, Snapshot
from tests.evaluate.app_snapshot import (
    APP_ID,
    AU_ID,
    CANARIES,
    MEMBERS,
    NOW,
    ROLE,
    SCOPE,
    SP_ID,
    app_assignment,
    au_snapshot,
    grant,
    org,
    replace_calls,
    statuses,
)

FILLED = "canaries: [" + ", ".join(CANARIES) + "]"


def _load(tmp_path: Path, text: str, *, fill: bool = True) -> LoadedPolicy:
    path = tmp_path / "exported.yaml"
    path.write_text(text.replace("canaries: []", FILLED) if fill else text, encoding="utf-8")
    return load_policy(path)


def _not_passing(policy: LoadedPolicy, snapshot: Snapshot) -> dict[str, str]:
    return statuses(evaluate(policy, snapshot, NOW))


def test_export_of_the_compliant_app_evaluates_clean(tmp_path: Path, online: Snapshot) -> None:
    text = export_app_policy(online, APP_ID)
    spec = _load(tmp_path, text).spec
    assert spec.principal.app is not None
    assert (str(spec.principal.app.app_id), str(spec.principal.app.service_principal_id)) == (APP_ID, SP_ID)
    assert spec.principal.app.display_name == "CallPro CalendarSync"
    assert spec.grant.role == ROLE
    assert spec.grant.scope == SCOPE
    assert spec.grant.only_path
    assert spec.scope is not None
    assert spec.scope.recipient_filter.member_of_group == "SecurityGroup-CallPro Calendar Access"
    assert spec.group is not None
    assert spec.group.members.exactly is not None
    assert sorted(spec.group.members.exactly) == sorted(MEMBERS)
    assert spec.entra is not None
    assert spec.entra.allowed_app_roles == ()
    assert spec.ews is not None
    assert spec.ews.required is False
    assert spec.probes is not None
    assert spec.probes.allow == "groupMembers"
    # The same verdicts as the hand-written policies/callpro-exo.yaml on this snapshot: the state is mirrored.
    assert _not_passing(_load(tmp_path, text), online) == {"EXA014": "SKIP", "EXA073": "SKIP"}


def test_the_unfilled_export_validates_and_flags_the_canaries(tmp_path: Path, online: Snapshot) -> None:
    text = export_app_policy(online, APP_ID, name="callpro")
    policy = _load(tmp_path, text, fill=False)
    assert policy.spec.metadata.name == "callpro"
    canary_lines = text[text.index("  deny:") :]
    assert "# REVIEW" in canary_lines
    assert "canaries: []" in canary_lines


def test_a_mailbox_reaching_entra_grant_is_named_never_allowed(tmp_path: Path, online: Snapshot) -> None:
    held = dataclasses.replace(online, app_role_grants=(grant("Calendars.ReadWrite"), grant("User.Read.All")))
    text = export_app_policy(held, APP_ID)
    policy = _load(tmp_path, text)
    assert policy.spec.entra is not None
    assert [(r.resource, r.permission) for r in policy.spec.entra.allowed_app_roles] == [
        ("Microsoft Graph", "User.Read.All")
    ]
    review = next(line for line in text.splitlines() if "EVERY mailbox" in line)
    assert review.lstrip().startswith("# REVIEW")
    assert "Calendars.ReadWrite" in review
    # Mirrored, but not blessed: the union trap still fails its check.
    assert _not_passing(policy, held).get("EXA074") == "FAIL"
    only_harmless = dataclasses.replace(online, app_role_grants=(grant("User.Read.All"),))
    assert "EXA074" not in _not_passing(_load(tmp_path, export_app_policy(only_harmless, APP_ID)), only_harmless)


def test_an_unresolved_entra_grant_is_flagged(tmp_path: Path, online: Snapshot) -> None:
    held = dataclasses.replace(online, app_role_grants=(grant(""),))
    text = export_app_policy(held, APP_ID)
    assert "could not be resolved" in text
    assert _load(tmp_path, text).spec.entra is not None


@pytest.mark.parametrize("second", [None, AU_ID])
def test_an_unscoped_assignment_is_refused(online: Snapshot, second: str | None) -> None:
    unscoped = app_assignment("Application Mail.Read", custom_resource_scope=None, recipient_write_scope="Organization")
    others = online.role_assignments if second else tuple(a for a in online.role_assignments if a.role != ROLE)
    state = dataclasses.replace(online, role_assignments=(*others, unscoped))
    with pytest.raises(UsageError, match="reaches every mailbox"):
        export_app_policy(state, APP_ID)


def test_other_roles_come_after_the_calendar_role_marked_review(tmp_path: Path, online: Snapshot) -> None:
    mail = app_assignment("Application Mail.Read")
    state = dataclasses.replace(online, role_assignments=(mail, *online.role_assignments))
    text = export_app_policy(state, APP_ID)
    spec = _load(tmp_path, text).spec
    assert spec.grant.role == ROLE
    assert spec.grant.other_roles_allowed == ("Application Mail.Read",)
    assert "# REVIEW: the app holds these Application roles too" in text


def test_a_second_assignment_of_the_role_clears_only_path(tmp_path: Path, online: Snapshot) -> None:
    twin = app_assignment(name="second-calendar-assignment", identity="second-calendar-assignment")
    state = dataclasses.replace(online, role_assignments=(*online.role_assignments, twin))
    text = export_app_policy(state, APP_ID)
    assert _load(tmp_path, text).spec.grant.only_path is False
    assert '"second-calendar-assignment"' in text
    assert "# REVIEW: 1 other" in text


def test_disabled_and_other_principals_assignments_are_ignored(online: Snapshot) -> None:
    off = app_assignment("Application Mail.Read", enabled=False)
    foreign = app_assignment("Application Mail.Send", role_assignee="someone-else", role_assignee_name="someone-else")
    state = dataclasses.replace(online, role_assignments=(*online.role_assignments, off, foreign))
    assert "otherRolesAllowed: []" in export_app_policy(state, APP_ID)
    alone = dataclasses.replace(online, role_assignments=(off,))
    with pytest.raises(UsageError, match="nothing to export"):
        export_app_policy(alone, APP_ID)


def test_an_administrative_unit_scope_is_mirrored_with_its_members(tmp_path: Path, online: Snapshot) -> None:
    state = au_snapshot(online, tuple(m.upper() for m in MEMBERS))
    text = export_app_policy(state, APP_ID)
    spec = _load(tmp_path, text).spec
    assert spec.grant.administrative_unit is not None
    assert spec.scope is None
    assert spec.group is None
    assert str(spec.grant.administrative_unit.id) == AU_ID
    assert spec.grant.administrative_unit.display_name == "Field Sales"
    assert sorted(spec.grant.administrative_unit.members) == sorted(MEMBERS)
    assert spec.probes is not None
    assert sorted(spec.probes.allow) == sorted(MEMBERS)
    with pytest.raises(UsageError, match="no members"):
        export_app_policy(au_snapshot(online, ()), APP_ID)
    missing = dataclasses.replace(state, administrative_units=())
    with pytest.raises(UsageError, match="administrative unit"):
        export_app_policy(missing, APP_ID)


def test_an_opath_scope_is_exported_verbatim_with_the_mailboxes_it_selects(tmp_path: Path, online: Snapshot) -> None:
    scopes = tuple(
        dataclasses.replace(s, recipient_filter="Department -eq 'Field Sales'") if s.name == SCOPE else s
        for s in online.scopes
    )
    state = dataclasses.replace(online, scopes=scopes)
    text = export_app_policy(state, APP_ID)
    spec = _load(tmp_path, text).spec
    assert spec.scope is not None
    assert spec.scope.recipient_filter.opath == "Department -eq 'Field Sales'"
    assert spec.group is None
    assert spec.probes is not None
    assert spec.probes.allow != "groupMembers"
    missing = dataclasses.replace(online, scopes=(ManagementScope("Other", "Other", "RecipientScope", False),))
    with pytest.raises(UsageError, match="not in the collected state"):
        export_app_policy(missing, APP_ID)


def test_ews_required_mirrors_the_allow_list(tmp_path: Path, online: Snapshot) -> None:
    listed = dataclasses.replace(online, organization=org(True, (APP_ID.upper(),)))
    text = export_app_policy(listed, APP_ID)
    spec = _load(tmp_path, text).spec
    assert spec.ews is not None
    assert spec.ews.required is True
    assert "EwsAllowedAppIDs" in text
    unread = dataclasses.replace(online, organization=org(None, None))
    with pytest.raises(CollectionError, match="EwsAllowedAppIDs"):
        export_app_policy(unread, APP_ID)


def test_an_app_without_a_pointer_is_refused(online: Snapshot) -> None:
    other = "11111111-2222-4333-8444-555555555555"
    with pytest.raises(UsageError, match="no service principal"):
        export_app_policy(online, other)
    with pytest.raises(UsageError, match="no service principal"):
        require_pointer(online, other)
    # When Get-ServicePrincipal itself failed, the failed call (exit 3) is the cause to report, not a guess.
    require_pointer(replace_calls(online, "Get-ServicePrincipal", ok=False), other)


def test_a_hostile_display_name_cannot_inject_yaml(tmp_path: Path, online: Snapshot) -> None:
    evil = 'Evil"\nkind: Other # x'
    pointers = tuple(dataclasses.replace(sp, display_name=evil) for sp in online.service_principals)
    text = export_app_policy(dataclasses.replace(online, service_principals=pointers), APP_ID)
    spec = _load(tmp_path, text).spec
    assert spec.principal.app is not None
    assert spec.principal.app.display_name == evil


def _snapshot_file(tmp_path: Path, state: Snapshot) -> Path:
    path = tmp_path / "state.json"
    snap.write(state, path)
    return path


def test_export_command_with_an_app_id_from_a_snapshot(tmp_path: Path, online: Snapshot) -> None:
    out, err = io.StringIO(), io.StringIO()
    target = tmp_path / "p.yaml"
    argv = ["export", "--app-id", APP_ID, "--snapshot", str(_snapshot_file(tmp_path, online))]
    assert cli.main([*argv, "--out", str(target)], stdout=out, stderr=err) == 0, err.getvalue()
    assert cli.main(["validate", str(target)], stdout=out, stderr=err) == 0, err.getvalue()


def test_export_command_refuses_partial_state(tmp_path: Path, online: Snapshot) -> None:
    out, err = io.StringIO(), io.StringIO()
    broken = replace_calls(online, "Graph:appRoleAssignments", ok=False)
    argv = ["export", "--app-id", APP_ID, "--snapshot", str(_snapshot_file(tmp_path, broken))]
    assert cli.main(argv, stdout=out, stderr=err) == ExitCode.UNKNOWN_STATE
    assert "no policy was exported" in err.getvalue()
    assert out.getvalue() == ""


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--app-id", "not-a-guid", "--snapshot", "x.json"], "GUID"),
        (["--app-id", APP_ID], "--tenant"),
        (["--service-account", "svc@contoso.com", "--tenant", "contoso.onmicrosoft.com"], "give --app-id"),
    ],
)
def test_export_command_usage_errors(argv: list[str], message: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["export", *argv], stdout=out, stderr=err) == ExitCode.USAGE
    assert message in err.getvalue()
    assert "Traceback" not in err.getvalue()


def test_export_takes_an_app_or_a_service_account_not_both(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["export", "--app-id", APP_ID, "--service-account", "svc@contoso.com", "--snapshot", "x.json"]
    assert cli.main(argv) == ExitCode.USAGE
    assert "not allowed with" in capsys.readouterr().err

"""`exaudit migrate`: the Exchange Online policy and the printed PowerShell, from an ApplicationImpersonation policy."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from audit.cli import main
from audit.errors import UsageError
from audit.evaluate.migrate import AppIdentity, mailbox_permission_regex, migrate
from audit.policy import load_policy, reaches_mailboxes

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"
APP = AppIdentity(
    "6233fba6-0198-4277-892f-9275bf728bcc", "7c3b5a1e-2f4d-4e8a-9b61-0d2e4f6a8c91", "CallPro CalendarSync"
)
IDS = ["--app-id", APP.app_id, "--service-principal-id", APP.service_principal_id]


def test_migrating_the_seed_gives_the_shipped_exchange_online_policy(tmp_path: Path) -> None:
    result = migrate(load_policy(POLICIES / "callpro.yaml"), APP)
    path = tmp_path / "migrated.yaml"
    path.write_text(result.policy_yaml, encoding="utf-8")
    migrated = load_policy(path).spec
    shipped = load_policy(POLICIES / "callpro-exo.yaml").spec
    for part in ("principal", "grant", "scope", "group", "probes", "entra", "ews", "severity"):
        assert getattr(migrated, part) == getattr(shipped, part), part
    assert migrated.metadata.name == "callpro-calendar-access-exo"
    assert migrated.legacy is not None
    assert migrated.legacy.service_account == "svcServiceAccount@contoso.com"
    assert migrated.legacy.role_group == "CallPro Calendar Access"


def test_the_script_performs_the_move_in_microsofts_order() -> None:
    script = migrate(load_policy(POLICIES / "callpro.yaml"), APP).powershell
    steps = [
        f"New-ServicePrincipal -AppId '{APP.app_id}' -ObjectId '{APP.service_principal_id}' "
        "-DisplayName 'CallPro CalendarSync'",
        "if (-not (Get-ManagementScope -Identity 'Scope-CallPro Calendar Access' -ErrorAction SilentlyContinue)) {",
        "$dn = (Get-Group -Identity 'SecurityGroup-CallPro Calendar Access').DistinguishedName",
        "New-ManagementScope -Name 'Scope-CallPro Calendar Access' -RecipientRestrictionFilter "
        "\"MemberOfGroup -eq '$dn'\"",
        f"New-ManagementRoleAssignment -App '{APP.service_principal_id}' -Role 'Application Calendars.ReadWrite' "
        "-CustomResourceScope 'Scope-CallPro Calendar Access'",
        "Remove-MgServicePrincipalAppRoleAssignment -ServicePrincipalId $sp -AppRoleAssignmentId $grant.Id",
        "Test-ServicePrincipalAuthorization -Identity",
        "Remove-RoleGroup -Identity 'CallPro Calendar Access' -BypassSecurityGroupManagerCheck -Confirm:$false",
        "Update-MgUser -UserId 'svcServiceAccount@contoso.com' -AccountEnabled:$false",
    ]
    positions = [script.index(step) for step in steps]
    assert positions == sorted(positions)
    assert "EwsAllowedAppIDs" not in script
    numbers = [int(n) for n in re.findall(r"^# (\d+)\. ", script, flags=re.MULTILINE)]
    assert numbers == list(range(1, len(numbers) + 1))


@pytest.mark.parametrize(
    "value",
    ["Calendars.ReadWrite", "mail.read", "full_access_as_app", "Mail-Advanced.ReadWrite.All", "EWS.AccessAsApp"],
)
def test_the_script_removes_what_exaudit_calls_mailbox_reaching(value: str) -> None:
    assert re.search(mailbox_permission_regex(), value, flags=re.IGNORECASE)
    assert reaches_mailboxes(value)


@pytest.mark.parametrize("value", ["User.Read.All", "Application.Read.All", "MailTips.ReadBasic.All", "Mailer.Read"])
def test_the_script_keeps_other_permissions(value: str) -> None:
    assert not re.search(mailbox_permission_regex(), value, flags=re.IGNORECASE)
    assert not reaches_mailboxes(value)


def test_an_app_that_still_needs_ews(tmp_path: Path) -> None:
    result = migrate(load_policy(POLICIES / "callpro.yaml"), APP, keep_ews=True, permission="Calendars.Read")
    assert "-Role 'Application Calendars.Read' -CustomResourceScope" in result.powershell
    assert "-Role 'Application EWS.AccessAsApp' -CustomResourceScope" in result.powershell
    assert f"Set-OrganizationConfig -EwsEnabled $true -EwsAllowedAppIDs ((@($allowed) + '{APP.app_id}')" in (
        result.powershell
    )
    path = tmp_path / "p.yaml"
    path.write_text(result.policy_yaml, encoding="utf-8")
    spec = load_policy(path).spec
    assert spec.ews is not None
    assert spec.ews.required
    assert spec.grant.other_roles_allowed == ("Application EWS.AccessAsApp",)


def test_members_from_a_file_are_written_out(tmp_path: Path) -> None:
    # A members file must sit beside its policy; the migrated policy may be written anywhere.
    source = load_policy(POLICIES / "members-from-file.yaml")
    out = tmp_path / "exo" / "p.yaml"
    out.parent.mkdir()
    out.write_text(migrate(source, APP).policy_yaml, encoding="utf-8")
    assert load_policy(out).expected_members.exactly == source.expected_members.exactly


def test_hostile_names_stay_quoted(tmp_path: Path) -> None:
    text = (POLICIES / "callpro.yaml").read_text(encoding="utf-8")
    hostile = "Scope\u2019; Remove-Mailbox -Identity ceo -Confirm:$false; \u2019"
    path = tmp_path / "p.yaml"
    path.write_text(text.replace("Scope-CallPro Calendar Access", hostile), encoding="utf-8")
    result = migrate(load_policy(path), AppIdentity(APP.app_id, APP.service_principal_id, "Evil' # \u202e"))
    doubled = "'Scope\u2019\u2019; Remove-Mailbox -Identity ceo -Confirm:$false; \u2019\u2019'"
    assert f"-CustomResourceScope {doubled}" in result.powershell
    assert '-DisplayName "Evil\' # $([char]0x202E)"' in result.powershell
    assert "\u202e" not in result.policy_yaml
    back = tmp_path / "back.yaml"
    back.write_text(result.policy_yaml, encoding="utf-8")
    spec = load_policy(back).spec
    assert spec.grant.scope == hostile
    assert spec.principal.app is not None
    assert spec.principal.app.display_name == "Evil' # \u202e"


@pytest.mark.parametrize(
    ("policy", "app", "permission", "message"),
    [
        ("exo-rbac-for-apps.yaml", APP, None, "already for an Exchange Online app"),
        ("callpro.yaml", AppIdentity(APP.app_id, APP.app_id, "x"), None, "are the same GUID"),
        ("callpro.yaml", AppIdentity("not-a-guid", APP.service_principal_id, "x"), None, "--app-id must be a GUID"),
        ("callpro.yaml", APP, "Calendars ReadWrite; Remove-Mailbox", "--permission must be a permission name"),
    ],
)
def test_what_cannot_be_migrated(policy: str, app: AppIdentity, permission: str | None, message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        migrate(load_policy(POLICIES / policy), app, permission=permission)


def test_cli_writes_the_policy_and_prints_the_script(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    target = tmp_path / "callpro-exo.yaml"
    code = main(["migrate", str(POLICIES / "callpro.yaml"), *IDS, "--out", str(target)], out, err)
    assert code == 0, err.getvalue()
    assert out.getvalue().startswith("# 1. ") is False
    assert "New-ManagementRoleAssignment -App" in out.getvalue()
    assert load_policy(target).spec.principal.app is not None
    assert "never run" in err.getvalue()


def test_cli_without_out_prints_one_valid_policy(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["migrate", str(POLICIES / "callpro.yaml"), *IDS], out, err) == 0, err.getvalue()
    path = tmp_path / "stdout.yaml"
    path.write_text(out.getvalue(), encoding="utf-8")
    assert load_policy(path).spec.metadata.name == "callpro-calendar-access-exo"
    assert "# New-ServicePrincipal -AppId" in out.getvalue()


def test_cli_usage_errors_are_one_line() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["migrate", str(POLICIES / "callpro.yaml")], out, err) == 2
    assert err.getvalue().count("\n") == 1
    assert "--app-id and --service-principal-id" in err.getvalue()
    err = io.StringIO()
    assert main(["migrate", str(POLICIES / "exo-rbac-for-apps.yaml"), *IDS], out, err) == 2
    assert "already for an Exchange Online app" in err.getvalue()

"""`exaudit migrate` word for word (issue 14): every line of the Exchange Online policy and of the printed script.

tests/evaluate/test_migrate.py checks that the migrated policy loads and equals the shipped one and that the
script's steps come in Microsoft's order; a changed word, a lost comment or a wrong step number passed those. Here
each output is a golden file (tests/data/evaluate/migrate: regenerate with ``EXAUDIT_REGEN_GOLDEN=1`` outside CI
and review the diff), over policies that take every branch: a role group, a security group and a direct
assignment, a group filter and an OPATH one, members listed, from a file, or bounded, probes or none, severity
overrides or none. Every refusal is asserted with its whole message (it is what the admin reads).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from audit.errors import UsageError
from audit.evaluate.migrate import AppIdentity, mailbox_permission_regex, migrate
from audit.policy import LoadedPolicy, load_policy
from audit.policy.model import MAILBOX_PERMISSION_PREFIXES
from tests.gates import check_golden

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"
GOLDEN = ROOT / "tests" / "data" / "evaluate" / "migrate"
HINT = "regenerate with EXAUDIT_REGEN_GOLDEN=1 (outside CI) and review the diff"
APP = AppIdentity(
    "6233fba6-0198-4277-892f-9275bf728bcc", "7c3b5a1e-2f4d-4e8a-9b61-0d2e4f6a8c91", "CallPro CalendarSync"
)

# A direct assignment limited by an OPATH scope: no group, probes listing the addresses, severity overrides,
# no owner and no description, a second path allowed (onlyPath false).
OPATH_DIRECT = """\
apiVersion: exaudit/v1
kind: MailboxAccessPolicy
metadata:
  name: field-sales-opath
principal:
  serviceAccount: svc-opath@contoso.com
grant:
  role: applicationimpersonation
  via:
    direct: {}
  scope: Scope Field "Sales"
  onlyPath: false
scope:
  name: Scope Field "Sales"
  recipientFilter:
    opath: "Department -eq 'Field Sales' -and RecipientTypeDetails -eq 'UserMailbox'"
  recipientRoot: contoso.com/Field Sales
probes:
  allow: [ad.viseur@contoso.com, bea.buiten@contoso.com]
  deny:
    sample: 3
  operation: calendarWrite
severity:
  EXA031: low
  EXA010: high
"""

# A security group holds the assignment; the group's members are bounded (atLeast and atMost), its type, GAL
# visibility and membership are the questionable ones; no probes; a description with a quote and a line break;
# grant.scope names the scope in other case than scope.name (Exchange compares names case-insensitively).
SECURITY_GROUP = """\
apiVersion: exaudit/v1
kind: MailboxAccessPolicy
metadata:
  name: sg-bounded
  owner: "Ops \\"Desk\\""
  description: "Caf\u00e9 line one\\nline \\"two\\""
principal:
  serviceAccount: svc-sg@contoso.com
grant:
  role: ApplicationImpersonation
  via:
    securityGroup:
      name: CallPro Admins
  scope: scope-sg
scope:
  name: Scope-SG
  recipientFilter:
    memberOfGroup: Field Staff
group:
  name: Field Staff
  type: MailUniversalDistributionGroup
  hiddenFromAddressLists: false
  membershipClosed: false
  members:
    atLeast: [ad.viseur@contoso.com]
    atMost: [ad.viseur@contoso.com, bea.buiten@contoso.com]
  memberTypes: [UserMailbox, SharedMailbox]
"""

# Only a ceiling, and an empty one; probes with canaries but the group's members allowed.
EMPTY_CEILING = """\
apiVersion: exaudit/v1
kind: MailboxAccessPolicy
metadata:
  name: empty-ceiling
principal:
  serviceAccount: svc@contoso.com
grant:
  role: ApplicationImpersonation
  via:
    direct: {}
  scope: Scope-Empty
scope:
  name: Scope-Empty
  recipientFilter:
    memberOfGroup: Nobody
group:
  name: Nobody
  members:
    atMost: []
probes:
  allow: groupMembers
  deny:
    canaries: [ceo@contoso.com]
"""


def _write(tmp_path: Path, name: str, text: str) -> LoadedPolicy:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_policy(path)


def _case(case: str, tmp_path: Path) -> tuple[LoadedPolicy, dict[str, object]]:
    if case == "callpro":
        return load_policy(POLICIES / "callpro.yaml"), {}
    if case == "callpro-ews":
        # The permission as an admin may paste it: the role's prefix and blanks are dropped.
        return load_policy(POLICIES / "callpro.yaml"), {"keep_ews": True, "permission": "  Application Calendars.Read "}
    if case == "members-from-file":
        return load_policy(POLICIES / "members-from-file.yaml"), {}
    texts = {"opath-direct": OPATH_DIRECT, "security-group": SECURITY_GROUP, "empty-ceiling": EMPTY_CEILING}
    return _write(tmp_path, f"{case}.yaml", texts[case]), {}


CASES = ["callpro", "callpro-ews", "members-from-file", "opath-direct", "security-group", "empty-ceiling"]


@pytest.mark.parametrize("case", CASES)
def test_migration_matches_golden(case: str, tmp_path: Path) -> None:
    policy, options = _case(case, tmp_path)
    result = migrate(policy, APP, **options)  # type: ignore[arg-type]
    check_golden(GOLDEN / f"{case}.yaml", result.policy_yaml, HINT)
    check_golden(GOLDEN / f"{case}.ps1", result.powershell, HINT)
    # The migrated policy is one `exaudit validate` accepts, for the app, with the same scope.
    back = _write(tmp_path, "migrated.yaml", result.policy_yaml).spec
    assert back.principal.app is not None
    assert policy.spec.scope is not None
    assert back.scope is not None
    assert (back.scope.name, back.scope.recipient_filter) == (
        policy.spec.scope.name,
        policy.spec.scope.recipient_filter,
    )


def test_the_steps_are_numbered_in_order_with_and_without_ews(tmp_path: Path) -> None:
    for keep_ews, count in ((False, 7), (True, 8)):
        script = migrate(load_policy(POLICIES / "callpro.yaml"), APP, keep_ews=keep_ews).powershell
        numbers = re.findall(r"^# (\d+)\. ", script, flags=re.MULTILINE)
        assert numbers == [str(n) for n in range(1, count + 1)]
        assert "{step}" not in script
        assert script.startswith("# exaudit migrate: callpro.yaml -> Exchange Online RBAC for Applications.\n")


@pytest.mark.parametrize(("length", "kept"), [(249, 249), (250, 249), (253, 249)])
def test_a_long_name_keeps_within_the_253_characters_a_name_may_have(length: int, kept: int, tmp_path: Path) -> None:
    name = "a" * length
    policy = _write(tmp_path, "long.yaml", OPATH_DIRECT.replace("field-sales-opath", name))
    migrated = migrate(policy, APP).policy_yaml
    assert f'  name: "{"a" * kept}-exo"\n' in migrated
    assert _write(tmp_path, "back.yaml", migrated).spec.metadata.name == "a" * kept + "-exo"


def test_the_policy_header_names_the_source_file(tmp_path: Path) -> None:
    policy = _write(tmp_path, "ops # team.yaml", OPATH_DIRECT)
    text = migrate(policy, APP).policy_yaml
    assert "# Written by `exaudit migrate` from ops # team.yaml: the same scope, group and probes,\n" in text
    assert '  description: "Migrated to Exchange Online RBAC for Applications from ops # team.yaml."\n' in text


SAME = "6233FBA6-0198-4277-892F-9275BF728BCC"


@pytest.mark.parametrize(
    ("app", "message"),
    [
        (
            AppIdentity("not-a-guid", APP.service_principal_id, "x"),
            "--app-id must be a GUID such as 6233fba6-0198-4277-892f-9275bf728bcc, not 'not-a-guid'",
        ),
        (
            AppIdentity(APP.app_id, "7c3b5a1e", "x"),
            "--service-principal-id must be a GUID such as 6233fba6-0198-4277-892f-9275bf728bcc, not '7c3b5a1e'",
        ),
        (
            AppIdentity(APP.app_id, SAME, "x"),
            "--app-id and --service-principal-id are the same GUID: the service principal id is the Object ID of "
            "the Enterprise application, not the Application (client) ID",
        ),
        (AppIdentity(APP.app_id, APP.service_principal_id, " \t"), "--display-name must not be empty"),
    ],
)
def test_a_wrong_app_identity_is_refused_with_its_reason(app: AppIdentity, message: str) -> None:
    with pytest.raises(UsageError) as raised:
        migrate(load_policy(POLICIES / "callpro.yaml"), app)
    assert str(raised.value) == message


def test_a_display_name_with_text_is_accepted() -> None:
    app = AppIdentity(APP.app_id.upper(), APP.service_principal_id.upper(), " x ")
    assert "-DisplayName ' x '" in migrate(load_policy(POLICIES / "callpro.yaml"), app).powershell


@pytest.mark.parametrize(
    ("permission", "role"),
    [
        ("Mail.Read", "Application Mail.Read"),
        ("Application Mail.Read", "Application Mail.Read"),
        (" Application  Mail-Advanced_x.Read ", "Application Mail-Advanced_x.Read"),
        (None, "Application Calendars.ReadWrite"),
    ],
)
def test_the_permission_names_the_role(permission: str | None, role: str) -> None:
    script = migrate(load_policy(POLICIES / "callpro.yaml"), APP, permission=permission).powershell
    assert f"-Role '{role}' -CustomResourceScope" in script


@pytest.mark.parametrize(
    "permission",
    [
        "",
        "  ",
        "1Mail.Read",
        "Mail Read",
        "Mail.Read;",
        ".Mail",
        "Application",
        "Application Application",
        "Mail.",
        "Mail",
    ],
)
def test_a_permission_that_is_no_name_is_refused(permission: str) -> None:
    shown = permission.strip().removeprefix("Application ").strip()
    with pytest.raises(UsageError) as raised:
        migrate(load_policy(POLICIES / "callpro.yaml"), APP, permission=permission)
    assert str(raised.value) == f"--permission must be a permission name such as Calendars.ReadWrite, not {shown!r}"


def test_what_is_not_an_impersonation_setup_is_refused(tmp_path: Path) -> None:
    app_policy = load_policy(POLICIES / "exo-rbac-for-apps.yaml")
    with pytest.raises(UsageError) as raised:
        migrate(app_policy, APP)
    assert str(raised.value) == (
        f"{app_policy.path}: the policy is already for an Exchange Online app; nothing to migrate"
    )
    other_role = _write(tmp_path, "role.yaml", OPATH_DIRECT.replace("applicationimpersonation", "Mail Recipients"))
    with pytest.raises(UsageError) as raised:
        migrate(other_role, APP)
    assert str(raised.value) == (
        f"{other_role.path}: grant.role is 'Mail Recipients'; migrate moves an ApplicationImpersonation setup"
    )
    # The model refuses grant.scope without a scope section; migrate refuses it on its own too (a policy built in
    # code, not loaded).
    loaded = load_policy(POLICIES / "callpro.yaml")
    for update in ({"scope": None}, {"grant": loaded.spec.grant.model_copy(update={"scope": None})}):
        no_scope = dataclasses.replace(loaded, spec=loaded.spec.model_copy(update=update))
        with pytest.raises(UsageError) as raised:
            migrate(no_scope, APP)
        assert str(raised.value) == f"{no_scope.path}: the policy names no management scope to carry over"


def test_the_removal_pattern_is_exactly_the_mailbox_permission_classification() -> None:
    pattern = mailbox_permission_regex()
    # Prefixes ending in '.' match a permission family, the others one whole permission (audit/policy/apps.py).
    assert pattern == (
        r"^(calendars|contacts|mail\-advanced|mail|mailboxconfigitem|mailboxfolder|mailboxitem|mailboxsettings)\."
        r"|^(ews\.accessasapp|full_access_as_app|smtp\.sendasapp)$"
    )
    prefixes = sorted(p[:-1] for p in MAILBOX_PERMISSION_PREFIXES if p.endswith("."))
    whole = sorted(p for p in MAILBOX_PERMISSION_PREFIXES if not p.endswith("."))
    for prefix in prefixes:
        assert re.search(pattern, f"{prefix}.Anything")
        assert not re.search(pattern, f"{prefix}Anything")
        assert not re.search(pattern, f"x{prefix}.Read")
    for name in whole:
        assert re.search(pattern, name)
        assert not re.search(pattern, f"{name}.x")

"""Exchange Online app policies: principal.app with its entra, ews and legacy blocks and administrative units."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.errors import PolicyError
from audit.policy import load_policy, reaches_mailboxes

POLICIES = Path(__file__).parents[2] / "policies"

AU_POLICY = """\
apiVersion: exaudit/v1
kind: MailboxAccessPolicy
metadata: {name: callpro-au}
principal:
  app: {appId: 6233fba6-0198-4277-892f-9275bf728bcc, servicePrincipalId: 7c3b5a1e-2f4d-4e8a-9b61-0d2e4f6a8c91}
grant:
  role: Application Calendars.ReadWrite
  via: {direct: {}}
  administrativeUnit:
    id: 4d819ce9-9257-44a2-8e2b-1f0a3c5d7e90
    displayName: Field Sales
    members: [ad.viseur@contoso.com, Bea.Buiten@contoso.com]
entra:
  allowedAppRoles: [{resource: Microsoft Graph, permission: User.Read.All}]
ews: {required: true}
legacy: {serviceAccount: svcServiceAccount@contoso.com, roleGroup: CallPro Calendar Access}
probes:
  allow: [ad.viseur@contoso.com]
  deny: {canaries: [ceo@contoso.com]}
"""


def test_callpro_exo_is_the_seed_migrated() -> None:
    seed = load_policy(POLICIES / "callpro.yaml").spec
    spec = load_policy(POLICIES / "callpro-exo.yaml").spec
    assert spec.principal.app is not None
    assert spec.principal.app.app_id == "6233fba6-0198-4277-892f-9275bf728bcc"
    assert spec.principal.app.service_principal_id == "7c3b5a1e-2f4d-4e8a-9b61-0d2e4f6a8c91"
    assert spec.principal.app.display_name == "CallPro CalendarSync"
    assert spec.grant.role == "Application Calendars.ReadWrite"
    assert spec.grant.via.direct is not None
    assert spec.grant.scope == seed.grant.scope
    assert spec.scope == seed.scope
    assert spec.group == seed.group
    assert spec.entra is not None
    assert spec.entra.allowed_app_roles == ()
    assert spec.ews is not None
    assert spec.ews.required is False
    assert spec.probes is not None
    assert seed.probes is not None
    assert spec.probes.deny.canaries == ("ceo@contoso.com", "hr-shared@contoso.com")
    assert spec.probes.allow == "groupMembers"
    assert spec.probes.operation == "calendarRead"


def test_administrative_unit_policy_loads_without_a_scope_section(tmp_path: Path) -> None:
    path = tmp_path / "au.yaml"
    path.write_text(AU_POLICY, encoding="utf-8")
    spec = load_policy(path).spec
    assert spec.scope is None
    assert spec.grant.scope is None
    au = spec.grant.administrative_unit
    assert au is not None
    assert au.id == "4d819ce9-9257-44a2-8e2b-1f0a3c5d7e90"
    assert au.members == ("ad.viseur@contoso.com", "Bea.Buiten@contoso.com")
    assert spec.ews is not None
    assert spec.ews.required
    assert spec.legacy is not None
    assert spec.legacy.role_group == "CallPro Calendar Access"


def test_administrative_unit_members_are_unique(tmp_path: Path) -> None:
    path = tmp_path / "au.yaml"
    path.write_text(AU_POLICY.replace("Bea.Buiten@", "AD.Viseur@"), encoding="utf-8")
    with pytest.raises(PolicyError, match="listed twice") as info:
        load_policy(path)
    assert (info.value.line, info.value.column) == (12, 38)


def test_service_account_policy_still_needs_its_scope(tmp_path: Path) -> None:
    text = (POLICIES / "callpro.yaml").read_text(encoding="utf-8")
    start = text.index("\nscope:\n")
    end = text.index("\n# The group whose members")
    path = tmp_path / "no-scope.yaml"
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    with pytest.raises(PolicyError, match="no scope section") as info:
        load_policy(path)
    grant_scope_line = text[:start].splitlines().index("  scope: Scope-CallPro Calendar Access") + 1
    assert (info.value.line, info.value.column) == (grant_scope_line, 3)


@pytest.mark.parametrize(
    ("permission", "reaches"),
    [
        ("Calendars.ReadWrite", True),
        ("calendars.read", True),
        ("Calendars.ReadBasic.All", True),
        ("Mail.Read", True),
        ("full_access_as_app", True),
        ("EWS.AccessAsApp", True),
        ("MailboxSettings.ReadWrite", True),
        ("User.Read.All", False),
        ("Application.Read.All", False),
        ("Exchange.ManageAsApp", False),
        ("MailTips.ReadBasic.All", False),
    ],
)
def test_which_entra_permissions_reach_mailboxes(permission: str, reaches: bool) -> None:
    assert reaches_mailboxes(permission) is reaches

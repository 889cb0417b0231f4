"""The lab's access rules beyond filters: exclusive scopes, RecipientRoot, OU-scoped assignments (issue 9).

Exclusive scopes: "Users or USGs that aren't assigned an exclusive scope that contains the objects immediately lose
access to those objects" (https://learn.microsoft.com/powershell/module/exchangepowershell/new-managementscope).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.lab import LabError
from audit.lab.authz import Authorizer, Decision
from audit.lab.server import scenario_path
from audit.lab.tenant import Tenant, load_tenant

SVC = "svcServiceAccount"
FIELD = {"ad.viseur", "bea.buiten", "cor.veld", "dirk.dealer", "eva.expediteur", "fien.field"}


def tenant_from(tmp_path: Path, text: str, base: str = "compliant") -> Tenant:
    path = tmp_path / "t.yaml"
    path.write_text(f"extends: {scenario_path(base)}\n{text}", encoding="utf-8")
    return load_tenant(path)


def reach(tenant: Tenant, login: str = SVC) -> set[str]:
    return {m.alias for m in Authorizer(tenant).reachable_mailboxes(login)}


# -- exclusive scopes -------------------------------------------------------------------------------------


def test_exclusive_vip_takes_the_field_member_away() -> None:
    tenant = load_tenant(scenario_path("exclusive-vip"))
    auth = Authorizer(tenant)
    assert reach(tenant) == FIELD - {"dirk.dealer"}
    refused = auth.decide(SVC, "dirk.dealer@contoso.com")
    assert refused.decision is Decision.IMPERSONATE_USER_DENIED
    assert "VIP Mailboxes" in refused.reason
    assert auth.decide(SVC, "ad.viseur@contoso.com").decision is Decision.ALLOWED


def test_an_unused_exclusive_scope_also_takes_access_away_even_from_an_unscoped_assignment(tmp_path: Path) -> None:
    tenant = tenant_from(
        tmp_path,
        "scopes:\n  - {name: Execs, recipient_filter: \"Department -eq 'Executive'\", exclusive: true}\n",
        base="unscoped",
    )
    got = reach(tenant)
    assert "ceo" not in got  # the only Executive: covered by the (unused) exclusive scope
    assert {"hanna.huis", "gijs.grond", "hr-shared"} <= got  # everyone else stays reachable


def test_an_exclusive_assignment_reaches_what_its_scope_contains_and_nothing_else(tmp_path: Path) -> None:
    tenant = tenant_from(
        tmp_path,
        "scopes:\n"
        "  - {name: VIP, recipient_filter: \"Department -eq 'Executive'\", exclusive: true}\n"
        "  - {name: Finance, recipient_filter: \"Department -eq 'Finance'\", exclusive: true}\n"
        "role_assignments:\n"
        "  - {name: Svc VIP, role: ApplicationImpersonation, assignee: svcServiceAccount, scope: VIP}\n",
    )
    vip = next(a for a in tenant.role_assignments if a.name == "Svc VIP")
    assert vip.recipient_write_scope == "ExclusiveRecipientScope"  # as -ExclusiveRecipientWriteScope sets it
    assert vip.custom_recipient_write_scope == "VIP"
    # ceo through the exclusive assignment; hanna.huis (Finance) is in an exclusive scope the account lacks.
    assert reach(tenant) == FIELD | {"ceo"}


def test_a_regular_assignment_using_an_exclusive_scope_by_name_does_not_reach_it(tmp_path: Path) -> None:
    # Only ExclusiveRecipientScope assignments count inside an exclusive scope (DECOMP ManagementReporting).
    tenant = tenant_from(
        tmp_path,
        "scopes:\n  - {name: Scope-CallPro Calendar Access, exclusive: true}\n"
        "role_groups:\n  - {name: CallPro Calendar Access, roles: [{role: ApplicationImpersonation,"
        " recipient_write_scope: CustomRecipientScope}]}\n",
    )
    assert reach(tenant) == set()


def test_exclusive_recipient_scope_needs_an_exclusive_scope(tmp_path: Path) -> None:
    with pytest.raises(LabError, match="needs an exclusive scope"):
        tenant_from(
            tmp_path,
            "role_assignments:\n  - {name: X, role: ApplicationImpersonation, assignee: svcServiceAccount,"
            " scope: Scope-CallPro Calendar Access, recipient_write_scope: ExclusiveRecipientScope}\n",
        )


# -- RecipientRoot ------------------------------------------------------------------------------------------


def test_recipient_root_in_either_form_is_stored_as_a_dn_and_applied() -> None:
    canonical = load_tenant(scenario_path("recipient-root"))
    dn = load_tenant(scenario_path("recipient-root-dn"))
    assert canonical.scopes[0].recipient_root == "OU=Field Sales,DC=contoso,DC=com"
    assert dn.scopes[0].recipient_root == "OU=Staff,DC=contoso,DC=com"  # blanks around separators dropped
    assert reach(canonical) == FIELD - {"eva.expediteur", "fien.field"}  # still in CN=Users
    assert reach(dn) == FIELD  # OU=Field Sales,OU=Staff lies below OU=Staff


@pytest.mark.parametrize(
    "root",
    ["contoso.com/Field", "OU=Field,DC=contoso,DC=com", "ou=FIELD SALES ,dc=contoso,dc=com"],
)
def test_a_root_contains_only_what_lies_below_it(tmp_path: Path, root: str) -> None:
    tenant = tenant_from(
        tmp_path,
        "users:\n  - {name: Ad Viseur, ou: Field Sales}\n"
        f"scopes:\n  - {{name: Scope-CallPro Calendar Access, recipient_root: '{root}'}}\n",
    )
    # OU=Field is not a parent of OU=Field Sales; "FIELD SALES" names it in another case, with a blank.
    assert reach(tenant) == ({"ad.viseur"} if "sales" in root.lower() else set())


@pytest.mark.parametrize("root", ["fabrikam.com/Field Sales", "OU=Field Sales,DC=fabrikam,DC=com", "Field Sales"])
def test_a_root_outside_the_domain_is_refused_with_its_line(tmp_path: Path, root: str) -> None:
    with pytest.raises(LabError, match="recipient_root") as caught:
        tenant_from(tmp_path, f"scopes:\n  - {{name: Scope-CallPro Calendar Access, recipient_root: '{root}'}}\n")
    assert "t.yaml" in str(caught.value)


# -- OU-scoped assignments ------------------------------------------------------------------------------------


def test_an_ou_scoped_assignment_reaches_everyone_below_the_ou() -> None:
    tenant = load_tenant(scenario_path("ou-scoped-assignment"))
    assignment = next(
        a for a in tenant.role_assignments if a.name == "ApplicationImpersonation-CallPro Calendar Access"
    )
    assert (assignment.recipient_write_scope, assignment.custom_recipient_write_scope) == ("OU", None)
    assert assignment.recipient_ou_scope == "OU=Field Sales,DC=contoso,DC=com"
    assert reach(tenant) == FIELD | {"jet.janssen"}


def test_an_ou_scope_needs_the_ou_write_scope_alone(tmp_path: Path) -> None:
    with pytest.raises(LabError, match="recipient_write_scope OU alone"):
        tenant_from(
            tmp_path,
            "role_assignments:\n  - {name: X, role: ApplicationImpersonation, assignee: svcServiceAccount,"
            " recipient_organizational_unit_scope: contoso.com/Users, recipient_write_scope: Organization}\n",
        )


def test_exclusive_scopes_also_bind_ou_scoped_assignments(tmp_path: Path) -> None:
    tenant = tenant_from(
        tmp_path,
        "scopes:\n  - {name: VIP, recipient_filter: \"Alias -eq 'jet.janssen'\", exclusive: true}\n",
        base="ou-scoped-assignment",
    )
    assert reach(tenant) == FIELD


def test_an_exclusive_scope_without_filter_covers_everything_below_its_root(tmp_path: Path) -> None:
    tenant = tenant_from(
        tmp_path,
        "users:\n  - {name: Ad Viseur, ou: Field Sales}\n  - {name: Carla Eo, ou: Field Sales}\n"
        "scopes:\n  - {name: Field OU, recipient_root: contoso.com/Field Sales, exclusive: true}\n",
    )
    assert reach(tenant) == FIELD - {"ad.viseur"}

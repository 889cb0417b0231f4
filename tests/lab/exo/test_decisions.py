"""The lab's own access decision for apps: union(Entra roles, RBAC for Applications) with AAPs confining Entra only.

The table is the lab's reading of APPRBAC (domain/exo-2026.md 1.1, 1.3, 1.6): a reachable mailbox per scenario.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.lab.exo_authz import AppAuthorizer, AppOutcome
from audit.lab.server import list_scenarios, scenario_path
from audit.lab.tenant import Tenant, load_tenant

FIELD = {"ad.viseur", "bea.buiten", "cor.veld", "dirk.dealer", "eva.expediteur", "fien.field"}
PEOPLE = sorted(FIELD | {"ceo", "hr-shared", "jet.janssen", "gijs.grond"})

# Who the integration reaches with GET /users/{id}/calendar (what the lab answers now, propagation aside).
REACH: dict[str, set[str]] = {
    "exo-compliant": FIELD,
    "exo-legacy": set(PEOPLE),  # the tenant-wide Entra consent
    "exo-unscoped": set(PEOPLE),
    "exo-entra-calendars": set(PEOPLE),  # union: the scope no longer limits anything
    "exo-full-access-as-app": FIELD,  # an EWS grant: Graph calendars are not reached through it
    "exo-composite-role": FIELD,
    "exo-admin-unit": FIELD | {"jet.janssen"},
    "exo-widened-filter": FIELD | {"ceo"},
    "exo-ews-no-allowlist": FIELD,
    "exo-propagating": FIELD,  # the current tenant; the previous one (unscoped) answers while propagating
    "exo-throttling": FIELD,
    "exo-canary-no-mailbox": FIELD,
}


def reach(tenant: Tenant, operation: str = "calendarRead") -> set[str]:
    exo = tenant.exo
    assert exo is not None
    app = exo.app("CallPro CalendarSync")
    assert app is not None
    roles = [value for resource, value in app.entra_roles if resource == "graph"]
    authz = AppAuthorizer(tenant)
    return {p for p in PEOPLE if authz.decide(app, f"{p}@contoso.com", operation, roles).outcome is AppOutcome.ALLOWED}


def test_the_table_covers_every_exchange_online_scenario() -> None:
    assert set(REACH) == set(list_scenarios("exchange-online"))


@pytest.mark.parametrize("scenario", sorted(REACH))
def test_reach_per_scenario(scenario: str) -> None:
    assert reach(load_tenant(scenario_path(scenario))) == REACH[scenario]


def test_a_mailboxless_canary_is_404_not_a_refusal() -> None:
    tenant = load_tenant(scenario_path("exo-canary-no-mailbox"))
    exo = tenant.exo
    assert exo is not None
    app = exo.app("CallPro CalendarSync")
    assert app is not None
    decision = AppAuthorizer(tenant).decide(app, "hr-shared@contoso.com", "calendarRead", [])
    assert decision.outcome is AppOutcome.NO_MAILBOX


def test_exclusive_scopes_do_not_restrict_apps(tmp_path: Path) -> None:
    # "Exclusive management scopes don't restrict app access" (APPRBAC): an exclusive scope over the CEO changes
    # nothing for the app, and the app's own scope, even exclusive, is read as a plain filter.
    path = tmp_path / "t.yaml"
    path.write_text(
        f"extends: {scenario_path('exo-compliant')}\n"
        "scopes:\n"
        "  - {name: VIP, recipient_filter: \"Department -eq 'Executive'\", exclusive: true}\n"
        "  - {name: Scope-CallPro Calendar Access, exclusive: true}\n"
        "exchange_online:\n"
        "  app_role_assignments:\n"
        "    - {name: Execs, app: CallPro CalendarSync, role: Application Calendars.Read, scope: VIP}\n",
        encoding="utf-8",
    )
    assert reach(load_tenant(path)) == FIELD | {"ceo"}
    assert reach(load_tenant(path), "calendarWrite") == FIELD  # Calendars.Read does not write


@pytest.mark.parametrize(
    ("policies", "expected"),
    [
        # RestrictAccess to the sales office confines the Entra grant; RBAC adds the field staff on top.
        (
            "[{name: p, app: CallPro CalendarSync, access_right: RestrictAccess, group: Sales Office}]",
            FIELD | {"gijs.grond"},
        ),
        # DenyAccess for All Staff removes its members from the Entra grant only: the field staff stay (RBAC),
        # hr-shared (not in All Staff) is still reached through Entra.
        ("[{name: p, app: CallPro CalendarSync, access_right: DenyAccess, group: All Staff}]", FIELD | {"hr-shared"}),
        # Restricted to the scope's own group: the Entra grant adds nothing beyond what RBAC already grants.
        (
            "[{name: p, app: CallPro CalendarSync, access_right: RestrictAccess,"
            " group: SecurityGroup-CallPro Calendar Access}]",
            FIELD,
        ),
    ],
)
def test_access_policies_confine_only_the_entra_part(tmp_path: Path, policies: str, expected: set[str]) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        f"extends: {scenario_path('exo-entra-calendars')}\n"
        f"exchange_online:\n  application_access_policies: {policies}\n",
        encoding="utf-8",
    )
    tenant = load_tenant(path)
    assert reach(tenant) == expected
    exo = tenant.exo
    assert exo is not None
    app = exo.app("CallPro CalendarSync")
    assert app is not None
    refused = [
        p
        for p in PEOPLE
        if AppAuthorizer(tenant).decide(app, f"{p}@contoso.com", "calendarRead", ["Calendars.ReadWrite"]).outcome
        is AppOutcome.DENIED_BY_POLICY
    ]
    assert set(refused) == set(PEOPLE) - expected


def test_a_pointer_with_the_wrong_object_id_grants_nothing(tmp_path: Path) -> None:
    # ObjectId vs AppId confusion (exo-2026.md 1.9): a pointer made with other ids points at no service principal.
    path = tmp_path / "t.yaml"
    path.write_text(
        f"extends: {scenario_path('exo-compliant')}\n"
        "exchange_online:\n"
        "  apps:\n"
        "    - {name: CallPro CalendarSync, exchange_pointer: {object_id: 6233fba6-0198-4277-892f-9275bf728bcc}}\n",
        encoding="utf-8",
    )
    assert reach(load_tenant(path)) == set()


def test_bad_exchange_online_sections_name_file_and_line(tmp_path: Path) -> None:
    from audit.lab import LabError

    path = tmp_path / "t.yaml"
    path.write_text(
        f"extends: {scenario_path('exo-compliant')}\n"
        "exchange_online:\n"
        "  apps:\n"
        "    - {name: CallPro CalendarSync, entra_roles: [graph:No.Such.Role]}\n",
        encoding="utf-8",
    )
    with pytest.raises(LabError, match=r"t\.yaml:4: unknown Entra app role"):
        load_tenant(path)

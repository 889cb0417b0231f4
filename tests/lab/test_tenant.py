"""The tenant model: loading, Exchange's built-in objects, lookups, and malformed files named by file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.lab import LabError
from audit.lab.server import list_scenarios, scenario_expectations, scenario_path
from audit.lab.tenant import CalendarStore, Group, Recipient, load_tenant

BASE = scenario_path("compliant")


def test_every_scenario_loads_and_has_expectations() -> None:
    names = list_scenarios()
    assert len(names) == 35  # 23 on premises, 12 Exchange Online
    assert len(list_scenarios("exchange-online")) == 12
    for name in names:
        tenant = load_tenant(scenario_path(name))
        expect = scenario_expectations(name)
        assert expect["exit_code"] in (0, 1, 3)
        assert all(c.startswith("EXA0") for c in expect["failing"])
        assert tenant.meta["description"]


def test_builtin_rbac_objects_are_present() -> None:
    tenant = load_tenant(BASE)
    names = {a.name: a for a in tenant.role_assignments}
    delegating = names["ApplicationImpersonation-Organization Management-Delegating"]
    assert delegating.delegation == "DelegatingOrgWide"
    assert delegating.assignee_type == "RoleGroup"
    assert names["ApplicationImpersonation-Hygiene Management"].delegation == "Regular"
    scoped = names["ApplicationImpersonation-CallPro Calendar Access"]
    assert scoped.recipient_write_scope == "CustomRecipientScope"
    assert scoped.custom_recipient_write_scope == "Scope-CallPro Calendar Access"
    assert scoped.dn.startswith("CN=ApplicationImpersonation-CallPro Calendar Access,CN=Role Assignments,CN=RBAC,")
    assert tenant.role_group("View-Only Organization Management") is not None
    assert tenant.default_throttling_policy().ews_max_concurrency == 27
    assert tenant.role("ApplicationImpersonation") is not None


def test_lookup_by_every_identity_form() -> None:
    tenant = load_tenant(BASE)
    ad = tenant.resolve_recipient("ad.viseur@contoso.com")
    assert isinstance(ad, Recipient)
    assert ad.identity == "contoso.com/Users/Ad Viseur"
    assert ad.dn == "CN=Ad Viseur,CN=Users,DC=contoso,DC=com"
    for form in (
        "Ad Viseur",
        "ad.viseur",
        "AD.VISEUR@CONTOSO.COM",
        "smtp:ad.viseur@contoso.com",
        ad.dn,
        ad.guid,
        "contoso.com/Users/Ad Viseur",
        ad.sid,
        "CONTOSO\\ad.viseur",
    ):
        assert tenant.resolve(form) == ad, form
    assert tenant.by_sid(ad.sid) == ad
    fien = tenant.resolve("fien@contoso.com")  # a proxy address
    assert isinstance(fien, Recipient)
    assert fien.alias == "fien.field"
    group = tenant.group("SecurityGroup-CallPro Calendar Access")
    assert isinstance(group, Group)
    assert group.dn == "CN=SecurityGroup-CallPro Calendar Access,OU=Groups,DC=contoso,DC=com"
    assert group.group_type == "Universal, SecurityEnabled"
    assert group.dn in tenant.member_of(ad.dn)
    assert tenant.resolve("nobody@contoso.com") is None
    svc = tenant.account("svcServiceAccount@contoso.com")
    assert svc is not None
    assert svc.role == "service"


def test_calendar_store_is_per_mailbox() -> None:
    store = CalendarStore()
    item = store.create("a@contoso.com", subject="x", start="2026-01-01T10:00:00Z", end="2026-01-01T11:00:00Z")
    assert store.counts() == {"a@contoso.com": 1}
    assert not store.delete("b@contoso.com", item.item_id)
    assert store.delete("A@contoso.com", item.item_id)
    assert store.total() == 0


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("users:\n  - {name: A, bogus: 1}\n", 2, "unknown key(s) bogus"),
        ("users:\n  - {name: A\n  - b\n", 4, "malformed YAML"),
        ("users:\n  - name: A\ngroups:\n  - name: G\n    members: [nobody]\n", 4, "does not resolve"),
        ("role_groups:\n  - name: R\n    roles: [NoSuchRole]\n", 2, "unknown management role"),
        ("organisation: {}\n", 1, "unknown top-level key"),
        ("users:\n  - {name: A, type: Mailbox}\n", 2, "unknown user type"),
        ("users:\n  - {name: A, throttling_policy: P}\n", 2, "throttling policy 'P' is not defined"),
        ("users:\n  - name: A\n    name: B\n", 3, "malformed YAML"),
        ("accounts:\n  - {user: ghost}\n", 2, "is not a user"),
    ],
)
def test_malformed_tenant_names_file_and_line(tmp_path: Path, text: str, line: int, needle: str) -> None:
    path = tmp_path / "tenant.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LabError) as info:
        load_tenant(path)
    assert info.value.path == str(path)
    assert info.value.line == line, str(info.value)
    assert needle in str(info.value)
    assert str(info.value).startswith(f"{path}:{line}: ")


def test_overlay_error_names_the_overlay_file(tmp_path: Path) -> None:
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(f"extends: {BASE}\nscopes:\n  - {{name: S, colour: red}}\n", encoding="utf-8")
    with pytest.raises(LabError) as info:
        load_tenant(overlay)
    assert info.value.path == str(overlay)
    assert info.value.line == 3


def test_missing_file_and_unknown_scenario(tmp_path: Path) -> None:
    with pytest.raises(LabError, match="cannot read"):
        load_tenant(tmp_path / "absent.yaml")
    with pytest.raises(LabError, match="unknown scenario"):
        scenario_path("no-such-scenario")

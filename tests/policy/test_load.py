"""Shipped policies load; members resolve; every key and list item knows its line and column."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pydantic
import pytest

from audit.findings import Severity, SourceLocation
from audit.policy import (
    LoadedPolicy,
    MailboxAccessPolicy,
    MemberExpectation,
    Principal,
    dotted_path,
    load_policies,
    load_policy,
)

POLICIES = Path(__file__).parents[2] / "policies"
SHIPPED = sorted(POLICIES.glob("*.yaml"))
SEED_MEMBERS = frozenset(
    {
        "ad.viseur@contoso.com",
        "bea.buiten@contoso.com",
        "cor.veld@contoso.com",
        "dirk.dealer@contoso.com",
        "eva.expediteur@contoso.com",
        "fien.field@contoso.com",
    }
)


def _line_of(path: Path, startswith: str) -> int:
    """1-based number of the first line whose stripped text starts with the given text."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(n for n, text in enumerate(lines, start=1) if text.strip().startswith(startswith))


def test_there_are_shipped_policies() -> None:
    assert {p.name for p in SHIPPED} >= {"callpro.yaml", "exo-rbac-for-apps.yaml", "members-from-file.yaml"}


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_every_shipped_policy_loads(path: Path) -> None:
    policy = load_policy(path)
    assert isinstance(policy, LoadedPolicy)
    assert policy.path == path
    assert policy.spec.api_version == "exaudit/v1"
    assert policy.spec.kind == "MailboxAccessPolicy"


def test_load_policies_takes_a_directory_and_keeps_order() -> None:
    policies = load_policies([POLICIES])
    assert [p.path.name for p in policies] == [p.name for p in SHIPPED]
    assert len({p.name for p in policies}) == len(policies)


def test_callpro_is_the_seed_setup() -> None:
    policy = load_policy(POLICIES / "callpro.yaml")
    spec = policy.spec
    assert spec.metadata.name == "callpro-calendar-access"
    assert spec.principal.service_account == "svcServiceAccount@contoso.com"
    assert spec.principal.app is None
    assert spec.grant.role == "ApplicationImpersonation"
    assert spec.grant.via.role_group is not None
    assert spec.grant.via.role_group.name == "CallPro Calendar Access"
    assert spec.grant.via.role_group.exact_roles == ("ApplicationImpersonation",)
    assert spec.grant.via.role_group.exact_members == ("svcServiceAccount",)
    assert spec.grant.via.direct is None
    assert spec.grant.scope == "Scope-CallPro Calendar Access"
    assert spec.grant.only_path is True
    assert spec.grant.other_roles_allowed == ()
    assert spec.scope.name == "Scope-CallPro Calendar Access"
    assert spec.scope.recipient_filter.member_of_group == "SecurityGroup-CallPro Calendar Access"
    assert spec.scope.recipient_filter.opath is None
    assert spec.group is not None
    assert spec.group.name == "SecurityGroup-CallPro Calendar Access"
    assert spec.group.type == "MailUniversalSecurityGroup"
    assert spec.group.hidden_from_address_lists is True
    assert spec.group.membership_closed is True
    assert spec.probes is not None
    assert spec.probes.allow == "groupMembers"
    assert spec.probes.deny.canaries == ("ceo@contoso.com", "hr-shared@contoso.com")
    assert spec.probes.deny.sample == 0
    assert spec.probes.operation == "calendarRead"
    assert spec.waivers == ()
    assert spec.severity == {}
    assert policy.expected_members == MemberExpectation(
        exactly=SEED_MEMBERS, at_least=frozenset(), at_most=None, source="policy"
    )


def test_members_from_file_resolve_to_the_same_members() -> None:
    policy = load_policy(POLICIES / "members-from-file.yaml")
    assert policy.expected_members.exactly == SEED_MEMBERS
    assert policy.expected_members.source == str(POLICIES / "field-sales.txt")
    assert policy.spec.group is not None
    assert policy.spec.group.hidden_from_address_lists is True  # the secure default
    assert policy.spec.probes is not None
    assert policy.spec.probes.allow == "groupMembers"


def test_exo_rbac_for_apps() -> None:
    policy = load_policy(POLICIES / "exo-rbac-for-apps.yaml")
    spec = policy.spec
    assert spec.principal.app is not None
    assert spec.principal.app.app_id == "6233fba6-0198-4277-892f-9275bf728bcc"
    assert spec.principal.service_account is None
    assert spec.grant.role == "Application Calendars.ReadWrite"
    assert spec.grant.via.direct is not None
    assert spec.scope.recipient_filter.opath == "CustomAttribute1 -eq 'CallPro'"
    assert spec.group is None
    assert policy.expected_members.exactly is None
    assert policy.expected_members.source == "none"
    assert spec.severity == {"EXA060": Severity.HIGH}


def test_locations_of_nested_keys_and_list_items() -> None:
    path = POLICIES / "callpro.yaml"
    policy = load_policy(path)
    assert policy.location("apiVersion") == SourceLocation(str(path), _line_of(path, "apiVersion:"), 1)
    assert policy.location("group") == SourceLocation(str(path), _line_of(path, "group:"), 1)
    assert policy.location("group.hiddenFromAddressLists") == SourceLocation(
        str(path), _line_of(path, "hiddenFromAddressLists:"), 3
    )
    assert policy.location("grant.via.roleGroup.exactRoles") == SourceLocation(
        str(path), _line_of(path, "exactRoles:"), 7
    )
    # A list item points at the item's value, after "- ".
    assert policy.location("group.members.exactly[2]") == SourceLocation(
        str(path), _line_of(path, "- cor.veld@contoso.com"), 9
    )
    assert policy.location("probes.deny.canaries[1]") == SourceLocation(
        str(path), _line_of(path, "- hr-shared@contoso.com"), 9
    )


def test_locations_inside_flow_collections(tmp_path: Path) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text(
        "apiVersion: exaudit/v1\n"
        "kind: MailboxAccessPolicy\n"
        "metadata: {name: flow, owner: me@contoso.com}\n"
        "principal: {serviceAccount: svc@contoso.com}\n"
        "grant: {role: ApplicationImpersonation, via: {direct: {}}, scope: S}\n"
        "scope: {name: S, recipientFilter: {memberOfGroup: G}}\n"
        "group: {name: G, members: {exactly: [a@contoso.com, b@contoso.com]}}\n",
        encoding="utf-8",
    )
    policy = load_policy(path)
    assert policy.location("metadata.owner") == SourceLocation(str(path), 3, 24)
    assert policy.location("grant.via.direct") == SourceLocation(str(path), 5, 47)
    assert policy.location("group.members.exactly[1]") == SourceLocation(str(path), 7, 53)


def test_location_falls_back_to_nearest_parent_then_line_1() -> None:
    path = POLICIES / "callpro.yaml"
    policy = load_policy(path)
    assert policy.location("group.members.exactly[99]") == policy.location("group.members.exactly")
    assert policy.location("group.members.atLeast") == policy.location("group.members")
    assert policy.location("waivers[0].check") == policy.location("waivers")
    assert policy.location("nothing.here") == SourceLocation(str(path), 1, 1)
    assert policy.location("") == SourceLocation(str(path), 1, 1)


def test_dotted_path() -> None:
    assert dotted_path(("group", "members", "exactly", 2)) == "group.members.exactly[2]"
    assert dotted_path(("waivers", 0, "check")) == "waivers[0].check"
    assert dotted_path(()) == ""


def test_member_expectation_semantics() -> None:
    exact = MemberExpectation(exactly=frozenset({"a@x.com"}), at_least=frozenset(), at_most=None, source="policy")
    assert exact.allows("A@X.com")
    assert not exact.allows("b@x.com")
    assert exact.required == {"a@x.com"}
    ranged = MemberExpectation(
        exactly=None, at_least=frozenset({"a@x.com"}), at_most=frozenset({"a@x.com", "b@x.com"}), source="policy"
    )
    assert ranged.allows("b@x.com")
    assert not ranged.allows("c@x.com")
    assert ranged.required == {"a@x.com"}
    floor = MemberExpectation(exactly=None, at_least=frozenset({"a@x.com"}), at_most=None, source="policy")
    assert floor.allows("anyone@x.com")


def test_at_least_and_at_most_lower_cased(tmp_path: Path) -> None:
    path = tmp_path / "range.yaml"
    path.write_text(
        (POLICIES / "callpro.yaml")
        .read_text(encoding="utf-8")
        .replace(
            "    exactly:\n      - ad.viseur@contoso.com",
            "    atMost: [Bea.Buiten@Contoso.com, ad.viseur@contoso.com]\n    atLeast:\n      - AD.Viseur@contoso.com",
        )
        .replace("      - bea.buiten@contoso.com\n", "", 1)
        .replace("      - cor.veld@contoso.com\n", "")
        .replace("      - dirk.dealer@contoso.com\n", "")
        .replace("      - eva.expediteur@contoso.com\n", "")
        .replace("      - fien.field@contoso.com\n", ""),
        encoding="utf-8",
    )
    members = load_policy(path).expected_members
    assert members == MemberExpectation(
        exactly=None,
        at_least=frozenset({"ad.viseur@contoso.com"}),
        at_most=frozenset({"bea.buiten@contoso.com", "ad.viseur@contoso.com"}),
        source="policy",
    )


def test_models_are_frozen_and_take_snake_case_in_python() -> None:
    spec = load_policy(POLICIES / "callpro.yaml").spec
    with pytest.raises(pydantic.ValidationError):
        spec.kind = "x"  # type: ignore[misc]
    principal = Principal(service_account="svc@contoso.com")
    assert principal.service_account == "svc@contoso.com"
    assert Principal.model_validate({"serviceAccount": "svc@contoso.com"}) == principal
    copy = MailboxAccessPolicy.model_validate(spec.model_dump(by_alias=True))
    assert copy == spec
    assert spec.model_dump(by_alias=True)["group"]["hiddenFromAddressLists"] is True


def test_loaded_policy_is_frozen() -> None:
    policy = load_policy(POLICIES / "callpro.yaml")
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.path = Path("x")  # type: ignore[misc]


def test_direct_without_braces_means_direct(tmp_path: Path) -> None:
    path = tmp_path / "direct.yaml"
    path.write_text(
        (POLICIES / "exo-rbac-for-apps.yaml").read_text(encoding="utf-8").replace("direct: {}", "direct:"),
        encoding="utf-8",
    )
    assert load_policy(path).spec.grant.via.direct is not None


def test_waivers_parse_dates(tmp_path: Path) -> None:
    path = tmp_path / "waived.yaml"
    path.write_text(
        (POLICIES / "callpro.yaml")
        .read_text(encoding="utf-8")
        .replace("waivers: []", 'waivers:\n  - {check: EXA031, reason: "visible until migration", expires: 2027-01-31}')
        .replace("severity: {}", "severity: {EXA031: low}"),
        encoding="utf-8",
    )
    policy = load_policy(path)
    assert policy.spec.waivers[0].check == "EXA031"
    assert policy.spec.waivers[0].expires == dt.date(2027, 1, 31)
    assert policy.spec.severity == {"EXA031": Severity.LOW}
    assert policy.location("waivers[0].expires").line == _line_of(path, "- {check: EXA031")


def test_policies_are_hashable_so_they_can_key_caches(tmp_path: Path) -> None:
    first = load_policy(POLICIES / "exo-rbac-for-apps.yaml")
    second = load_policy(POLICIES / "exo-rbac-for-apps.yaml")
    assert first.spec.severity  # the dict that pydantic's own hash would choke on
    assert hash(first) == hash(second)
    assert first == second
    assert len({first, second, load_policy(POLICIES / "callpro.yaml")}) == 2


def test_same_file_twice_is_one_policy() -> None:
    policies = load_policies([POLICIES, POLICIES / "callpro.yaml"])
    assert [p.path.name for p in policies] == [p.name for p in SHIPPED]


def test_readme_lists_the_seed_names_the_lab_builds() -> None:
    # policies/README.md is the contract with the lab's compliant tenant: it must name what callpro.yaml expects.
    readme = (POLICIES / "README.md").read_text(encoding="utf-8")
    spec = load_policy(POLICIES / "callpro.yaml").spec
    assert spec.group is not None
    assert spec.probes is not None
    assert spec.grant.via.role_group is not None
    names = [
        spec.principal.service_account,
        spec.grant.via.role_group.name,
        spec.scope.name,
        spec.group.name,
        *SEED_MEMBERS,
        *spec.probes.deny.canaries,
    ]
    for name in names:
        assert f"`{name}`" in readme, name
    assert load_policy(POLICIES / "members-from-file.yaml").expected_members.exactly == SEED_MEMBERS

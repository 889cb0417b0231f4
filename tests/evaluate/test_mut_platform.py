"""EXA060 (audit.evaluate.platform): the dates around Exchange Online's EWS switch-off, the product behind a server
version, and every verdict in full.

Killed mutants of issue 14's mutation run: on the day itself the message says "today" (not "in 0 days" or
"0 days ago"), the day before "in 1 days", the day after "1 days ago"; SE starts at build 2562 and the build (not
the revision) decides; a server is out of support from the day after its end, each note said once; a missing
server list, missing organization facts, an app on-premises, an app with an EWS role, each with its whole verdict;
the severities switch on the day of the date.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from audit.evaluate import evaluate
from audit.evaluate.context import Context, Verdict
from audit.evaluate.directory import Directory
from audit.evaluate.platform import exa060, product
from audit.findings import Severity, Status
from audit.policy import LoadedPolicy, load_policy
from audit.snapshot import Snapshot, load
from tests.evaluate.app_snapshot import exo_policy, with_policy
from tests.evaluate.test_semantics import CALLPRO, DATA, NOW


@pytest.mark.parametrize(
    ("now", "phased", "off"),
    [
        (datetime(2026, 9, 30, 23, 59, tzinfo=UTC), "in 1 days", "in 183 days"),
        (datetime(2026, 10, 1, 0, 0, tzinfo=UTC), "today", "in 182 days"),
        (datetime(2026, 10, 1, 23, 59, tzinfo=UTC), "today", "in 182 days"),
        (datetime(2026, 10, 2, 12, 0, tzinfo=UTC), "1 days ago", "in 181 days"),
    ],
)
def test_the_ews_dates_are_counted_in_days_from_now(now: datetime, phased: str, off: str) -> None:
    snap = load(DATA / "exchange-online.snapshot.json")[0]
    found = next(f for f in evaluate(load_policy(CALLPRO), snap, now) if f.check_id == "EXA060")
    assert found.status is Status.FAIL
    assert (
        f"EWS is switched off tenant by tenant from 1 October 2026 ({phased}) and permanently on 1 April 2027 ({off})."
        in found.message
    )


# --- the product behind a version, and EXA060's verdicts -------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "name", "end"),
    [
        ("Version 15.2 (Build 2562.17)", "Exchange Server SE", None),  # SE RTM is build 2562
        ("Version 15.2 (Build 2561.9999)", "Exchange Server 2019", date(2025, 10, 14)),  # the build, not the revision
        ("version 15.2 (build 1544.4)", "Exchange Server 2019", date(2025, 10, 14)),
        ("Version 15.1 (Build 2507.6)", "Exchange Server 2016", date(2025, 10, 14)),
        ("Version 15.0 (Build 1497.2)", "Exchange Server 2013", date(2023, 4, 11)),
        ("Version 14.3 (Build 123.4)", "Exchange 14.3", None),
        ("Version 16.2 (Build 1.0)", "Exchange 16.2", None),
        ("Version 15.3 (Build 1.0)", "Exchange 15.3", None),
        ("15.2.1544.4", "unknown version '15.2.1544.4'", None),
    ],
)
def test_the_product_behind_an_admin_display_version(version: str, name: str, end: date | None) -> None:
    assert product(version) == (name, end)


@pytest.fixture(scope="module")
def compliant() -> Snapshot:
    return load(DATA / "compliant.snapshot.json")[0]


@pytest.fixture(scope="module")
def online() -> Snapshot:
    return load(DATA / "exchange-online.snapshot.json")[0]


def _exa060(policy: LoadedPolicy, snap: Snapshot, now: datetime = NOW) -> Verdict:
    return exa060(Context(policy=policy, snapshot=snap, directory=Directory(snap), now=now))


def _servers(snap: Snapshot, *versions: tuple[str, str]) -> Snapshot:
    (server,) = snap.servers
    return dataclasses.replace(
        snap, servers=tuple(dataclasses.replace(server, name=n, admin_display_version=v) for n, v in versions)
    )


ON_PREMISES = (
    "On-premises Exchange: ApplicationImpersonation, management scopes and EWS work as the policy describes; the "
    "Exchange Online retirement does not apply."
)


def test_on_premises_names_every_server_out_of_support_once(compliant: Snapshot) -> None:
    snap = _servers(
        compliant,
        ("EXCH01", "Version 15.2 (Build 1544.4)"),
        ("EXCH01", "Version 15.2 (Build 1544.4)"),  # read twice (two sites answered): said once
        ("EXCH02", "Version 15.0 (Build 1497.2)"),
        ("EXCH03", "Version 15.2 (Build 2562.17)"),
    )
    assert _exa060(load_policy(CALLPRO), snap) == Verdict(
        Status.PASS,
        f"{ON_PREMISES} Note: EXCH01 runs Exchange Server 2019, out of support since 14 October 2025: plan Exchange "
        "Server SE; EXCH02 runs Exchange Server 2013, out of support since 11 April 2023: plan Exchange Server SE.",
        expected="a supported access mechanism",
        actual="on-premises",
        evidence=(
            "ExchangeServer Name='EXCH01' AdminDisplayVersion='Version 15.2 (Build 1544.4)' -> Exchange Server 2019",
            "ExchangeServer Name='EXCH01' AdminDisplayVersion='Version 15.2 (Build 1544.4)' -> Exchange Server 2019",
            "ExchangeServer Name='EXCH02' AdminDisplayVersion='Version 15.0 (Build 1497.2)' -> Exchange Server 2013",
            "ExchangeServer Name='EXCH03' AdminDisplayVersion='Version 15.2 (Build 2562.17)' -> Exchange Server SE",
        ),
    )


def test_a_server_is_out_of_support_from_the_day_after_its_end(compliant: Snapshot) -> None:
    last_day = _exa060(load_policy(CALLPRO), compliant, datetime(2025, 10, 14, 23, tzinfo=UTC))
    assert last_day.message == ON_PREMISES
    next_day = _exa060(load_policy(CALLPRO), compliant, datetime(2025, 10, 15, tzinfo=UTC))
    assert "Note: EXCH01 runs Exchange Server 2019, out of support since 14 October 2025" in next_day.message


def test_without_a_server_version_on_premises_says_so(compliant: Snapshot) -> None:
    found = _exa060(load_policy(CALLPRO), dataclasses.replace(compliant, servers=()))
    assert found == Verdict(
        Status.PASS,
        f"{ON_PREMISES} (No server version was recorded.)",
        expected="a supported access mechanism",
        actual="on-premises",
    )
    supported = _servers(compliant, ("EXCH03", "Version 15.2 (Build 2562.17)"))
    assert _exa060(load_policy(CALLPRO), supported).message == ON_PREMISES


def test_without_organization_facts_exa060_is_an_error(compliant: Snapshot) -> None:
    found = _exa060(load_policy(CALLPRO), dataclasses.replace(compliant, organization=None))
    assert found == Verdict(
        Status.ERROR, "Organization facts were not collected (Get-OrganizationConfig returned nothing)."
    )


def test_the_target_platform_alone_says_exchange_online(compliant: Snapshot) -> None:
    assert compliant.organization is not None
    org = dataclasses.replace(compliant.organization, is_exchange_online=False)
    snap = dataclasses.replace(
        compliant, organization=org, target=dataclasses.replace(compliant.target, platform="Exchange-Online")
    )
    assert _exa060(load_policy(CALLPRO), snap).status is Status.FAIL


def test_a_service_account_on_exchange_online_is_told_to_move_to_an_app(online: Snapshot) -> None:
    found = _exa060(load_policy(CALLPRO), online)
    assert found == Verdict(
        Status.FAIL,
        "Exchange Online: ApplicationImpersonation was retired (role removed from February 2025) and EWS is switched "
        "off tenant by tenant from 1 October 2026 (56 days ago) and permanently on 1 April 2027 (in 126 days). Move "
        "the integration to an Entra app with RBAC for Applications (a service principal with 'Application "
        "Calendars.ReadWrite' limited by 'Scope-CallPro Calendar Access') and Microsoft Graph.",
        expected="a supported access mechanism",
        actual="service account + ApplicationImpersonation on Exchange Online (contoso.onmicrosoft.com)",
        severity=Severity.CRITICAL,
        remediation=(
            "# Register an Entra app for the integration, then in Exchange Online PowerShell:\n"
            "New-ServicePrincipal -AppId <appId> -ObjectId <enterprise-app-objectId> -DisplayName "
            "'callpro-calendar-access'\n"
            "New-ManagementRoleAssignment -App <enterprise-app-objectId> -Role 'Application Calendars.ReadWrite' "
            "-CustomResourceScope 'Scope-CallPro Calendar Access'\n"
            "Test-ServicePrincipalAuthorization -Identity <enterprise-app-objectId> -Resource <in-scope mailbox>"
        ),
    )
    assert _exa060(load_policy(CALLPRO), online, datetime(2026, 10, 1, tzinfo=UTC)).severity is Severity.CRITICAL
    assert _exa060(load_policy(CALLPRO), online, datetime(2026, 9, 30, tzinfo=UTC)).severity is Severity.HIGH


EWS = "Application EWS.AccessAsApp"


def test_an_app_with_an_ews_role_is_told_to_move_to_graph(tmp_path: Path, online: Snapshot) -> None:
    ews = with_policy(tmp_path, "role: Application Calendars.ReadWrite", f"role: {EWS}")
    found = _exa060(ews, online)
    assert found == Verdict(
        Status.FAIL,
        f"'{EWS}' is an EWS role; EWS in Exchange Online is switched off tenant by tenant from 1 October 2026 and "
        "permanently on 1 April 2027 (in 126 days). Move to Microsoft Graph with 'Application Calendars.ReadWrite' "
        "on the same scope.",
        expected="a Graph application role",
        actual=EWS,
        severity=Severity.HIGH,
        remediation="New-ManagementRoleAssignment -App <objectId> -Role 'Application Calendars.ReadWrite' "
        "-CustomResourceScope 'Scope-CallPro Calendar Access'",
    )
    assert _exa060(ews, online, datetime(2027, 4, 1, tzinfo=UTC)).severity is Severity.CRITICAL
    assert _exa060(ews, online, datetime(2027, 3, 31, 23, tzinfo=UTC)).severity is Severity.HIGH


def test_an_app_on_exchange_online_passes_and_on_premises_fails(online: Snapshot, compliant: Snapshot) -> None:
    assert _exa060(exo_policy(), online) == Verdict(
        Status.PASS,
        "Exchange Online with RBAC for Applications ('Application Calendars.ReadWrite'): the supported model.",
        expected="a supported access mechanism",
        actual="Application Calendars.ReadWrite",
    )
    assert _exa060(exo_policy(), compliant) == Verdict(
        Status.FAIL,
        "RBAC for Applications (an app principal) exists only in Exchange Online; this organization is on-premises.",
        expected="Exchange Online",
        actual="on-premises",
    )

"""The EWS endpoint driven by the real, unmodified exchangelib over loopback (Basic and NTLM, impersonation)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from exchangelib import (
    BASIC,
    IMPERSONATION,
    NTLM,
    Account,
    Build,
    CalendarItem,
    Configuration,
    Credentials,
    EWSDateTime,
    FailFast,
    FaultTolerance,
    Version,
)
from exchangelib.errors import (
    ErrorImpersonateUserDenied,
    ErrorImpersonationDenied,
    ErrorNonExistentMailbox,
    ErrorServerBusy,
    UnauthorizedError,
)
from exchangelib.folders import Calendar, Root
from exchangelib.protocol import CachingProtocol

from audit.lab.server import LabServer

UTC = EWSDateTime.from_string("2026-01-01T00:00:00Z").tzinfo
BUILD = Build(15, 2, 1544, 4)


def _config(lab: LabServer, auth: str = BASIC, *, auditor: bool = False, **kw: Any) -> Configuration:
    creds = lab.credentials
    username, password = (
        (creds.auditor_username, creds.auditor_password)
        if auditor
        else (creds.service_username, creds.service_password)
    )
    return Configuration(
        service_endpoint=lab.ews_url,
        credentials=Credentials(username, password),
        auth_type=auth,
        version=Version(build=BUILD),
        **kw,
    )


def _calendar(config: Configuration, mailbox: str) -> Calendar:
    account = Account(mailbox, config=config, access_type=IMPERSONATION, autodiscover=False)
    return Calendar.get_distinguished(root=Root.get_distinguished(account=account))


@pytest.mark.parametrize("auth", [BASIC, NTLM])
def test_impersonation_outcomes(compliant_lab: LabServer, auth: str) -> None:
    config = _config(compliant_lab, auth, max_connections=2)
    assert _calendar(config, "ad.viseur@contoso.com").name == "Calendar"
    with pytest.raises(ErrorImpersonateUserDenied):
        _calendar(config, "ceo@contoso.com")
    with pytest.raises(ErrorImpersonateUserDenied):
        _calendar(config, "hr-shared@contoso.com")
    with pytest.raises(ErrorNonExistentMailbox):
        _calendar(config, "nobody@contoso.com")
    stats = compliant_lab.stats()["ews"]
    assert stats["by_response"]["ErrorImpersonateUserDenied"] == 2
    assert stats["impersonated_without_anchor"] == 0  # exchangelib sends X-AnchorMailbox
    assert stats["by_account"] == {"svcServiceAccount": stats["requests"]}


def test_account_without_impersonation_right(compliant_lab: LabServer) -> None:
    with pytest.raises(ErrorImpersonationDenied):
        _calendar(_config(compliant_lab, auditor=True), "ad.viseur@contoso.com")


def test_wrong_password_is_401(compliant_lab: LabServer) -> None:
    config = Configuration(
        service_endpoint=compliant_lab.ews_url,
        credentials=Credentials("svcServiceAccount@contoso.com", "not-the-password"),
        auth_type=BASIC,
        version=Version(build=BUILD),
        retry_policy=FailFast(),
    )
    with pytest.raises(UnauthorizedError):
        _calendar(config, "ad.viseur@contoso.com")


def test_password_changed_scenario_gives_the_integration_a_stale_password() -> None:
    with LabServer("password-changed", basic=True) as lab:
        with pytest.raises(UnauthorizedError):
            _calendar(_config(lab), "ad.viseur@contoso.com")
        account = lab.tenant.account("svcServiceAccount")
        assert account is not None
        assert account.password != lab.credentials.service_password


@pytest.mark.parametrize("auth", [BASIC, NTLM])
def test_calendar_write_create_find_delete(compliant_lab: LabServer, auth: str) -> None:
    config = _config(compliant_lab, auth)
    account = Account("bea.buiten@contoso.com", config=config, access_type=IMPERSONATION, autodiscover=False)
    calendar = Calendar.get_distinguished(root=Root.get_distinguished(account=account))
    start = EWSDateTime(2026, 3, 2, 9, 0, tzinfo=UTC)
    item = CalendarItem(
        account=account, folder=calendar, subject="exaudit probe 1234", start=start, end=start.replace(hour=10)
    )
    item.save()
    assert compliant_lab.tenant.calendars.counts() == {"bea.buiten@contoso.com": 1}
    seen = list(calendar.view(start=start.replace(hour=0), end=start.replace(hour=23)))
    assert [i.subject for i in seen] == ["exaudit probe 1234"]
    assert seen[0].start == start
    assert calendar.all().count() == 1
    item.delete()
    assert compliant_lab.tenant.calendars.total() == 0
    ops = compliant_lab.stats()["ews"]["by_operation"]
    assert ops["CreateItem"] == 1
    assert ops["DeleteItem"] == 1


def test_auth_and_version_detection(compliant_lab: LabServer) -> None:
    # Without auth_type and version exchangelib probes with ConvertId (wire-notes B.1) and reads ServerVersionInfo.
    creds = compliant_lab.credentials
    config = Configuration(
        service_endpoint=compliant_lab.ews_url,
        credentials=Credentials(creds.service_username, creds.service_password),
    )
    account = Account("cor.veld@contoso.com", config=config, access_type=IMPERSONATION, autodiscover=False)
    assert Root.get_distinguished(account=account).name == "Root"
    assert account.protocol.auth_type == NTLM  # preferred over Basic when both are offered
    assert account.protocol.version.build == BUILD
    assert compliant_lab.stats()["ews"]["by_operation"]["ConvertId"] >= 1


def test_resolve_names_hides_hidden_recipients(compliant_lab: LabServer) -> None:
    config = _config(compliant_lab)
    account = Account("ad.viseur@contoso.com", config=config, access_type=IMPERSONATION, autodiscover=False)
    found = account.protocol.resolve_names(["Carla"])
    assert [m.email_address for m in found] == ["ceo@contoso.com"]
    hidden = account.protocol.resolve_names(["SecurityGroup-CallPro"])  # hidden from address lists
    assert [type(e).__name__ for e in hidden] == ["ErrorNameResolutionNoResults"]


def test_server_busy_over_ews_max_concurrency() -> None:
    # EWSMaxConcurrency 2 for the service account; 6 requests held in flight at once by latency.
    with LabServer("throttling", latency_ms=300, basic=True) as lab:
        lab.faults.set_throttling(next_requests=0, backoff_ms=750)
        config = _config(lab, max_connections=6, retry_policy=FailFast())
        barrier = threading.Barrier(6)
        outcomes: list[str] = []
        back_offs: list[float] = []
        lock = threading.Lock()

        def probe(address: str) -> None:
            account = Account(address, config=config, access_type=IMPERSONATION, autodiscover=False)
            barrier.wait()
            try:
                Root.get_distinguished(account=account)
                result = "ok"
            except ErrorServerBusy as exc:
                result = "busy"
                with lock:
                    back_offs.append(exc.back_off)
            with lock:
                outcomes.append(result)

        addresses = [
            f"{a}@contoso.com"
            for a in ("ad.viseur", "bea.buiten", "cor.veld", "dirk.dealer", "eva.expediteur", "fien.field")
        ]
        threads = [threading.Thread(target=probe, args=(a,)) for a in addresses]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert "busy" in outcomes
        assert "ok" in outcomes
        assert set(back_offs) == {0.75}
        assert lab.stats()["ews"]["by_response"]["ErrorServerBusy"] == outcomes.count("busy")


def test_forced_busy_is_retried_by_fault_tolerance() -> None:
    with LabServer("throttling", basic=True) as lab:  # the scenario forces ErrorServerBusy for the next 4 requests
        lab.faults.set_throttling(next_requests=2, backoff_ms=100)
        config = _config(lab, retry_policy=FaultTolerance(max_wait=30))
        assert _calendar(config, "ad.viseur@contoso.com").name == "Calendar"
        assert lab.stats()["ews"]["by_response"]["ErrorServerBusy"] == 2


def test_generated_tenant_scope() -> None:
    with LabServer("compliant", mailboxes=500, group_members=10, basic=True) as lab:
        config = _config(lab)
        assert _calendar(config, "user000009@contoso.com").name == "Calendar"
        with pytest.raises(ErrorImpersonateUserDenied):
            _calendar(config, "user000010@contoso.com")
        assert lab.stats()["mailboxes"] == 500 + 15
    CachingProtocol.clear_cache()


def test_finditem_restriction_as_the_write_probe_sweep_sends_it(compliant_lab: LabServer) -> None:
    config = _config(compliant_lab)
    account = Account("cor.veld@contoso.com", config=config, access_type=IMPERSONATION, autodiscover=False)
    calendar = Calendar.get_distinguished(root=Root.get_distinguished(account=account))
    start = EWSDateTime(2026, 4, 1, 9, 0, tzinfo=UTC)
    for subject in ("exaudit probe abc123", "Customer visit", "EXAUDIT PROBE ABC123 copy"):
        CalendarItem(account=account, folder=calendar, subject=subject, start=start, end=start.replace(hour=10)).save()
    found = sorted(i.subject for i in calendar.filter(subject__contains="abc123"))
    assert found == ["exaudit probe abc123"]  # Contains is case-sensitive unless asked otherwise
    assert sorted(i.subject for i in calendar.filter(subject__icontains="abc123")) == [
        "EXAUDIT PROBE ABC123 copy",
        "exaudit probe abc123",
    ]
    assert calendar.filter(start__gt=start).count() == 0
    assert calendar.filter(start__gte=start).count() == 3


def test_disabled_account_cannot_log_in() -> None:
    with LabServer("account-disabled", basic=True) as lab:
        config = _config(lab, retry_policy=FailFast())
        with pytest.raises(UnauthorizedError):
            _calendar(config, "ad.viseur@contoso.com")

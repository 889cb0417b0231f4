"""Identity resolution in the lab: each EWS ConnectingSID form by its own attribute, through real exchangelib.

EWS resolves PrincipalName by userPrincipalName, SID by objectSid, PrimarySmtpAddress and SmtpAddress by SMTP
address (ODX web-service-reference connectingsid.md and principalname.md; /work/shared/domain/exchange-rbac.md
8.1, wire-notes.md "Identity forms"). The upn-collision scenario gives Adriaan Viseur (outside the scope) the UPN
``ad.viseur@contoso.com``, which is the SMTP address of Ad Viseur (in scope, UPN ``adv1042@contoso.com``).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from exchangelib import BASIC, IMPERSONATION, Account, Build, Configuration, Credentials, Version
from exchangelib.account import Identity
from exchangelib.errors import ErrorImpersonateUserDenied, ErrorNonExistentMailbox, ErrorNonPrimarySmtpAddress
from exchangelib.folders import Calendar, Root
from exchangelib.properties import DistinguishedFolderId, Mailbox
from exchangelib.services import GetFolder

from audit.lab.server import LabServer, scenario_path
from audit.lab.tenant import Recipient, load_tenant

BUILD = Build(15, 2, 1544, 4)


@pytest.fixture(scope="module")
def lab() -> Iterator[LabServer]:
    with LabServer("upn-collision", basic=True) as server:
        yield server


def _user(lab: LabServer, alias: str) -> Recipient:
    found = lab.tenant.resolve_recipient(alias)
    assert found is not None
    return found


def _open(lab: LabServer, identity: Identity, mailbox: str = "ad.viseur@contoso.com") -> str:
    """Open ``mailbox``'s calendar as ``identity`` (the ConnectingSID exchangelib sends); return its owner's GUID.

    The lab answers ErrorAccessDenied when the folder's Mailbox is not the impersonated one, so a GUID back
    means that ``identity`` resolved to the owner of ``mailbox``.
    """
    creds = lab.credentials
    config = Configuration(
        service_endpoint=lab.ews_url,
        credentials=Credentials(creds.service_username, creds.service_password),
        auth_type=BASIC,
        version=Version(build=BUILD),
    )
    # The header carries exactly the form under test (exchangelib's Identity is the ConnectingSID element).
    account = Account("routing@contoso.com", config=config, access_type=IMPERSONATION, autodiscover=False)
    account.identity = identity
    folder = Calendar(
        root=Root(account=account),
        _distinguished_id=DistinguishedFolderId(id="calendar", mailbox=Mailbox(email_address=mailbox)),
    )
    (result,) = GetFolder(account=account).call(folders=[folder], additional_fields=set(), shape="IdOnly")
    if isinstance(result, Exception):
        raise result
    kind, guid, name = base64.b64decode(result.id).decode().split(":")
    assert (kind, name) == ("F", "calendar")
    return guid


def test_smtp_forms_resolve_by_address_not_by_a_colliding_upn(lab: LabServer) -> None:
    ad = _user(lab, "ad.viseur")
    assert _open(lab, Identity(primary_smtp_address="ad.viseur@contoso.com")) == ad.guid
    assert _open(lab, Identity(smtp_address="AD.VISEUR@contoso.com")) == ad.guid


def test_principal_name_resolves_by_upn_only(lab: LabServer) -> None:
    ad = _user(lab, "ad.viseur")
    assert _open(lab, Identity(upn="adv1042@contoso.com")) == ad.guid
    # The same text as a UPN is Adriaan, who is outside the scope: refused as HIM, not "no such mailbox"
    with pytest.raises(ErrorImpersonateUserDenied):
        _open(lab, Identity(upn="ad.viseur@contoso.com"))
    # Adriaan's SMTP address is nobody's UPN
    with pytest.raises(ErrorNonExistentMailbox):
        _open(lab, Identity(upn="adriaan.viseur@contoso.com"))


def test_smtp_form_does_not_fall_back_to_a_upn(lab: LabServer) -> None:
    # adv1042@contoso.com is Ad Viseur's UPN but no one's address
    with pytest.raises(ErrorNonExistentMailbox):
        _open(lab, Identity(primary_smtp_address="adv1042@contoso.com"))
    with pytest.raises(ErrorNonExistentMailbox):
        _open(lab, Identity(smtp_address="adv1042@contoso.com"))


def test_sid_form(lab: LabServer) -> None:
    ad, adriaan = _user(lab, "ad.viseur"), _user(lab, "adriaan.viseur")
    assert _open(lab, Identity(sid=ad.sid)) == ad.guid
    with pytest.raises(ErrorImpersonateUserDenied):
        _open(lab, Identity(sid=adriaan.sid))


def test_secondary_proxy_address_resolves_by_smtp_forms(lab: LabServer) -> None:
    fien = _user(lab, "fien.field")  # proxy_addresses: [fien@contoso.com] in _base.yaml
    assert _open(lab, Identity(smtp_address="fien@contoso.com"), "fien.field@contoso.com") == fien.guid
    with pytest.raises(ErrorNonExistentMailbox):
        _open(lab, Identity(upn="fien@contoso.com"))


def test_tenant_tables_are_per_attribute() -> None:
    tenant = load_tenant(scenario_path("upn-collision"))
    ad, adriaan = tenant.resolve_recipient("ad.viseur"), tenant.resolve_recipient("adriaan.viseur")
    assert ad is not None
    assert adriaan is not None
    assert ad is not adriaan
    assert tenant.by_smtp("ad.viseur@contoso.com") is ad
    assert tenant.by_smtp("smtp:AD.Viseur@Contoso.com") is ad
    assert tenant.by_upn("ad.viseur@contoso.com") is adriaan
    assert tenant.by_upn("adv1042@contoso.com") is ad
    assert tenant.by_upn("adriaan.viseur@contoso.com") is None
    assert tenant.by_smtp("adv1042@contoso.com") is None
    assert tenant.by_sid(ad.sid) is ad


def test_the_auditors_probe_sends_primary_smtp_address_and_reaches_the_right_mailboxes(lab: LabServer) -> None:
    """exaudit's prober (exchangelib Account(primary_smtp_address=...)) names each mailbox by the SMTP address the
    policy gives, in the PrimarySmtpAddress form, the form for that attribute (connectingsid.md)."""
    from audit.probe import EwsEndpoint, Prober, ProbeSettings, ProbeTarget
    from audit.snapshot import ProbeOutcome

    creds = lab.credentials
    endpoint = EwsEndpoint(
        url=lab.ews_url, username=creds.service_username, password=creds.service_password, auth="basic"
    )
    before = dict(lab.stats()["ews"]["by_identity_form"])
    prober = Prober(endpoint, ProbeSettings(concurrency=2, deadline_seconds=30, request_timeout=10))
    try:
        probes, run = prober.run(
            [
                ProbeTarget("ad.viseur@contoso.com", "allow", "groupMembers"),  # Adriaan's UPN, Ad's address
                ProbeTarget("adriaan.viseur@contoso.com", "deny", "canary"),
            ]
        )
    finally:
        prober.close()
    assert run.completed
    assert [p.outcome for p in probes] == [ProbeOutcome.ALLOWED, ProbeOutcome.DENIED]
    after = lab.stats()["ews"]["by_identity_form"]
    sent = {form: n - before.get(form, 0) for form, n in after.items() if n > before.get(form, 0)}
    assert set(sent) <= {"PrimarySmtpAddress"}
    assert sent["PrimarySmtpAddress"] >= 2


def test_primary_smtp_form_refuses_a_secondary_address(lab: LabServer) -> None:
    # ODX primarysmtpaddress.md: EWS does not take a proxy address in PrimarySmtpAddress.
    with pytest.raises(ErrorNonPrimarySmtpAddress):
        _open(lab, Identity(primary_smtp_address="fien@contoso.com"), "fien.field@contoso.com")
    fien = _user(lab, "fien.field")
    assert _open(lab, Identity(primary_smtp_address="fien.field@contoso.com"), "fien.field@contoso.com") == fien.guid

"""Get-OrganizationConfig, Get-ExchangeServer, Get-ThrottlingPolicy."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from audit.lab.cmdlets.common import _CHANGED, _CREATED, _matches_name, _text
from audit.lab.cmdlets.objects import ADCONFIG_CHAIN, ADPRESENTATION_CHAIN, SC, ExchangeObject, M, Value, mvp_string
from audit.lab.tenant import ThrottlingPolicy

if TYPE_CHECKING:
    from audit.lab.cmdlets.host import ExchangeSession


def _throttling(s: ExchangeSession, p: ThrottlingPolicy) -> ExchangeObject:
    """Get-ThrottlingPolicy output; Ews* spelling and order of the real fl (exchange-outputs.md 4.8)."""
    ews = "Unlimited" if p.ews_max_concurrency is None else str(p.ews_max_concurrency)
    props: list[tuple[str, Value]] = [
        ("ThrottlingPolicyScope", p.scope),
        ("IsServiceAccount", p.is_service_account),
        ("AnonymousMaxConcurrency", "1"),
        ("EasMaxConcurrency", "10"),
        ("EasMaxDevices", "100"),
        ("EwsMaxConcurrency", ews),
        ("EwsMaxBurst", "300000"),
        ("EwsRechargeRate", "900000"),
        ("EwsCutoffBalance", "3000000"),
        ("EwsMaxSubscriptions", "5000"),
        ("ImapMaxConcurrency", "Unlimited"),
        ("OwaMaxConcurrency", "20"),
        ("PopMaxConcurrency", "20"),
        ("PowerShellMaxConcurrency", "18"),
        ("PowerShellMaxRunspaces", "Unlimited"),
        ("MessageRateLimit", "Unlimited"),
        ("RecipientRateLimit", "Unlimited"),
        ("ForwardeeLimit", "Unlimited"),
        ("IsLegacyDefault", False),
        ("Diagnostics", None),
    ]
    tail = s.config_tail(
        p.dn, p.name, p.guid, "ms-Exch-Throttling-Policy", ("top", "msExchGenericPolicy", "msExchThrottlingPolicy")
    )
    return ExchangeObject((SC + "ThrottlingPolicy", *ADCONFIG_CHAIN), p.name, tuple(props + tail))


def _organization(s: ExchangeSession, ews_policy: bool = False) -> ExchangeObject:
    """Get-OrganizationConfig output (EWS-related settings as a default on-premises org: all Nil)."""
    org = s.org
    props: list[tuple[str, Value]] = [
        ("OrganizationId", ""),
        ("Name", org.name),
        ("Identity", org.name),
        ("Guid", uuid.UUID(org.guid)),
        ("AdminDisplayVersion", "0.20 (15.1.0.0)"),
        ("EwsAllowEntourage", None),
        ("EwsAllowList", None),
        ("EwsAllowMacOutlook", None),
        ("EwsAllowOutlook", None),
        ("EwsApplicationAccessPolicy", None),
        ("EwsBlockList", None),
        ("EwsEnabled", (None if org.ews_enabled else False) if s.tenant.exo is None else s.tenant.exo.ews_enabled),
        ("IsDehydrated", False),
        ("LegacyExchangeDN", f"/o={org.name}"),
        ("MapiHttpEnabled", True),
        ("OAuth2ClientProfileEnabled", False),
        ("DisplayName", ""),
        ("ExchangeVersion", "2.0 (15.0.0.0)"),
        ("DistinguishedName", org.config_dn),
        ("ObjectCategory", f"{org.domain}/Configuration/Schema/ms-Exch-Organization-Container"),
        ("ObjectClass", mvp_string(("top", "container", "msExchOrganizationContainer"))),
        ("WhenChanged", _CHANGED),
        ("WhenCreated", _CREATED),
        ("WhenChangedUTC", _CHANGED),
        ("WhenCreatedUTC", _CREATED),
        ("Id", org.name),
        ("OriginatingServer", org.domain_controller),
        ("IsValid", True),
        ("ObjectState", "Unchanged"),
    ]
    if s.tenant.exo is not None:
        # Read back with Get-OrganizationConfig -RetrieveEwsOperationAccessPolicy (exo-2026.md 1.8); without the
        # switch the lab leaves it null (UNVERIFIED whether EXO always sends it).
        allowed = mvp_string(s.tenant.exo.ews_allowed_app_ids) if ews_policy else None
        props.insert(props.index(("IsDehydrated", False)), ("EwsAllowedAppIDs", allowed))
    return ExchangeObject((M + "OrganizationConfig", *ADPRESENTATION_CHAIN), org.name, tuple(props))


def _server(s: ExchangeSession) -> ExchangeObject:
    """Get-ExchangeServer output; property order of the real E19 object (exchange-outputs.md 4.1)."""
    org = s.org
    dn = (
        f"CN={org.server_name},CN=Servers,CN=Exchange Administrative Group (FYDIBOHF23SPDLT),"
        f"CN=Administrative Groups,{org.config_dn}"
    )
    props: list[tuple[str, Value]] = [
        ("Name", org.server_name),
        ("Domain", org.domain),
        ("Edition", org.edition),
        (
            "ExchangeLegacyDN",
            f"/o={org.name}/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Configuration/cn=Servers"
            f"/cn={org.server_name}",
        ),
        ("Fqdn", org.server_fqdn),
        ("IsClientAccessServer", True),
        ("IsMailboxServer", True),
        ("IsE14OrLater", True),
        ("IsE15OrLater", True),
        ("OrganizationalUnit", f"{org.domain}/{org.server_name}"),
        ("AdminDisplayVersion", org.admin_display_version),
        ("Site", f"{org.domain}/Configuration/Sites/Default-First-Site-Name"),
        ("ServerRole", "Mailbox"),
        ("Identity", org.server_name),
        ("IsValid", True),
        ("ExchangeVersion", "0.1 (8.0.535.0)"),
        ("DistinguishedName", dn),
        ("Guid", uuid.uuid5(uuid.NAMESPACE_DNS, org.server_fqdn)),
        ("ObjectCategory", f"{org.domain}/Configuration/Schema/ms-Exch-Exchange-Server"),
        ("ObjectClass", mvp_string(("top", "server", "msExchExchangeServer"))),
        ("WhenChanged", _CHANGED),
        ("WhenCreated", _CREATED),
        ("WhenChangedUTC", _CHANGED),
        ("WhenCreatedUTC", _CREATED),
        ("OrganizationId", ""),
        ("Id", org.server_name),
        ("OriginatingServer", org.domain_controller),
        ("ObjectState", "Unchanged"),
    ]
    return ExchangeObject((M + "ExchangeServer", *ADPRESENTATION_CHAIN), org.server_name, tuple(props))


# -- cmdlet bodies ------------------------------------------------------------------------------------------


def _get_throttling(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    policies = list(s.tenant.throttling_policies)
    if p.get("Identity") is not None:
        wanted = _text(p["Identity"])
        policies = [x for x in policies if _matches_name(wanted, x.name, x.guid, x.dn)]
        if not policies:
            s.not_found(wanted, "ThrottlingPolicyIdParameter")
            return
    for x in policies:
        yield _throttling(s, x)


def _get_org(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    yield _organization(s, ews_policy=bool(p.get("RetrieveEwsOperationAccessPolicy")))


def _get_server(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    if p.get("Identity") is not None:
        wanted = _text(p["Identity"])
        if not _matches_name(wanted, s.org.server_name, s.org.server_fqdn):
            s.not_found(wanted, "ServerIdParameter")
            return
    yield _server(s)

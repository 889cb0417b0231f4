"""EXA060: platform facts that decide whether the audited mechanism has a future.

Exchange Online: ApplicationImpersonation retired (new assignments blocked from September 2024, role removed from
February 2025, https://techcommunity.microsoft.com/t5/exchange-team-blog/retirement-of-rbac-application-
impersonation-in-exchange-online/ba-p/4062671); EWS disabled tenant by tenant from 1 October 2026 and permanently
from 1 April 2027 (https://techcommunity.microsoft.com/blog/exchange/exchange-online-ews-your-time-is-almost-up/
4492361). Exchange Server on-premises is not affected.

Decision: on-premises, an Exchange 2016/2019 server past its end of support (14 October 2025) is reported in the
PASS message as a note, not as a FAIL: the check is about whether the access mechanism works and is supported, and
failing a least-privilege gate for the server's support status would make every such organization non-compliant
for a reason this policy cannot fix.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from audit.evaluate.context import Context, Verdict
from audit.evaluate.directory import key
from audit.evaluate.powershell import ps
from audit.findings import Severity, Status

EWS_PHASED_OFF = date(2026, 10, 1)
EWS_OFF = date(2027, 4, 1)
IMPERSONATION_REMOVED = date(2025, 2, 1)
EXCHANGE_2016_2019_END = date(2025, 10, 14)
EXCHANGE_2013_END = date(2023, 4, 11)
SE_FIRST_BUILD = 2562  # Exchange Server SE RTM is 15.2.2562.17

_VERSION = re.compile(r"Version\s+(\d+)\.(\d+)\s+\(Build\s+(\d+)\.(\d+)\)", re.IGNORECASE)


def product(version: str) -> tuple[str, date | None]:
    """The Exchange product behind an AdminDisplayVersion such as 'Version 15.2 (Build 1544.4)', and its end."""
    m = _VERSION.search(version)
    if m is None:
        return f"unknown version {version!r}", None
    major, minor, build = int(m[1]), int(m[2]), int(m[3])
    if (major, minor) == (15, 2):
        if build >= SE_FIRST_BUILD:
            return "Exchange Server SE", None
        return "Exchange Server 2019", EXCHANGE_2016_2019_END
    if (major, minor) == (15, 1):
        return "Exchange Server 2016", EXCHANGE_2016_2019_END
    if (major, minor) == (15, 0):
        return "Exchange Server 2013", EXCHANGE_2013_END
    return f"Exchange {major}.{minor}", None


def _days(now: datetime, until: date) -> str:
    days = (until - now.date()).days
    if days > 0:
        return f"in {days} days"
    if days == 0:
        return "today"
    return f"{-days} days ago"


def exa060(ctx: Context) -> Verdict:
    """Say what the platform means for this integration: retired on Exchange Online, supported on-premises."""
    org = ctx.snapshot.organization
    if org is None:
        return Verdict(Status.ERROR, "Organization facts were not collected (Get-OrganizationConfig returned nothing).")
    online = org.is_exchange_online or key(ctx.snapshot.target.platform) == "exchange-online"
    today = ctx.now.date()
    scope = ctx.scope_name
    name = ctx.policy.spec.metadata.name
    if online and not ctx.is_app:
        severity = Severity.CRITICAL if today >= EWS_PHASED_OFF else Severity.HIGH
        return Verdict(
            Status.FAIL,
            f"Exchange Online: ApplicationImpersonation was retired (role removed from February 2025) and EWS is "
            f"switched off tenant by tenant from 1 October 2026 ({_days(ctx.now, EWS_PHASED_OFF)}) and permanently on "
            f"1 April 2027 ({_days(ctx.now, EWS_OFF)}). Move the integration to an Entra app with RBAC for "
            f"Applications (a service principal with 'Application Calendars.ReadWrite' limited by '{scope}') and "
            "Microsoft Graph.",
            expected="a supported access mechanism",
            actual=f"service account + {ctx.role} on Exchange Online ({org.name})",
            severity=severity,
            remediation=(
                "# Register an Entra app for the integration, then in Exchange Online PowerShell:\n"
                f"New-ServicePrincipal -AppId <appId> -ObjectId <enterprise-app-objectId> -DisplayName {ps(name)}\n"
                "New-ManagementRoleAssignment -App <enterprise-app-objectId> -Role 'Application Calendars.ReadWrite' "
                f"-CustomResourceScope {ps(scope)}\n"
                "Test-ServicePrincipalAuthorization -Identity <enterprise-app-objectId> -Resource <in-scope mailbox>"
            ),
        )
    if online:
        if "ews" in key(ctx.role):
            severity = Severity.CRITICAL if today >= EWS_OFF else Severity.HIGH
            return Verdict(
                Status.FAIL,
                f"'{ctx.role}' is an EWS role; EWS in Exchange Online is switched off tenant by tenant from 1 October "
                f"2026 and permanently on 1 April 2027 ({_days(ctx.now, EWS_OFF)}). Move to Microsoft Graph with "
                "'Application Calendars.ReadWrite' on the same scope.",
                expected="a Graph application role",
                actual=ctx.role,
                severity=severity,
                remediation=(
                    f"New-ManagementRoleAssignment -App <objectId> -Role 'Application Calendars.ReadWrite' "
                    f"{ctx.scope_parameter} {ps(scope)}"
                ),
            )
        return Verdict(
            Status.PASS,
            f"Exchange Online with RBAC for Applications ('{ctx.role}'): the supported model.",
            expected="a supported access mechanism",
            actual=ctx.role,
        )
    if ctx.is_app:
        return Verdict(
            Status.FAIL,
            "RBAC for Applications (an app principal) exists only in Exchange Online; this "
            "organization is on-premises.",
            expected="Exchange Online",
            actual="on-premises",
        )
    notes = []
    evidence = []
    for server in ctx.snapshot.servers:
        name, end = product(server.admin_display_version)
        evidence.append(
            f"ExchangeServer Name={server.name!r} AdminDisplayVersion={server.admin_display_version!r} -> {name}"
        )
        if end is not None and today > end:
            notes.append(f"{server.name} runs {name}, out of support since {end:%d %B %Y}: plan Exchange Server SE")
    msg = (
        f"On-premises Exchange: {ctx.role}, management scopes and EWS work as the policy describes; the Exchange "
        "Online retirement does not apply."
    )
    if notes:
        msg += " Note: " + "; ".join(dict.fromkeys(notes)) + "."
    elif not ctx.snapshot.servers:
        msg += " (No server version was recorded.)"
    return Verdict(
        Status.PASS, msg, expected="a supported access mechanism", actual="on-premises", evidence=tuple(evidence)
    )

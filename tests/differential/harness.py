"""Both readings of one lab tenant: what the lab lets the service account open, and what EXA040 says is in scope.

Lab side: the lab's own EWS endpoint (``audit.lab.ews.EwsHandler``) is called for every mailbox with the GetFolder
request exchangelib sends for an impersonated calendar probe (``ExchangeImpersonation/ConnectingSID/
PrimarySmtpAddress`` = the mailbox's primary address, as ``audit.probe.ews`` builds its ``Account``), as the service
account; an answer of NoError means the lab lets the account open that mailbox (its Authorizer decided ALLOWED).

Auditor side: the lab's CmdletHost runs the collector's cmdlets for the auditing account; each output object is
written as Partial CLIXML by the lab's serializer and read back by the auditor's deserializer
(``audit.collect.psrp.fast_output_object`` + ``plain``), then ``audit.collect.collector.collect_state`` maps it into
the snapshot model, and the engine evaluates the policy. A policy whose ``probes.allow`` lists exactly the
mailboxes the lab allowed makes EXA040 PASS if and only if the auditor's effective scope is that same set (SMTP
addresses are unique across an Exchange organization, so address sets are mailbox sets).
"""

from __future__ import annotations

import dataclasses
import datetime
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit.collect.collector import collect_state
from audit.collect.interface import CmdletResult, ErrorKind
from audit.collect.psrp import fast_output_object, plain
from audit.evaluate.context import Context, grants_access
from audit.evaluate.directory import Directory, key
from audit.evaluate.engine import evaluate
from audit.findings import Finding, Status
from audit.lab.authz import IMPERSONATION_ROLE
from audit.lab.clixml import serialize
from audit.lab.cmdlets import CmdletHost, CommandCall, ErrorSpec, Output
from audit.lab.cmdlets.objects import ExchangeObject
from audit.lab.ews import EwsHandler
from audit.lab.http import Headers, LabRequest
from audit.lab.tenant import Tenant
from audit.policy.loader import NO_GROUP, LoadedPolicy
from audit.policy.model import MailboxAccessPolicy
from audit.snapshot import Snapshot, Target

NOW = datetime.datetime(2026, 12, 3, 12, 0, tzinfo=datetime.UTC)
POLICY_PATH = Path("differential.yaml")

_GET_FOLDER = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" '
    'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">'
    '<s:Header><t:RequestServerVersion Version="Exchange2016"/>'
    "<t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>{address}</t:PrimarySmtpAddress>"
    "</t:ConnectingSID></t:ExchangeImpersonation></s:Header>"
    "<s:Body><m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape>"
    '<m:FolderIds><t:DistinguishedFolderId Id="calendar"><t:Mailbox><t:EmailAddress>{address}</t:EmailAddress>'
    "</t:Mailbox></t:DistinguishedFolderId></m:FolderIds></m:GetFolder></s:Body></s:Envelope>"
)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass(frozen=True, slots=True)
class LabAnswers:
    """What the lab's EWS answered the service account's probes."""

    allowed: frozenset[str]  # primary SMTP addresses (lower case) whose calendar it opened
    has_right: bool  # False: ErrorImpersonationDenied, no effective ApplicationImpersonation at all


def lab_allowed(tenant: Tenant, service_login: str) -> LabAnswers:
    """Probe every mailbox of ``tenant`` through the lab's EWS handler as ``service_login``."""
    handler = EwsHandler(tenant)
    allowed: set[str] = set()
    denied_outright = False
    for mailbox in tenant.mailboxes():
        address = mailbox.primary_smtp or ""
        request = LabRequest(
            method="POST",
            path="/EWS/Exchange.asmx",
            query={},
            headers=Headers({"Content-Type": "text/xml; charset=utf-8", "X-AnchorMailbox": address}),
            body=_GET_FOLDER.format(address=_escape(address)).encode(),
            user=service_login,
            auth_scheme="NTLM",
            connection_id=1,
            client_address=("127.0.0.1", 1),
        )
        response = handler(request)
        if response.status == 200 and b"<m:ResponseCode>NoError</m:ResponseCode>" in response.body:
            allowed.add(address.lower())
        elif response.status == 200:
            raise AssertionError(f"unexpected EWS answer for {address}: {response.body[:300]!r}")
        elif b"ErrorImpersonationDenied" in response.body:
            # The right to impersonate at all is checked before the target (exchangeimpersonation.md, Remarks).
            denied_outright = True
    return LabAnswers(frozenset(allowed), not denied_outright)


_ROUND_TRIPS: dict[tuple[ExchangeObject, frozenset[str] | None], tuple[dict[str, Any], tuple[str, ...]]] = {}
_ROUND_TRIP_LIMIT = 50_000


def round_trip(obj: ExchangeObject, keep: frozenset[str] | None) -> tuple[dict[str, Any], tuple[str, ...]]:
    """One output object as the auditor reads it: lab CLIXML (Partial) -> auditor deserializer -> plain values.

    Memoized on the (frozen, hashable) object: the built-in roles and role assignments every tenant has are the
    same objects from one tenant to the next, and writing and reading them again is most of a tenant's cost.
    """
    cached = _ROUND_TRIPS.get((obj, keep))
    if cached is not None:
        return cached
    read = fast_output_object(serialize(obj).decode("utf-8"), keep)
    assert read is not None, "the auditor's deserializer refused the lab's object"
    result = ({str(k): plain(v) for k, v in read.adapted_properties.items()}, tuple(read.types))
    if len(_ROUND_TRIPS) >= _ROUND_TRIP_LIMIT:
        _ROUND_TRIPS.clear()
    _ROUND_TRIPS[(obj, keep)] = result
    return result


class HostRunner:
    """The collector's CmdletRunner over the lab's CmdletHost, with the Partial CLIXML round trip in between."""

    def __init__(self, tenant: Tenant, user: str) -> None:
        self.host = CmdletHost(lambda: tenant)
        self.user = user

    def run(
        self, cmdlet: str, params: Mapping[str, object], timeout: float, properties: Collection[str] | None = None
    ) -> CmdletResult:
        keep = frozenset(p.lower() for p in properties) if properties is not None else None
        call = CommandCall(cmdlet, False, [(name, value) for name, value in params.items()])
        objects: list[dict[str, Any]] = []
        type_names: list[tuple[str, ...]] = []
        errors: list[str] = []
        kind: str | None = None
        for emission in self.host.run(self.user, [[call]]):
            if isinstance(emission, Output):
                values, types = round_trip(emission.obj, keep)
                objects.append(dict(values))
                type_names.append(types)
            elif isinstance(emission, ErrorSpec):
                errors.append(emission.message)
                kind = ErrorKind.TERMINATING if emission.terminating else ErrorKind.NON_TERMINATING
        return CmdletResult(objects=objects, errors=errors, error_kind=kind, type_names=type_names)

    def close(self) -> None:
        """Nothing to release."""


def snapshot_of(tenant: Tenant, auditor: str, principal: str) -> Snapshot:
    """The snapshot ``exaudit collect`` would write for ``principal``, without probes (EXA040 reads none)."""
    state = collect_state(HostRunner(tenant, auditor), [principal])
    shared = {f.name for f in dataclasses.fields(Snapshot)}
    fields = {f.name: getattr(state, f.name) for f in dataclasses.fields(state) if f.name in shared}
    return Snapshot(
        tool_version="differential",
        collected_at="2026-12-03T12:00:00Z",
        finished_at="2026-12-03T12:00:00Z",
        target=Target(
            platform="on-premises",
            psrp_endpoint="http://127.0.0.1/PowerShell",
            ews_url="http://127.0.0.1/EWS/Exchange.asmx",
            service_account=principal,
        ),
        probes=(),
        probe_run=None,
        **fields,
    )


def policy_for(principal: str, allowed: Collection[str]) -> LoadedPolicy:
    """A policy expecting exactly ``allowed`` in scope (probes.allow), with no group section."""
    spec = MailboxAccessPolicy.model_validate(
        {
            "apiVersion": "exaudit/v1",
            "kind": "MailboxAccessPolicy",
            "metadata": {"name": "differential"},
            "principal": {"serviceAccount": principal},
            "grant": {
                "role": IMPERSONATION_ROLE,
                "via": {"direct": {}},
                "scope": "differential-no-such-scope",
                "onlyPath": False,
            },
            "scope": {"name": "differential-no-such-scope", "recipientFilter": {"opath": "Department -eq 'x'"}},
            "probes": {"allow": sorted(allowed)},
        }
    )
    return LoadedPolicy(path=POLICY_PATH, spec=spec, expected_members=NO_GROUP)


@dataclass(frozen=True, slots=True)
class Verdicts:
    """The two readings of one tenant and EXA040's finding."""

    lab: frozenset[str]
    lab_right: bool  # the lab found an effective ApplicationImpersonation (no ErrorImpersonationDenied)
    auditor_grants: bool  # the auditor found an enabled Regular ApplicationImpersonation reaching the principal
    exa040: Finding | None  # None when the auditor found no granting assignment (its effective scope is empty)

    def agree(self) -> bool:
        """Whether both find the role reaching the account, and the auditor's effective scope is the lab's set."""
        if self.auditor_grants != self.lab_right:
            return False
        if not self.auditor_grants:
            return not self.lab
        return self.exa040 is not None and self.exa040.status is Status.PASS

    def explain(self) -> str:
        """What each side said, for a failure message."""
        lab = ", ".join(sorted(self.lab)) or "nothing"
        if self.auditor_grants != self.lab_right:
            said = "ErrorImpersonationDenied (no right at all)" if not self.lab_right else "the right to impersonate"
            finds = "an enabled Regular" if self.auditor_grants else "no granting"
            return (
                f"the auditor finds {finds} ApplicationImpersonation assignment; the lab says {said}; it opens: {lab}"
            )
        if not self.auditor_grants:
            return f"the auditor finds no granting assignment (empty scope); the lab opens: {lab}"
        assert self.exa040 is not None
        evidence = "\n    ".join(self.exa040.evidence)
        return f"the lab opens: {lab}\n  EXA040 {self.exa040.status.value}: {self.exa040.message}\n    {evidence}"


def compare(
    tenant: Tenant,
    service_login: str,
    principal: str,
    auditor: str,
    timings: dict[str, float] | None = None,
    *,
    audited: Tenant | None = None,
) -> Verdicts:
    """Read ``tenant`` both ways for the service account (its EWS login and the policy's principal address).

    ``timings`` (optional) accumulates the seconds spent in each phase: lab, collect, evaluate. ``audited`` (tests of
    this harness only) is the tenant the auditor reads instead of ``tenant``.
    """
    t0 = time.perf_counter()
    answers = lab_allowed(tenant, service_login)
    lab = answers.allowed
    t1 = time.perf_counter()
    snapshot = snapshot_of(audited or tenant, auditor, principal)
    t2 = time.perf_counter()
    policy = policy_for(principal, lab)
    ctx = Context(policy=policy, snapshot=snapshot, directory=Directory(snapshot), now=NOW)
    role = key(IMPERSONATION_ROLE)
    # The auditor's own reading of whether the role reaches the principal at all (EXA010's question): without a
    # granting assignment its effective scope is empty, and EXA040 judges the scope the policy names instead.
    grants = any(key(r.assignment.role) == role and grants_access(r.assignment) for r in ctx.reaching)
    exa040 = next(f for f in evaluate(policy, snapshot, NOW) if f.check_id == "EXA040") if grants else None
    t3 = time.perf_counter()
    if timings is not None:
        for name, seconds in (("lab", t1 - t0), ("collect", t2 - t1), ("evaluate", t3 - t2)):
            timings[name] = timings.get(name, 0.0) + seconds
    return Verdicts(lab, answers.has_right, grants, exa040)

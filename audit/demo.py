"""`exaudit demo`: start the embedded lab in-process, audit it, stop it. With audit.cli the only importer of audit.lab.

A scenario whose tenant is Exchange Online (``platform: exchange-online``, every ``exo-*`` scenario) is audited over
the lab's HTTPS token service, Admin API and Graph with real msal and requests, using ``policies/callpro-exo.yaml``;
the others over PowerShell remoting and EWS with ``policies/callpro.yaml``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audit.errors import UsageError
from audit.findings import Finding
from audit.policy import LoadedPolicy
from audit.run import ProgressSink, run
from audit.snapshot import Snapshot
from audit.target.exo import ExchangeOnline
from audit.target.onprem import TargetOptions
from audit.target.tokens import AppCredential

if TYPE_CHECKING:
    from audit.lab.server import LabServer

ON_PREMISES_POLICY = "callpro.yaml"
EXCHANGE_ONLINE_POLICY = "callpro-exo.yaml"


@dataclass(frozen=True, slots=True)
class DemoResult:
    """What ``exaudit demo`` produced: the snapshot, the findings, and which lab it ran against."""

    snapshot: Snapshot
    findings: tuple[Finding, ...]
    policies: tuple[LoadedPolicy, ...]
    lab_description: str
    scenario: str


def is_exchange_online_scenario(scenario: str) -> bool:
    """Whether a lab scenario's tenant is Exchange Online (``platform: exchange-online``, the ``exo-`` scenarios)."""
    from audit.lab.server import scenario_platform  # noqa: PLC0415  (the lab is loaded for the demo only)

    return scenario_platform(scenario) == "exchange-online"


def default_policy_path(name: str = ON_PREMISES_POLICY) -> Path:
    """``policies/<name>``: shipped in the package (audit/policies) or found beside it in a checkout.

    Raises:
        UsageError: the policy is in neither place.
    """
    here = Path(__file__).resolve().parent
    for candidate in (here / "policies" / name, here.parent / "policies" / name):
        if candidate.is_file():
            return candidate
    raise UsageError(f"policies/{name} is not installed with exaudit; reinstall the package")


def demo(
    scenario: str = "compliant",
    *,
    mailboxes: int | None = None,
    progress: ProgressSink | None = None,
    policy_path: Path | None = None,
    now: dt.datetime | None = None,
) -> DemoResult:
    """Start the embedded lab in-process, audit it with the shipped policy for its platform, stop it."""
    from audit.lab.server import LabServer  # noqa: PLC0415  (the lab is loaded for the demo only)
    from audit.policy import load_policy  # noqa: PLC0415

    exo = is_exchange_online_scenario(scenario)
    policy = load_policy(policy_path or default_policy_path(EXCHANGE_ONLINE_POLICY if exo else ON_PREMISES_POLICY))
    # The demo logs on with the lab's generated passwords (NTLM); a realm configured for `lab serve` is not used.
    with LabServer(scenario=scenario, mailboxes=mailboxes, kerberos_keytab="") as lab:
        target: TargetOptions | ExchangeOnline = exo_lab_target(lab) if exo else lab_target(lab)
        snapshot, findings = run([policy], target, now or dt.datetime.now(dt.UTC), progress=progress)
        description = f"embedded lab, scenario {scenario} ({lab.base_url})"
    return DemoResult(snapshot, findings, (policy,), description, scenario)


def exo_lab_target(lab: LabServer, **overrides: Any) -> ExchangeOnline:
    """Exchange Online options for a running lab in its Exchange Online mode, with its generated app secrets."""
    creds = lab.exo_credentials
    values: dict[str, Any] = {
        "tenant": lab.tenant_id,
        "auditor": AppCredential(
            creds.auditor_client_id, secret=creds.auditor_client_secret, source="the client secret"
        ),
        "prober": AppCredential(
            creds.integration_client_id, secret=creds.integration_client_secret, source="the client secret"
        ),
        "authority_url": lab.authority_url,
        "adminapi_url": lab.adminapi_url,
        "graph_url": lab.graph_url,
        "ca_bundle": lab.ca_cert_path,
        "timeout_seconds": 30.0,
        "deadline_seconds": 120.0,
    }
    values.update(overrides)
    return ExchangeOnline(**values)


def lab_target(lab: LabServer, *, auth: str = "ntlm", **overrides: Any) -> TargetOptions:
    """TargetOptions for a running lab with its generated credentials (NTLM with message encryption by default)."""
    creds = lab.credentials
    tls = lab.ca_cert_path is not None
    values: dict[str, Any] = {
        "server": "127.0.0.1",
        "port": lab.port,
        "path": "/PowerShell",
        "scheme": "https" if tls else "http",
        "auth": auth,
        "ca_bundle": lab.ca_cert_path,
        "audit_username": creds.auditor_username,
        "audit_password": creds.auditor_password,
        "service_username": creds.service_username,
        "service_password": creds.service_password,
        "timeout_seconds": 30.0,
        "deadline_seconds": 120.0,
    }
    values.update(overrides)
    return TargetOptions(**values)

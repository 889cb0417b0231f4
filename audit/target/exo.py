"""Exchange Online as a target: the tenant, the two apps and their credentials, and the base URLs.

Two app registrations take part (docs/operations.md):

* the **auditing app** reads Exchange over the Admin API (Entra app role ``Exchange.ManageAsApp`` and, in Exchange,
  its service principal in View-Only Organization Management) and Entra over Graph (``Application.Read.All``);
* the **probing app** is the integration's own registration: only its token can prove what the integration
  reaches, because RBAC for Applications grants are not in any token (exo-2026.md §1.9, §3).

The authority, Admin API and Graph base URLs are options for the sovereign clouds (GCC High
``outlook.office365.us``, DoD ``outlook-dod.office365.us``: ScubaGear's table, exo-2026.md §5.2) and for the lab.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from audit.collect.adminapi import AdminApiRunner
from audit.collect.graph import GraphFailure, GraphReader
from audit.collect.interface import ErrorKind, TransportFailure
from audit.errors import ProbeError, UsageError
from audit.probe.graph import GraphProber
from audit.probe.interface import AfterCreate, ProbeSettings
from audit.snapshot import Target
from audit.target.tokens import EXCHANGE_RESOURCE, GRAPH_RESOURCE, AppCredential, TokenSource

PLATFORM = "exchange-online"
DEFAULT_AUTHORITY = "https://login.microsoftonline.com"
DEFAULT_ADMINAPI = "https://outlook.office365.com"
DEFAULT_GRAPH = "https://graph.microsoft.com"

_MICROSOFT_RESOURCES = {
    "outlook.office365.com", "outlook.office365.us", "outlook-dod.office365.us", "partner.outlook.cn",
    "graph.microsoft.com", "graph.microsoft.us", "dod-graph.microsoft.us", "microsoftgraph.chinacloudapi.cn",
}  # fmt: skip
"""Hosts that are their own token audience (an Admin API or Graph URL elsewhere keeps the commercial audience)."""

_TENANT = re.compile(r"^(?:[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}|[A-Za-z0-9][A-Za-z0-9.-]{0,252})$")


def resource_for(url: str, default: str) -> str:
    """The token audience for a base URL: the URL's origin for Microsoft's clouds, else ``default``."""
    parts = urllib.parse.urlsplit(url)
    host = (parts.hostname or "").lower()
    return f"https://{host}" if host in _MICROSOFT_RESOURCES else default


@dataclass(frozen=True, slots=True)
class ExchangeOnline:
    """Where the tenant is and how both apps log in; no secret shows in repr (AppCredential hides it)."""

    tenant: str
    auditor: AppCredential
    prober: AppCredential | None = None
    authority_url: str = DEFAULT_AUTHORITY
    adminapi_url: str = DEFAULT_ADMINAPI
    graph_url: str = DEFAULT_GRAPH
    exchange_resource: str = EXCHANGE_RESOURCE
    graph_resource: str = GRAPH_RESOURCE
    ca_bundle: Path | None = None
    insecure: bool = False
    timeout_seconds: float = 60.0
    concurrency: int = 8
    deadline_seconds: float = 600.0
    probe_operation: str | None = None
    sample_seed: int | None = None

    @property
    def authority(self) -> str:
        """The msal authority: the given URL when it names a tenant, else ``<authority-url>/<tenant>``."""
        parts = urllib.parse.urlsplit(self.authority_url)
        return (
            self.authority_url.rstrip("/")
            if parts.path.strip("/")
            else f"{self.authority_url.rstrip('/')}/{self.tenant}"
        )

    @property
    def cert_validation(self) -> bool | str:
        """TLS verification for every client: a CA bundle, the system store, or off (--insecure)."""
        if self.insecure:
            return False
        return str(self.ca_bundle) if self.ca_bundle is not None else True

    def validate(self) -> None:
        """Refuse options that cannot work or would publish a credential (one line, exit 2).

        Raises:
            UsageError: no tenant or client id, a non-https URL, credentials in a URL.
        """
        if not self.tenant or not _TENANT.match(self.tenant):
            raise UsageError(
                "--tenant (or EXAUDIT_TENANT) must be the tenant id or its initial domain (contoso.onmicrosoft.com)"
            )
        if not self.auditor.client_id:
            raise UsageError("--client-id (or EXAUDIT_CLIENT_ID) is required: the auditing app's application id")
        if not (self.auditor.secret or self.auditor.uses_certificate):
            raise UsageError(
                "the auditing app needs a credential: --client-cert and --client-key (PEM), or the secret in "
                "EXAUDIT_CLIENT_SECRET or --client-secret-file (never on the command line)"
            )
        for flag, url in (
            ("--authority-url", self.authority_url),
            ("--adminapi-url", self.adminapi_url),
            ("--graph-url", self.graph_url),
        ):
            parts = urllib.parse.urlsplit(url)
            if parts.scheme != "https" or not parts.hostname:
                raise UsageError(f"{flag} must be an https URL with a host (msal and bearer tokens need TLS)")
            if parts.username is not None or parts.password is not None:
                raise UsageError(f"{flag} holds credentials; secrets come from the environment or a file")

    def describe(self, principal: str) -> Target:
        """The snapshot's Target: endpoints by role, never a credential."""
        invoke = f"{self.adminapi_url.rstrip('/')}/adminapi/beta/{self.tenant}/InvokeCommand"
        return Target(
            platform=PLATFORM,
            psrp_endpoint=invoke,
            ews_url=self.graph_url.rstrip("/"),
            service_account=principal,
            endpoints={"authority": self.authority, "adminapi": invoke, "graph": self.graph_url.rstrip("/")},
        )

    def auditor_tokens(self) -> TokenSource:
        """The auditing app's token source (one msal app, cached tokens per resource)."""
        return TokenSource(
            self.authority,
            self.auditor,
            what="auditing app",
            verify=self.cert_validation,
            timeout=min(30.0, self.timeout_seconds),
        )

    def runner(self, tokens: TokenSource) -> AdminApiRunner:
        """The InvokeCommand runner; a token failure stops the collection (the remaining calls are not attempted)."""

        def token() -> str:
            return tokens.token(self.exchange_resource, lambda m: TransportFailure(m, ErrorKind.AUTH, fatal=True))

        return AdminApiRunner(self.adminapi_url, self.tenant, token, verify=self.cert_validation)

    def graph(self, tokens: TokenSource) -> GraphReader:
        """The Graph reader for the Entra side."""

        def token() -> str:
            return tokens.token(self.graph_resource, lambda m: GraphFailure(m, ErrorKind.AUTH, fatal=True))

        return GraphReader(self.graph_url, token, verify=self.cert_validation, timeout=self.timeout_seconds)

    def prober_tokens(self) -> TokenSource:
        """The probing (integration) app's token source.

        Raises:
            ProbeError: no credentials for the probing app were given.
        """
        if self.prober is None:
            raise ProbeError(
                "no credentials for the integration's app: give --probe-client-id and its secret in "
                "EXAUDIT_PROBE_CLIENT_SECRET or --probe-client-secret-file (or --probe-client-cert/--probe-client-key)"
            )
        return TokenSource(
            self.authority,
            self.prober,
            what="probing app",
            verify=self.cert_validation,
            timeout=min(30.0, self.timeout_seconds),
        )

    def graph_prober(
        self, tokens: TokenSource, settings: ProbeSettings, *, after_create: AfterCreate | None = None
    ) -> GraphProber:
        """The Graph prober; its token is acquired once when the run starts."""

        def token() -> str:
            return tokens.token(self.graph_resource, ProbeError)

        return GraphProber(self.graph_url, token, settings, verify=self.cert_validation, after_create=after_create)

    def secrets(self) -> tuple[str, ...]:
        """Every secret value in these options (tests grep outputs for them)."""
        return self.auditor.secrets() + (self.prober.secrets() if self.prober is not None else ())


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every secret replaced (defence in depth: messages are built without secrets already)."""
    for s in secrets:
        if s:
            text = text.replace(s, "********")
    return text

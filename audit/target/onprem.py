"""Exchange on premises as a target: where PowerShell remoting and EWS are, and how to log in to them.

Moved here from ``audit.run`` (no behaviour change); ``audit.run`` re-exports the names.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from audit.collect.psrp import AUTH_METHODS, DEFAULT_POOLS
from audit.errors import UsageError

DEFAULT_CONCURRENCY = 8
PLATFORM = "on-premises"


@dataclass(frozen=True, slots=True)
class TargetOptions:
    """Where to audit and how to log in; the passwords never show in repr and are never written anywhere."""

    server: str
    port: int
    path: str = "/PowerShell"
    scheme: str = "https"  # http | https
    auth: str = "kerberos"  # kerberos | negotiate | ntlm | basic | certificate
    ca_bundle: Path | None = None
    insecure: bool = False
    ews_url: str | None = None
    audit_username: str = ""
    audit_password: str | None = field(default=None, repr=False)
    service_username: str = ""
    service_password: str | None = field(default=None, repr=False)
    timeout_seconds: float = 60.0
    concurrency: int = DEFAULT_CONCURRENCY
    deadline_seconds: float = 600.0
    probe_operation: str | None = None  # None: as each policy says; "calendarRead" | "calendarWrite"
    sample_seed: int | None = None
    client_cert: Path | None = None  # --auth certificate
    client_key: Path | None = None
    max_reply_mib: float = 64.0  # per PowerShell remoting reply (--max-reply-mib)
    psrp_pools: int = DEFAULT_POOLS  # PowerShell sessions collecting at once (--psrp-pools; 1: one call at a time)
    max_ews_reply_mib: float = 8.0  # per EWS reply (--max-ews-reply-mib)
    spn_host: str | None = None  # Kerberos: HTTP/<spn_host> instead of HTTP/<server> (alias, load balancer)
    service_keytab: str | None = None  # Kerberos: the service account's keytab (EXAUDIT_SERVICE_KEYTAB)

    @property
    def psrp_url(self) -> str:
        """The PowerShell endpoint URL (no credentials)."""
        return f"{self.scheme}://{self.server}:{self.port}/{self.path.strip('/')}"

    @property
    def resolved_ews_url(self) -> str:
        """The EWS URL: as given, or ``<scheme>://<server>:<port>/EWS/Exchange.asmx``."""
        return self.ews_url or f"{self.scheme}://{self.server}:{self.port}/EWS/Exchange.asmx"

    @property
    def cert_validation(self) -> bool | str:
        """TLS verification for both clients: a CA bundle, the system store, or off (--insecure)."""
        if self.insecure:
            return False
        return str(self.ca_bundle) if self.ca_bundle is not None else True


def check_target(target: TargetOptions) -> None:
    """Refuse options that cannot work or would publish a credential (one line, exit 2).

    Raises:
        UsageError: credentials in the server name or EWS URL, an unknown scheme or authentication method.
    """
    # An endpoint is copied into the snapshot and every report (Target, RunInfo): credentials written into it
    # would be published with them. Passwords come from the environment, a file or Kerberos, never from an URL.
    # The message names the option, not its value.
    if "@" in target.server:
        raise UsageError(
            "--server holds credentials ('user:password@host'); give the password through "
            "EXAUDIT_AUDIT_PASSWORD or --audit-password-file, never in the server name"
        )
    if target.ews_url is not None:
        parts = urllib.parse.urlsplit(target.ews_url)
        if parts.username is not None or parts.password is not None:
            raise UsageError(
                "--ews-url holds credentials; give the service account's password through "
                "EXAUDIT_SERVICE_PASSWORD or --service-password-file, never in the URL"
            )
    if target.scheme not in ("http", "https"):
        raise UsageError(f"--scheme must be http or https, not {target.scheme!r}")
    if target.auth not in AUTH_METHODS:
        raise UsageError(f"--auth must be one of {', '.join(AUTH_METHODS)}, not {target.auth!r}")

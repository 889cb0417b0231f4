"""The prober's HTTP sessions: exchangelib's Protocol with exaudit's TLS, reply bounds and Kerberos identity.

Split from :mod:`audit.probe.ews` (no behaviour change).
"""

from __future__ import annotations

import os
import urllib.parse
from typing import Any

import requests
from exchangelib.protocol import Protocol

from audit.replies import MIB, ReplyLimits, VerifyingAdapter, guard_session

# A GetFolder, CreateItem, DeleteItem or FindItem reply for one calendar is a few KiB; FindItem returns at most
# EWSFindCountLimit (1000) items (exchange-rbac.md section 9). 8 MiB is far above any of them (--max-ews-reply-mib).
DEFAULT_MAX_EWS_REPLY_BYTES = 8 * MIB


class AuditProtocol(Protocol):  # type: ignore[misc]  # exchangelib is untyped
    """exchangelib's Protocol with a per-run TLS verification setting and environment read once per session."""

    verify: bool | str = True
    max_reply_bytes: int = DEFAULT_MAX_EWS_REPLY_BYTES
    gss_credential: Any = None  # Kerberos: the service account's own credential (never the runner's ticket)
    spn_host: str | None = None

    def create_session(self) -> Any:
        """A pooled session with the run's TLS setting, proxies read once, bounded replies, Kerberos identity."""
        session = super().create_session()
        if self.gss_credential is not None:
            session.auth = service_spnego(self.gss_credential, self.service_endpoint, self.spn_host)
        # requests re-reads proxy and CA settings from the environment on every request (about 1 ms per probe
        # here); read them once, for this endpoint, when the session is made.
        session.trust_env = False
        session.proxies = requests.utils.get_environ_proxies(self.service_endpoint)
        verify = self.verify
        if verify is True:
            verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        # Same pool shape as exchangelib's own adapter: one connection per session, no urllib3 retries.
        adapter = VerifyingAdapter(verify, pool_block=True, pool_connections=1, pool_maxsize=1, max_retries=0)
        session.mount(self.service_endpoint, adapter)
        # Every reply read under a size bound and a wall-clock deadline (TIMEOUT is otherwise per socket read, which a
        # server dripping a byte a second never trips), and no redirect to another origin.
        return guard_session(session, ReplyLimits(self.max_reply_bytes, float(self.TIMEOUT)), "EWS")


def service_spnego(credential: Any, url: str, spn_host: str | None) -> Any:
    """requests-gssapi auth bound to the service account's credential and the server's HTTP/<host> SPN.

    exchangelib's own GSSAPI auth is ``HTTPSPNEGOAuth()`` with no credential: it would log on with whatever ticket
    the runner holds (the auditor's) and so probe the wrong identity.
    """
    import requests_gssapi  # noqa: PLC0415  (the kerberos extra, checked before any network call)

    from audit.kerberos import service_name  # noqa: PLC0415

    class _ServiceAuth(requests_gssapi.HTTPSPNEGOAuth):  # type: ignore[misc]
        def handle_401(self, response: Any, **kwargs: Any) -> Any:
            try:
                return super().handle_401(response, **kwargs)
            except Exception:
                response.close()  # a refused or impossible logon must not leave its connection open
                raise

    host = spn_host or (urllib.parse.urlsplit(url).hostname or "")
    # Mutual authentication stays required (the server proves it holds the SPN's key); one logon per connection,
    # which the server keeps (IIS binds Negotiate to the connection), so the service ticket is fetched once.
    return _ServiceAuth(creds=credential, target_name=service_name(host))

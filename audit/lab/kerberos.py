"""The lab's Windows authentication as Exchange's IIS virtual directories configure it: Kerberos, Negotiate, NTLM.

A default Exchange Server accepts only Kerberos on ``/PowerShell`` ("Negotiate:Kerberos" in IIS's Windows
authentication providers) and offers Negotiate (Kerberos or NTLM) and NTLM on ``/EWS``, Basic off
(exchange-rbac.md section 7.3; https://github.com/jborean93/pypsrp/issues/187: "Exchange only really supports
Kerberos auth and not NTLM"). The lab does the same when it is given the keytab of its ``HTTP/<host>`` service
principal (an MIT KDC's, in the tests); without one it can only offer NTLM, which it says once.

The acceptor is pyspnego over python-gssapi (MIT Kerberos), with the keytab given to GSSAPI directly
(``gss_acquire_cred_from``), never through the process-wide ``KRB5_KTNAME``. Every logon, accepted or refused, is
recorded in a :class:`LogonLog` the tests read ("the lab's own log").
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

__all__ = [
    "KERBEROS_ONLY",
    "KerberosAcceptor",
    "LogonEvent",
    "LogonLog",
    "default_schemes",
    "keytab_from_environment",
    "token_user",
]

KERBEROS_ONLY = "Negotiate:Kerberos"  # IIS's provider name: the Negotiate header, Kerberos inside only
KEYTAB_ENV = "EXAUDIT_LAB_KEYTAB"


def keytab_from_environment() -> Path | None:
    """The lab's service keytab from ``EXAUDIT_LAB_KEYTAB``, or None (no realm configured)."""
    value = os.environ.get(KEYTAB_ENV, "").strip()
    return Path(value.removeprefix("FILE:")) if value else None


def default_schemes(*, kerberos: bool, basic: bool = False) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The (``/PowerShell``, ``/EWS``) schemes an Exchange server offers out of the box.

    With a realm: Kerberos only on /PowerShell; Negotiate and NTLM on /EWS. Without one, /PowerShell offers
    Negotiate and NTLM (an admin who enabled NTLM on the virtual directory); WinRM message encryption applies to
    both. Basic is added only when asked for (``Set-*VirtualDirectory -BasicAuthentication $true``).
    """
    powershell: tuple[str, ...] = (KERBEROS_ONLY,) if kerberos else ("Negotiate", "NTLM")
    ews: tuple[str, ...] = ("Negotiate", "NTLM")
    if basic:
        powershell += ("Basic",)
        ews += ("Basic",)
    return powershell, ews


class KerberosAcceptor:
    """Accepts Kerberos (raw or SPNEGO-wrapped) for any service principal in a keytab.

    Args:
        keytab: the keytab of ``HTTP/<host>`` (MIT ``ktadd`` or Windows ``ktpass`` output).

    Raises:
        RuntimeError: python-gssapi is missing or the keytab cannot be used (named in the message).
    """

    def __init__(self, keytab: Path | str) -> None:
        try:
            import gssapi  # noqa: PLC0415  (optional: only a lab with a realm needs it)
            import gssapi.raw  # noqa: PLC0415
            import gssapi.raw.misc  # noqa: PLC0415
        except ImportError as exc:
            raise RuntimeError(
                "the lab's Kerberos acceptor needs python-gssapi: pip install 'exaudit[kerberos]'"
            ) from exc
        self.keytab = Path(str(keytab).removeprefix("FILE:"))
        if not self.keytab.is_file():
            raise RuntimeError(f"the lab's keytab {self.keytab} does not exist")
        try:
            raw = gssapi.raw.acquire_cred_from(
                {b"keytab": f"FILE:{self.keytab}".encode()}, name=None, mechs=None, usage="accept"
            ).creds
        except gssapi.raw.misc.GSSError as exc:
            raise RuntimeError(f"the lab's keytab {self.keytab} is unusable: {exc}") from exc
        self._credential = gssapi.Credentials(base=raw, usage="accept")

    def context(self, protocol: str, channel_bindings: Any = None) -> Any:
        """A new acceptor context: ``"kerberos"`` (Kerberos only) or ``"negotiate"`` (Kerberos or NTLM)."""
        from spnego._context import GSSMech  # noqa: PLC0415
        from spnego._gss import GSSAPIProxy  # noqa: PLC0415
        from spnego._negotiate import NegotiateProxy  # noqa: PLC0415
        from spnego._ntlm import NTLMProxy  # noqa: PLC0415

        # pyspnego builds its Kerberos acceptor from the default keytab; these private keywords hand it the lab's
        # own credential instead (pyspnego 0.12: GSSAPIProxy(_gssapi_credential=), NegotiateProxy(
        # _negotiate_contexts=)). A pyspnego that drops them fails here, at the first logon, not silently.
        kerberos = GSSAPIProxy(
            usage="accept",
            protocol="kerberos",
            channel_bindings=channel_bindings,
            _gssapi_credential=self._credential,
        )
        contexts: dict[Any, Any] = {GSSMech.kerberos: kerberos}
        if protocol == "negotiate":
            contexts[GSSMech.ntlm] = NTLMProxy(usage="accept", protocol="ntlm", channel_bindings=channel_bindings)
        return NegotiateProxy(
            usage="accept",
            protocol="negotiate",
            channel_bindings=channel_bindings,
            _negotiate_contexts=contexts,
        )


def token_user(token: bytes) -> str | None:
    r"""The DOMAIN\user an NTLM AUTHENTICATE message names (raw or inside SPNEGO), for the logon log; else None."""
    try:
        from spnego._ntlm_raw.messages import Authenticate  # noqa: PLC0415
        from spnego._spnego import NegTokenResp, unpack_token  # noqa: PLC0415

        inner: Any = token
        if not token.startswith(b"NTLMSSP\x00"):
            unpacked = unpack_token(token)
            inner = unpacked.response_token if isinstance(unpacked, NegTokenResp) else None
        if not inner or not inner.startswith(b"NTLMSSP\x00") or int.from_bytes(inner[8:12], "little") != 3:
            return None
        message = Authenticate.unpack(inner)
        user = message.user_name or ""
        return f"{message.domain_name}\\{user}" if message.domain_name else user or None
    except Exception:  # a hostile token: the log entry just has no name
        return None


@dataclass(frozen=True, slots=True)
class LogonEvent:
    """One authentication attempt that the lab decided (Windows' 4624/4625, in spirit)."""

    at: float
    path: str
    scheme: str  # the HTTP scheme: Basic, NTLM, Negotiate
    mechanism: str  # basic, ntlm, kerberos
    account: str | None  # the lab account it mapped to (None when refused before a name was known)
    principal: str  # what the client presented: DOMAIN\user, user@REALM, or "" when unknown
    ok: bool
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The event as plain data (for /lab/control/stats and tests)."""
        return asdict(self)


class LogonLog:
    """A bounded, thread-safe record of logons, newest last."""

    def __init__(self, limit: int = 10_000) -> None:
        self._events: collections.deque[LogonEvent] = collections.deque(maxlen=limit)
        self._lock = threading.Lock()

    def record(
        self,
        path: str,
        scheme: str,
        mechanism: str,
        principal: str | None,
        account: str | None,
        *,
        ok: bool,
        reason: str = "",
    ) -> None:
        """Record one decided logon (the password, if any, is never part of it)."""
        event = LogonEvent(time.time(), path, scheme, mechanism, account, principal or "", ok, reason)
        with self._lock:
            self._events.append(event)
        if ok:
            log.debug("logon %s %s as %s (%s)", path, mechanism, account, principal)
        else:
            log.info("failed logon %s %s for %r: %s", path, mechanism, principal or "?", reason)

    def events(self) -> list[LogonEvent]:
        """Every recorded logon, oldest first."""
        with self._lock:
            return list(self._events)

    def failures(self, name: str | None = None) -> list[LogonEvent]:
        r"""Failed logons, for one account or principal name (any form: DOMAIN\user, user@realm, user)."""
        return [e for e in self.events() if not e.ok and (name is None or _same_account(name, e))]

    def successes(self, name: str | None = None) -> list[LogonEvent]:
        """Accepted logons, for one account or principal name."""
        return [e for e in self.events() if e.ok and (name is None or _same_account(name, e))]

    def clear(self) -> None:
        """Forget every event."""
        with self._lock:
            self._events.clear()


def _bare(name: str) -> str:
    name = name.rsplit("\\", 1)[-1]
    return name.split("@", 1)[0].casefold()


def _same_account(name: str, event: LogonEvent) -> bool:
    wanted = _bare(name)
    return any(candidate and _bare(candidate) == wanted for candidate in (event.account, event.principal))


def describe(schemes: Sequence[str]) -> str:
    """A short human description of what a route offers (for `exaudit lab serve`)."""
    return ", ".join("Kerberos only" if s == KERBEROS_ONLY else s for s in schemes)

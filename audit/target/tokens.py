"""App-only access tokens from Microsoft Entra ID (client credentials): the only module that imports msal.

Both Exchange Online transports need a token per resource: ``https://outlook.office365.com/.default`` for the
Admin API (InvokeCommand) and ``https://graph.microsoft.com/.default`` for Microsoft Graph (domain notes
exo-2026.md §2d). msal caches each token in memory and asks the token service again only when it expires, so one
run acquires one token per resource and app ("Since MSAL Python 1.23, it will automatically look for token from
cache", ``acquire_token_for_client``).

msal errors become one line naming what is missing and how to grant it; a token never appears in a message, a
log or a repr (msal's own logger gets a NullHandler).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msal
import requests
from msal.authority import WELL_KNOWN_AUTHORITY_HOSTS

from audit.collect import https
from audit.errors import ExauditError, UsageError
from audit.replies import VerifyingAdapter

logging.getLogger("msal").addHandler(logging.NullHandler())

EXCHANGE_RESOURCE = "https://outlook.office365.com"
GRAPH_RESOURCE = "https://graph.microsoft.com"
MANAGE_AS_APP = "Exchange.ManageAsApp"
"""The Entra app role (Office 365 Exchange Online) an app needs for the Admin API (OPD app-only-auth-powershell-v2)."""

_MAX_PEM_BYTES = 256 * 1024
_TOKEN_THROTTLE_RETRIES = 3


@dataclass(frozen=True, slots=True)
class AppCredential:
    """An Entra app registration's client credential: a secret, or a PEM certificate and its key.

    The secret and the key never show in repr; :meth:`secrets` lists them so callers can scrub any text.
    """

    client_id: str
    secret: str | None = field(default=None, repr=False)
    certificate_pem: str | None = field(default=None, repr=False)
    private_key_pem: str | None = field(default=None, repr=False)
    source: str = ""  # where it came from, for messages: "EXAUDIT_CLIENT_SECRET", "--client-cert cert.pem", ...

    @property
    def uses_certificate(self) -> bool:
        """Whether this is a certificate credential."""
        return self.private_key_pem is not None

    def secrets(self) -> tuple[str, ...]:
        """The secret values in this credential (to scrub from any text that leaves the process)."""
        return tuple(s for s in (self.secret, self.private_key_pem) if s)

    def msal_credential(self) -> str | dict[str, str]:
        """The ``client_credential`` msal expects (a certificate gives a PS256 assertion with x5t#S256)."""
        if self.private_key_pem is not None:
            return {"private_key": self.private_key_pem, "public_certificate": self.certificate_pem or ""}
        return self.secret or ""


def _read_pem(path: Path, what: str) -> str:
    try:
        data = path.read_bytes()[: _MAX_PEM_BYTES + 1]
    except OSError as exc:
        raise UsageError(f"cannot read the {what} {path}: {exc.strerror or exc}") from exc
    if len(data) > _MAX_PEM_BYTES or b"-----BEGIN " not in data:
        raise UsageError(f"{path} is not a PEM {what} (expected a '-----BEGIN ...' block)")
    return data.decode("ascii", errors="replace")


def certificate_credential(
    client_id: str, cert_path: Path, key_path: Path, *, now: dt.datetime | None = None
) -> AppCredential:
    """Load a PEM certificate and key, refusing an expired, not yet valid or mismatched pair before any request.

    Raises:
        UsageError: a file is unreadable, not PEM, the key does not belong to the certificate, or the
            certificate is outside its validity period.
    """
    from cryptography import x509  # noqa: PLC0415  (only for certificate credentials)
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

    cert_pem = _read_pem(cert_path, "certificate")
    key_pem = _read_pem(key_path, "private key")
    try:
        cert = x509.load_pem_x509_certificate(cert_pem.encode("ascii"))
    except ValueError as exc:
        raise UsageError(f"{cert_path} holds no readable PEM certificate") from exc
    try:
        key = serialization.load_pem_private_key(key_pem.encode("ascii"), password=None)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"{key_path} holds no readable unencrypted PEM private key") from exc
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    encoding = serialization.Encoding.DER
    if key.public_key().public_bytes(encoding, public) != cert.public_key().public_bytes(encoding, public):
        raise UsageError(f"the private key {key_path} does not belong to the certificate {cert_path}")
    moment = now or dt.datetime.now(dt.UTC)
    if moment > cert.not_valid_after_utc:
        raise UsageError(
            f"the certificate {cert_path} expired on {cert.not_valid_after_utc:%Y-%m-%d}: create a new one and "
            "upload it under the app registration's Certificates & secrets"
        )
    if moment < cert.not_valid_before_utc:
        raise UsageError(f"the certificate {cert_path} is not valid before {cert.not_valid_before_utc:%Y-%m-%d %H:%M}")
    return AppCredential(
        client_id, certificate_pem=cert_pem, private_key_pem=key_pem, source=f"certificate {cert_path.name}"
    )


def is_microsoft_authority(authority_url: str) -> bool:
    """Whether the authority is one of Microsoft's clouds (msal validates those itself)."""
    host = urllib.parse.urlsplit(authority_url).hostname or ""
    return host.lower() in WELL_KNOWN_AUTHORITY_HOSTS


def token_roles(token: str) -> tuple[str, ...] | None:
    """The ``roles`` claim of a JWT access token, read without verifying it (for messages only); None if unreadable."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return None
    roles = claims.get("roles") if isinstance(claims, dict) else None
    return tuple(str(r) for r in roles) if isinstance(roles, list) else ()


ErrorFactory = Callable[[str], ExauditError]


class _BoundedSession(requests.Session):
    """The HTTP client handed to msal: fixed TLS verification, no environment, a timeout on every request.

    A throttled answer (429/503) from the token service or its discovery document is waited out here, honouring
    ``Retry-After`` a few times within the timeout: msal would cache it and fail every retry meanwhile
    (``throttled_http_client.py``, exo-2026.md §5.1).
    """

    def __init__(self, verify: bool | str, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout
        self.trust_env = False
        self.mount("https://", VerifyingAdapter(verify, max_retries=0))
        self.mount("http://", VerifyingAdapter(verify, max_retries=0))

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        """Send with the default timeout unless msal gave one; wait out throttling within that timeout."""
        kwargs.setdefault("timeout", self._timeout)
        deadline = time.monotonic() + self._timeout
        for attempt in range(1, _TOKEN_THROTTLE_RETRIES + 2):
            response = super().request(method, url, *args, **kwargs)  # type: ignore[arg-type]
            if response.status_code not in (429, 503) or attempt > _TOKEN_THROTTLE_RETRIES:
                return response
            wait = https.retry_after(response.headers.get("Retry-After"))
            wait = float(attempt) if wait is None else wait
            if time.monotonic() + wait >= deadline:
                return response
            response.close()
            time.sleep(wait)
        return response


class TokenSource:
    """Acquires app-only tokens for one app with msal (cached per resource), turning failures into one line.

    ``what`` names the app's role in messages: "auditing app" (reads Exchange and Graph) or "probing app" (the
    integration's own registration, used only for the probes).
    """

    def __init__(
        self,
        authority_url: str,
        credential: AppCredential,
        *,
        what: str,
        verify: bool | str = True,
        timeout: float = 30.0,
    ) -> None:
        self.authority_url = authority_url.rstrip("/")
        self.credential = credential
        self.what = what
        self._verify = verify
        self._timeout = timeout
        self._app: Any = None
        self._lock = threading.Lock()
        self.acquired: list[str] = []  # every token handed out, for tests that grep outputs for them

    def _client(self, error: ErrorFactory) -> Any:
        if self._app is not None:
            return self._app
        try:
            self._app = msal.ConfidentialClientApplication(
                self.credential.client_id,
                authority=self.authority_url,
                client_credential=self.credential.msal_credential(),
                # msal asks login.microsoftonline.com whether an unknown host is a valid authority: for a
                # sovereign or loopback authority given explicitly there is nothing to ask (exo-2026.md §5.1).
                instance_discovery=None if is_microsoft_authority(self.authority_url) else False,
                # Our own session: requests lets REQUESTS_CA_BUNDLE override ``verify=``, so --ca-bundle would
                # silently lose to the environment; every request is also bounded in time.
                http_client=_BoundedSession(self._verify, self._timeout),
                token_cache=msal.TokenCache(),
            )
        except ValueError as exc:
            raise error(self._discovery_message(str(exc))) from None
        except requests.exceptions.SSLError:
            raise error(
                f"TLS verification of the token service {self.authority_url} failed: pass --ca-bundle with the CA "
                "that issued its certificate"
            ) from None
        except requests.exceptions.RequestException as exc:
            raise error(f"cannot reach the token service {self.authority_url}: {type(exc).__name__}") from None
        return self._app

    def _discovery_message(self, text: str) -> str:
        tenant = self.authority_url.rsplit("/", 1)[-1]
        if "https" in text.lower() and not self.authority_url.lower().startswith("https://"):
            return f"--authority-url must be an https URL, not {self.authority_url!r}"
        return (
            f"the token service knows no tenant {tenant!r} ({self.authority_url}): check --tenant (the tenant id "
            "or its initial domain, e.g. contoso.onmicrosoft.com) and --authority-url for sovereign clouds"
        )

    def token(self, resource: str, error: ErrorFactory) -> str:
        """An access token for ``resource`` (e.g. ``https://graph.microsoft.com``); cached by msal until it expires.

        Raises:
            ExauditError: built by ``error`` with one line saying what the token service refused and what to fix.
        """
        with self._lock:
            app = self._client(error)
            try:
                result = app.acquire_token_for_client(scopes=[f"{resource.rstrip('/')}/.default"])
            except requests.exceptions.SSLError:
                raise error(
                    f"TLS verification of the token service {self.authority_url} failed: pass --ca-bundle"
                ) from None
            except requests.exceptions.RequestException as exc:
                raise error(f"cannot reach the token service {self.authority_url}: {type(exc).__name__}") from None
            except ValueError as exc:
                raise error(self._discovery_message(str(exc))) from None
        if not isinstance(result, dict) or not result.get("access_token"):
            raise error(self._refusal(result if isinstance(result, dict) else {}, resource))
        token = str(result["access_token"])
        if token not in self.acquired:
            self.acquired.append(token)
        return token

    def _refusal(self, result: dict[str, Any], resource: str) -> str:
        """One line for a token service error reply.

        AADSTS codes: https://learn.microsoft.com/entra/identity-platform/reference-error-codes
        """
        code = str(result.get("error") or "no access_token in the reply")
        description = str(result.get("error_description") or "")
        codes = {int(c) for c in result.get("error_codes") or [] if isinstance(c, int)}
        for number in (90002, 700016, 7000215, 7000222, 700027, 700024, 50012, 7000112):
            if f"AADSTS{number}" in description:
                codes.add(number)
        app = f"the {self.what} {self.credential.client_id}"
        tenant = self.authority_url.rsplit("/", 1)[-1]
        if codes & {90002}:
            return f"the token service knows no tenant {tenant!r}: check --tenant (wrong tenant?)"
        if codes & {700016}:
            return (
                f"{app} is not registered in tenant {tenant!r} (wrong tenant or client id?): check --tenant and "
                "the client id, and that the app's service principal exists there (admin consent)"
            )
        if codes & {7000112}:
            return f"{app} is disabled in tenant {tenant!r}: enable its enterprise application"
        if self.credential.uses_certificate and (codes & {700027, 700024, 50012} or code == "invalid_client"):
            return (
                f"the token service refused the certificate of {app} ({code}): the certificate is expired, not yet "
                "valid or not the one uploaded to the app registration; upload it under Certificates & secrets"
            )
        if codes & {7000215, 7000222} or code in ("invalid_client", "unauthorized_client"):
            source = self.credential.source or "the client secret"
            return (
                f"the token service refused {source} of {app} ({code}): the secret is wrong or expired; create a "
                "new one under the app registration's Certificates & secrets"
            )
        if code == "invalid_scope":
            return f"the token service refuses tokens for {resource} to {app} (invalid_scope): check the resource URL"
        first = description.splitlines()[0][:200] if description else ""
        return f"the token service refused {app} a token for {resource} ({code}{': ' + first if first else ''})"

"""Bounded JSON over HTTPS for the Exchange Online transports (Admin API, Microsoft Graph reads and probes).

Everything that comes back is hostile until parsed: a reply is read up to a size limit within a deadline, a
``nextLink`` must stay on the origin the bearer token was meant for (a link to another host would hand it the
token), and TLS is verified with the one setting the user gave, whatever ``REQUESTS_CA_BUNDLE`` says.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

import requests

from audit.replies import VerifyingAdapter

DEFAULT_MAX_REPLY_BYTES = 64 * 1024 * 1024
"""64 MiB per reply: a page of 1,000 recipients is a few MiB; anything far larger is not Exchange answering."""

_CHUNK = 256 * 1024


def make_session(verify: bool | str, pool: int = 10) -> requests.Session:
    """A requests session with fixed TLS verification, no automatic retries and a pool of ``pool`` connections."""
    session = requests.Session()
    session.trust_env = False
    adapter = VerifyingAdapter(verify, pool_connections=pool, pool_maxsize=pool, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def origin(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port of ``url`` (lower case), the unit a bearer token may be sent to."""
    parts = urllib.parse.urlsplit(url)
    port = parts.port or {"https": 443, "http": 80}.get(parts.scheme.lower())
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


def same_origin(base: str, url: str) -> bool:
    """Whether ``url`` is on the same origin as ``base``."""
    return origin(base) == origin(url)


@dataclass(frozen=True, slots=True)
class Reply:
    """A bounded HTTP reply: status, the headers exaudit reads, the parsed JSON body (or None) and its raw text."""

    status: int
    retry_after: float | None
    body: Any
    text: str


class ReplyTooLarge(Exception):
    """The reply passed the size limit."""


def retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta seconds; an HTTP date is not used by Exchange or Graph)."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def send(
    session: requests.Session,
    method: str,
    url: str,
    *,
    deadline: float,
    headers: dict[str, str],
    body: Any = None,
    max_bytes: int = DEFAULT_MAX_REPLY_BYTES,
) -> Reply:
    """Send one request and read its reply within ``deadline`` (a ``time.monotonic()`` value) and ``max_bytes``.

    Raises:
        requests.exceptions.RequestException: the request could not be made (connection, TLS, timeout).
        ReplyTooLarge: the body passed ``max_bytes``.
        TimeoutError: the deadline passed while reading the body.
    """
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError("deadline reached before the request")
    data = json.dumps(body).encode("utf-8") if body is not None else None
    with session.request(
        method,
        url,
        headers=headers,
        data=data,
        timeout=(min(remaining, 30.0), remaining),
        stream=True,
        allow_redirects=False,
    ) as response:
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_content(_CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise ReplyTooLarge(f"reply larger than {max_bytes // (1024 * 1024)} MiB")
            if time.monotonic() > deadline:
                raise TimeoutError("deadline reached while reading the reply")
            chunks.append(chunk)
        raw = b"".join(chunks)
        text = raw.decode("utf-8", errors="replace")
        parsed: Any = None
        if raw.strip():
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = None
        return Reply(response.status_code, retry_after(response.headers.get("Retry-After")), parsed, text)


def error_message(body: Any, text: str = "") -> tuple[str, str]:
    """The (code, message) of an OData error reply.

    The Admin API's message is in ``error.details[].message``, else ``error.innererror.internalException.message``,
    else ``error.message`` (the order CIPP and M365Permissions read it; exo-2026.md §2b).
    """
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "", text.strip().splitlines()[0][:300] if text.strip() else ""
    code = str(error.get("code") or "")
    details = error.get("details")
    if isinstance(details, list):
        for d in details:
            if isinstance(d, dict) and d.get("message"):
                return code, str(d["message"])[:500]
    inner = error.get("innererror") or error.get("innerError")
    if isinstance(inner, dict):
        internal = inner.get("internalException")
        if isinstance(internal, dict) and internal.get("message"):
            return code, str(internal["message"])[:500]
    return code, str(error.get("message") or "")[:500]


def scrub(text: str, *secrets: str) -> str:
    """``text`` without any of ``secrets`` (a hostile server may echo the bearer token back in an error)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "********")
    return text

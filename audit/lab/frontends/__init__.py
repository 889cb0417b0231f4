"""The lab's Exchange Online front ends (token service, InvokeCommand, Microsoft Graph) and what they share.

Each front end is a thin HTTP handler over the one tenant model: the token service issues tokens through
``audit.lab.tokens``, InvokeCommand runs the cmdlets of ``audit.lab.cmdlets``, Graph decides mailbox access with
``audit.lab.exo_authz``. They never import each other; the server hands each an ``ExoContext``.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from audit.lab.faults import FaultPlan
from audit.lab.http import LabResponse
from audit.lab.tenant import Tenant
from audit.lab.tokens import Certificate, TokenAuthority

JSON_TYPE = "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8"
MAX_JSON_BYTES = 4 * 1024 * 1024


@dataclass(slots=True)
class CallLog:
    """Thread-safe counters per front end and key (cmdlet, route)."""

    _lock: threading.Lock = field(default_factory=threading.Lock)
    _counts: dict[str, Counter[str]] = field(default_factory=dict)

    def count(self, front_end: str, key: str) -> None:
        """Count one call."""
        with self._lock:
            self._counts.setdefault(front_end, Counter())[key] += 1

    def snapshot(self) -> dict[str, dict[str, int]]:
        """The counts so far."""
        with self._lock:
            return {k: dict(v) for k, v in self._counts.items()}

    def clear(self) -> None:
        """Zero every counter."""
        with self._lock:
            self._counts.clear()


@dataclass(slots=True)
class ExoContext:
    """What the Exchange Online front ends need from the server."""

    tenant: Callable[[], Tenant]  # the current tenant: configuration reads (InvokeCommand, Entra reads)
    data_tenant: Callable[[], Tenant]  # what mailbox access is decided from (the previous one while propagating)
    commit: Callable[[Tenant], None]  # a write cmdlet's or Graph DELETE's new tenant
    authority: TokenAuthority
    base_url: Callable[[], str]
    faults: FaultPlan
    sleep: Callable[[float], None]
    secrets: Mapping[str, str]  # client id -> client secret
    certificates: Mapping[str, tuple[Certificate, ...]]  # client id -> registered certificates
    log: CallLog = field(default_factory=CallLog)


def json_response(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> LabResponse:
    """A JSON answer."""
    body = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
    return LabResponse(status, body, JSON_TYPE if payload is not None else "text/plain", dict(headers or {}))


def read_json(body: bytes) -> Any:
    """Parse a bounded JSON body; raise ValueError when it is not JSON."""
    if len(body) > MAX_JSON_BYTES:
        raise ValueError("the body is too large")
    return json.loads(body.decode("utf-8"))

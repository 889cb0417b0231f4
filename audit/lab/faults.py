"""Faults on demand: latency, throttling, dropped connections, HTTP errors, hanging and malformed replies.

A FaultPlan is set from a scenario's ``faults:`` section and changed while the lab runs through
``/lab/control``. The HTTP layer asks ``plan.hook(request)`` before each handler and performs the returned
FaultAction; the EWS handler itself asks for its latency (so a slow request counts as in flight, as it would
against Exchange's concurrency budget) and for forced ErrorServerBusy replies.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from audit.lab import LabError
from audit.lab.http import FaultAction, LabRequest

ROUTES = ("ews", "powershell", "token", "adminapi", "graph")
KINDS = ("drop", "status", "hang", "malformed", "delay")
_INLINE_LATENCY = frozenset({"ews", "graph"})
# Graph's two 403 ErrorAccessDenied bodies (domain/exo-2026.md section 3): which one a refusal carries.
FORBIDDEN_BODIES = ("auto", "access-denied", "odata-disabled")
_TOKEN_PATH = re.compile(
    r"^/[^/]+/(?:v2\.0|oauth2|discovery)(?:/|$)", re.IGNORECASE
)  # handlers that sleep themselves, inside their in-flight accounting


_BODY_OPERATION = re.compile(rb"<(?:[\w.-]+:)?Body\b[^>]*>\s*<(?:[\w.-]+:)?([A-Za-z]+)")


def operation_of(body: bytes) -> str:
    """Return the EWS operation named in a SOAP body (e.g. "DeleteItem"), or "" when there is none."""
    match = _BODY_OPERATION.search(body[:65536])
    return match.group(1).decode("ascii") if match else ""


def route_of(path: str) -> str:
    """Return the route name ("ews", "powershell", "control" or "other") of a request path."""
    lowered = path.lower()
    if lowered.startswith("/ews/"):
        return "ews"
    if lowered.startswith("/powershell"):
        return "powershell"
    if lowered.startswith("/lab/"):
        return "control"
    if lowered.startswith("/adminapi/"):
        return "adminapi"
    if lowered.startswith(("/v1.0/", "/beta/")):
        return "graph"
    if _TOKEN_PATH.match(path):
        return "token"
    return "other"


@dataclass(slots=True)
class FaultRule:
    """One injected misbehaviour on a route, for the next ``count`` requests (None: every request)."""

    route: str
    kind: str
    count: int | None = 1
    status: int = 500
    delay_ms: int = 0
    after: int = 0  # let this many matching requests through first
    operation: str | None = None  # EWS only: match requests for this operation (e.g. "DeleteItem")
    seen: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return the rule as JSON-ready data."""
        return {
            "route": self.route,
            "kind": self.kind,
            "count": self.count,
            "status": self.status,
            "delay_ms": self.delay_ms,
            "after": self.after,
            "operation": self.operation,
        }


class FaultPlan:
    """The faults currently in force, thread-safe; every change applies to the next request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latency_ms: dict[str, int] = {}
        self._busy_next = 0
        self._busy_always = False
        self._backoff_ms = 1000
        self._rules: list[FaultRule] = []
        self._throttle: dict[str, list[int]] = {}  # route -> [next, always, retry_after seconds]
        self.forbidden_body = "auto"
        self.propagation_seconds = 0.0
        self.injected: dict[str, int] = {}

    # -- configuration -------------------------------------------------------------------------------

    def reset(self) -> None:
        """Remove every fault and latency."""
        with self._lock:
            self._latency_ms.clear()
            self._busy_next = 0
            self._busy_always = False
            self._backoff_ms = 1000
            self._rules.clear()
            self._throttle.clear()
            self.forbidden_body = "auto"
            self.propagation_seconds = 0.0

    def set_latency(self, ms: int, route: str = "*") -> None:
        """Add ``ms`` milliseconds to every request on ``route`` ("ews", "powershell" or "*")."""
        if ms < 0:
            raise LabError("latency must not be negative")
        with self._lock:
            if route == "*":
                for name in ROUTES:
                    self._latency_ms[name] = ms
            else:
                self._latency_ms[_check_route(route)] = ms

    def set_throttling(self, *, next_requests: int = 0, always: bool = False, backoff_ms: int = 1000) -> None:
        """Force ErrorServerBusy with ``backoff_ms`` for the next K EWS requests, or for every one."""
        with self._lock:
            self._busy_next = max(0, next_requests)
            self._busy_always = always
            self._backoff_ms = max(0, backoff_ms)

    def set_429(self, route: str, *, next_requests: int = 0, always: bool = False, retry_after: int = 1) -> None:
        """Answer HTTP 429 with ``Retry-After`` on ``route`` (token, adminapi, graph) for the next K requests."""
        with self._lock:
            self._throttle[_check_route(route)] = [max(0, next_requests), int(always), max(0, retry_after)]

    def take_429(self, route: str) -> int | None:
        """The Retry-After seconds when this request on ``route`` must be answered 429, else None."""
        with self._lock:
            state = self._throttle.get(route)
            if state is None:
                return None
            if state[1]:
                self._count("http_429")
                return state[2]
            if state[0] > 0:
                state[0] -= 1
                self._count("http_429")
                return state[2]
            return None

    def add_rule(self, rule: FaultRule) -> None:
        """Add an HTTP-level fault rule."""
        _check_route(rule.route)
        if rule.kind not in KINDS:
            raise LabError(f"unknown fault kind {rule.kind!r} (one of {', '.join(KINDS)})")
        with self._lock:
            self._rules.append(rule)

    def apply(self, spec: Mapping[str, Any]) -> None:
        """Apply a JSON/YAML fault description (scenario ``faults:`` or a control call); raise LabError if bad."""
        if not isinstance(spec, Mapping):
            raise LabError("faults must be a mapping")
        known = {"latency_ms", "throttling", "rules", "reset", "http_429", "forbidden_body", "propagation"}
        unknown = sorted(set(spec) - known)
        if unknown:
            raise LabError(f"unknown fault setting(s): {', '.join(unknown)}")
        try:
            if spec.get("reset"):
                self.reset()
            latency = spec.get("latency_ms")
            if isinstance(latency, Mapping):
                for route, ms in latency.items():
                    self.set_latency(int(ms), str(route))
            elif latency is not None:
                self.set_latency(int(latency))
            throttling = spec.get("throttling")
            if throttling is not None:
                self.set_throttling(
                    next_requests=int(throttling.get("next", 0)),
                    always=bool(throttling.get("always", False)),
                    backoff_ms=int(throttling.get("backoff_ms", 1000)),
                )
            for raw in spec.get("http_429") or []:
                self.set_429(
                    _check_route(str(raw.get("route", "graph"))),
                    next_requests=int(raw.get("next", 0)),
                    always=bool(raw.get("always", False)),
                    retry_after=int(raw.get("retry_after", 1)),
                )
            if spec.get("forbidden_body") is not None:
                body = str(spec["forbidden_body"])
                if body not in FORBIDDEN_BODIES:
                    raise LabError(f"forbidden_body must be one of {', '.join(FORBIDDEN_BODIES)}")
                self.forbidden_body = body
            propagation = spec.get("propagation")
            if propagation is not None:
                self.propagation_seconds = float(propagation.get("seconds", 0))
            for raw in spec.get("rules") or []:
                self.add_rule(
                    FaultRule(
                        route=str(raw.get("route", "ews")),
                        kind=str(raw["kind"]),
                        count=None if raw.get("count", 1) is None else int(raw.get("count", 1)),
                        status=int(raw.get("status", 500)),
                        delay_ms=int(raw.get("delay_ms", 0)),
                        after=int(raw.get("after", 0)),
                        operation=None if raw.get("operation") is None else str(raw["operation"]),
                    )
                )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise LabError(f"invalid fault description: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        """Return the plan as JSON-ready data."""
        with self._lock:
            return {
                "latency_ms": dict(self._latency_ms),
                "throttling": {"next": self._busy_next, "always": self._busy_always, "backoff_ms": self._backoff_ms},
                "rules": [r.to_dict() for r in self._rules],
                "http_429": {
                    k: {"next": v[0], "always": bool(v[1]), "retry_after": v[2]} for k, v in self._throttle.items()
                },
                "forbidden_body": self.forbidden_body,
                "propagation": {"seconds": self.propagation_seconds},
                "injected": dict(self.injected),
            }

    # -- questions asked per request -----------------------------------------------------------------

    def latency_seconds(self, route: str) -> float:
        """Return the configured latency of ``route`` in seconds."""
        with self._lock:
            return self._latency_ms.get(route, 0) / 1000.0

    def take_busy(self) -> int | None:
        """Return the back-off in ms when this EWS request must be answered ErrorServerBusy, else None."""
        with self._lock:
            if self._busy_always:
                self._count("busy")
                return self._backoff_ms
            if self._busy_next > 0:
                self._busy_next -= 1
                self._count("busy")
                return self._backoff_ms
            return None

    @property
    def backoff_ms(self) -> int:
        """The BackOffMilliseconds the lab advertises when throttling."""
        with self._lock:
            return self._backoff_ms

    def hook(self, request: LabRequest) -> FaultAction | None:
        """Decide the HTTP-level fault for one request (the LabHTTPServer fault hook)."""
        route = route_of(request.path)
        if route == "control":
            return None  # the control channel itself is never faulted
        operation: str | None = None
        with self._lock:
            for rule in self._rules:
                if rule.route not in (route, "*"):
                    continue
                if rule.operation is not None:
                    if operation is None:
                        operation = operation_of(request.body)
                    if operation.lower() != rule.operation.lower():
                        continue
                rule.seen += 1
                if rule.seen <= rule.after:
                    continue
                if rule.count is not None:
                    if rule.count <= 0:
                        continue
                    rule.count -= 1
                self._count(rule.kind)
                self._rules = [r for r in self._rules if r.count is None or r.count > 0]
                return FaultAction(
                    kind=rule.kind,  # type: ignore[arg-type]  # checked against KINDS in add_rule
                    delay_seconds=rule.delay_ms / 1000.0,
                    status=rule.status,
                    body=_status_body(rule.status),
                )
            latency = self._latency_ms.get(route, 0)
        if latency and route not in _INLINE_LATENCY:
            return FaultAction(kind="delay", delay_seconds=latency / 1000.0)
        return None

    def _count(self, kind: str) -> None:
        self.injected[kind] = self.injected.get(kind, 0) + 1


def _check_route(route: str) -> str:
    if route not in (*ROUTES, "*"):
        raise LabError(f"unknown route {route!r} (one of {', '.join(ROUTES)} or *)")
    return route


def _status_body(status: int) -> bytes:
    # What IIS sends for these statuses: a short HTML page, no SOAP.
    titles = {
        401: "401 - Unauthorized: Access is denied due to invalid credentials.",
        500: "500 - Internal server error.",
        503: "Service Unavailable",
    }
    title = titles.get(status, f"HTTP Error {status}")
    return f"<html><head><title>{title}</title></head><body><h2>{title}</h2></body></html>".encode()

"""Probe mailboxes over EWS with impersonation (exchangelib), in parallel within the throttling budget."""

from audit.probe.ews import (
    CALENDAR_READ,
    CALENDAR_WRITE,
    MARKER_PREFIX,
    EwsEndpoint,
    ProbeProgress,
    Prober,
    ProbeSettings,
    ProbeTarget,
)

__all__ = [
    "CALENDAR_READ",
    "CALENDAR_WRITE",
    "MARKER_PREFIX",
    "EwsEndpoint",
    "ProbeProgress",
    "ProbeSettings",
    "ProbeTarget",
    "Prober",
]

"""Probe mailboxes: EWS impersonation on premises (exchangelib), app-only Microsoft Graph in Exchange Online."""

from audit.probe.ews import EwsEndpoint, Prober
from audit.probe.interface import (
    CALENDAR_READ,
    CALENDAR_WRITE,
    MARKER_PREFIX,
    ProbeProgress,
    ProbeSettings,
    ProbeTarget,
    ProgressSink,
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
    "ProgressSink",
]

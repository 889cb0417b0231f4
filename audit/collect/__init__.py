"""Collect Exchange state over PowerShell remoting (pypsrp) and map it to snapshot records."""

from audit.collect.collector import BASE_CALL_COUNT, PLAN, CollectedState, call_count, collect_state
from audit.collect.interface import CmdletResult, CmdletRunner, ErrorKind, TransportFailure, require_read_only

__all__ = [
    "BASE_CALL_COUNT",
    "PLAN",
    "CmdletResult",
    "CmdletRunner",
    "CollectedState",
    "ErrorKind",
    "TransportFailure",
    "call_count",
    "collect_state",
    "require_read_only",
]

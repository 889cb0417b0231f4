"""The pypsrp runner turns transport failures into CollectionErrors that say what to do (real pypsrp, loopback)."""

from __future__ import annotations

import socket

import pytest

from audit.collect import ErrorKind, TransportFailure
from audit.collect.psrp import PsrpEndpoint, PsrpRunner, missing_role
from audit.errors import CollectionError

SECRET = "Never-Print-Me-42"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_connection_refused_is_fatal_and_actionable() -> None:
    runner = PsrpRunner(PsrpEndpoint("127.0.0.1", _closed_port(), auth="basic", username="u", password=SECRET))
    with pytest.raises(TransportFailure) as info:
        runner.run("Get-OrganizationConfig", {}, 5)
    runner.close()
    assert info.value.fatal
    assert info.value.kind == ErrorKind.CONNECTION
    assert "connection refused" in str(info.value)
    assert "--port" in str(info.value)
    assert SECRET not in str(info.value)


def test_only_get_cmdlets_reach_the_wire() -> None:
    runner = PsrpRunner(PsrpEndpoint("127.0.0.1", _closed_port(), auth="basic", username="u", password=SECRET))
    with pytest.raises(CollectionError, match="read-only"):
        runner.run("Set-Mailbox", {"Identity": "x"}, 5)


def test_missing_role_names_the_role_group() -> None:
    assert missing_role("Get-ManagementRoleAssignment") == (
        "View-Only Configuration",
        "View-Only Organization Management",
    )
    assert missing_role("Get-Recipient") == ("View-Only Recipients", "View-Only Organization Management")


def test_password_is_not_in_the_endpoint_repr() -> None:
    assert SECRET not in repr(PsrpEndpoint("h", 1, password=SECRET))

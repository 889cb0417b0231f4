"""Transports end to end: Basic over http refused, NTLM with message encryption, HTTPS verified with a CA bundle."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from audit.lab.server import LabServer

from .conftest import assert_no_secret, run_cli

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def tls_lab() -> Iterator[LabServer]:
    with LabServer("compliant", tls=True, basic=True) as server:
        yield server


def test_basic_over_http_is_refused_before_any_connection(tmp_path: Path) -> None:
    # Basic over plain http would put both passwords on the wire in clear text: a usage error, nothing sent.
    with LabServer("compliant") as lab:
        run = run_cli(lab, tmp_path, auth="basic")
        events = lab.http.logons.events()
    assert run.code == 2, run.stderr
    assert "--scheme https" in run.stderr
    assert events == []


def test_ntlm_with_message_encryption(tmp_path: Path) -> None:
    with LabServer("compliant") as lab:
        run = run_cli(lab, tmp_path, auth="ntlm")
        secrets = [lab.credentials.auditor_password, lab.credentials.service_password]
    assert run.code == 0, run.stderr
    assert_no_secret(run, secrets)


def test_https_verified_with_the_ca_bundle(tls_lab: LabServer, tmp_path: Path) -> None:
    assert tls_lab.ca_cert_path is not None
    run = run_cli(tls_lab, tmp_path, "--ca-bundle", str(tls_lab.ca_cert_path), auth="basic")
    assert run.code == 0, run.stderr
    assert run.not_passing() == set()


def test_https_without_the_ca_bundle_is_refused_with_a_clear_error(tls_lab: LabServer, tmp_path: Path) -> None:
    run = run_cli(tls_lab, tmp_path, auth="basic", ca_bundle=False)
    assert run.code == 3
    statuses = run.statuses()
    assert "PASS" not in {statuses["EXA010"], statuses["EXA050"], statuses["EXA051"]}
    snapshot = (tmp_path / "snapshot.json").read_text(encoding="utf-8")
    assert "TLS verification" in snapshot
    assert "--ca-bundle" in snapshot


def test_probes_send_x_anchor_mailbox_and_stay_within_the_budget(tmp_path: Path) -> None:
    with LabServer("compliant") as lab:
        anchors: list[tuple[str | None, bytes]] = []
        original = lab.ews._context

        def spy(caller: object, header: object, request: object) -> object:
            anchors.append((request.headers.get("X-AnchorMailbox"), request.body))  # type: ignore[attr-defined]
            return original(caller, header, request)  # type: ignore[arg-type]

        lab.ews._context = spy  # type: ignore[method-assign]  # observe what reached the lab, change nothing
        run = run_cli(lab, tmp_path, auth="ntlm")
        stats = lab.stats()["ews"]
    assert run.code == 0, run.stderr
    # One request per probe: a FindItem per in-scope calendar (opening it and looking for earlier runs' write-probe
    # items at once), a GetFolder per canary.
    assert len(anchors) == 8
    for anchor, body in anchors:
        assert anchor is not None
        assert f"<t:PrimarySmtpAddress>{anchor}</t:PrimarySmtpAddress>".encode() in body
    # Explicit version and auth type: no ConvertId/ResolveNames guessing round trips.
    assert stats["by_operation"] == {"GetFolder": 2, "FindItem": 6}

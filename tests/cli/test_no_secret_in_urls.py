"""A password written into an endpoint URL is refused before anything is written (it would land in every report)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from audit.cli import main

POLICY = Path(__file__).resolve().parents[2] / "policies" / "callpro.yaml"
SECRET = "Hunter2-in-a-url"


@pytest.mark.parametrize(
    "flags",
    [
        ["--server", "127.0.0.1", "--ews-url", f"https://svc:{SECRET}@127.0.0.1:1/EWS/Exchange.asmx"],
        ["--server", f"svc:{SECRET}@127.0.0.1"],
    ],
)
def test_credentials_in_an_endpoint_are_a_usage_error(
    flags: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXAUDIT_AUDIT_PASSWORD", "x")
    out, err = io.StringIO(), io.StringIO()
    snapshot = tmp_path / "s.json"
    argv = ["collect", str(POLICY), *flags, "--port", "1", "--scheme", "http", "--auth", "basic"]
    code = main([*argv, "--audit-user", "a", "--out", str(snapshot), "--timeout", "1"], out, err)
    assert code == 2, err.getvalue()
    assert "never" in err.getvalue()
    assert SECRET not in out.getvalue() + err.getvalue()
    assert not snapshot.exists()

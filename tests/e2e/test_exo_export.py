"""`exaudit export --app-id` against the Exchange Online lab over real msal and HTTPS: the exported policy validates
and, once its REVIEW canaries are filled in, audits the same tenant clean; an unscoped app is refused."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from audit.cli import main
from audit.lab.server import LabServer

from .conftest import CliRun
from .exo_support import assert_nothing_leaked, exo_argv, recording_tokens, run_exo, secrets_of

pytestmark = pytest.mark.e2e

APP_ID = "6233fba6-0198-4277-892f-9275bf728bcc"  # CallPro CalendarSync in audit/lab/scenarios/_exo-base.yaml


def _export(lab: LabServer, tmp: Path, *extra: str, app_id: str = APP_ID) -> CliRun:
    """`exaudit export --app-id` with the auditor's options only (export never probes: no probe client)."""
    argv = exo_argv(lab)
    for option in ("--probe-client-id", "--deadline"):
        at = argv.index(option)
        del argv[at : at + 2]
    saved = dict(os.environ)
    os.environ["EXAUDIT_CLIENT_SECRET"] = lab.exo_credentials.auditor_client_secret
    out, err = io.StringIO(), io.StringIO()
    try:
        code = main(["export", "--app-id", app_id, *argv, *extra], out, err)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return CliRun(code, out.getvalue(), err.getvalue(), tmp)


def test_export_from_the_exo_lab_validates_and_audits_clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    policy = tmp_path / "exported.yaml"
    with LabServer("exo-compliant") as lab, recording_tokens(monkeypatch) as tokens:
        export = _export(lab, tmp_path, "--out", str(policy), "-q")
        assert export.code == 0, export.stderr
        after = lab.stats()
        text = policy.read_text(encoding="utf-8")
        assert f'appId: "{APP_ID}"' in text
        assert 'memberOfGroup: "SecurityGroup-CallPro Calendar Access"' in text
        assert "fien.field@contoso.com" in text
        assert "# REVIEW" in text
        assert "canaries: []" in text
        # Export reads only: the app's Entra grants from Graph (no mailbox request), Get-*/Test-* cmdlets.
        assert after["graph"]
        assert all(route.startswith("GET servicePrincipals") for route in after["graph"])
        assert all(name.startswith(("Get-", "Test-")) for name in after["invoke_command"])
        policy.write_text(text.replace("canaries: []", "canaries: [ceo@contoso.com]"), encoding="utf-8")
        out, err = io.StringIO(), io.StringIO()
        assert main(["validate", str(policy)], out, err) == 0, err.getvalue()
        run = run_exo(lab, tmp_path / "run", policy=policy)
        secrets = secrets_of(lab)
    assert run.code == 0, run.stderr
    assert run.not_passing() == set(), run.stderr
    assert tokens
    assert_nothing_leaked(export, [*secrets, *tokens])
    assert_nothing_leaked(run, [*secrets, *tokens])


def test_export_refuses_an_unscoped_app(tmp_path: Path) -> None:
    policy = tmp_path / "exported.yaml"
    with LabServer("exo-unscoped") as lab:
        export = _export(lab, tmp_path, "--out", str(policy), "-q")
    assert export.code == 2
    assert "no CustomResourceScope" in export.stderr
    assert len(export.stderr.strip().splitlines()) == 1
    assert "Traceback" not in export.stderr
    assert not policy.exists()


def test_export_of_an_app_without_a_pointer_is_a_usage_error(tmp_path: Path) -> None:
    with LabServer("exo-compliant") as lab:
        export = _export(lab, tmp_path, "-q", app_id="11111111-2222-4333-8444-555555555555")
    assert export.code == 2, export.stderr
    assert "no service principal" in export.stderr
    assert export.stdout == ""

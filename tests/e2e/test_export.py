"""`exaudit export` against the lab: read-only collection, a policy that validates and evaluates clean."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from audit.cli import main
from audit.lab.server import LabServer

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


def _export_then_run(lab: LabServer, tmp_path: Path) -> str:
    """Export the service account's access from the lab, run the exported policy (a canary added): its text."""
    creds = lab.credentials
    policy = tmp_path / "exported.yaml"
    target = ["--server", "127.0.0.1", "--port", str(lab.port), "--scheme", "http", "--auth", "ntlm"]
    target += ["--audit-user", creds.auditor_username, "--timeout", "10"]
    saved = dict(os.environ)
    os.environ["EXAUDIT_AUDIT_PASSWORD"] = creds.auditor_password
    os.environ["EXAUDIT_SERVICE_PASSWORD"] = creds.service_password
    try:
        before = lab.stats()
        out, err = io.StringIO(), io.StringIO()
        code = main(
            ["export", "--service-account", "svcServiceAccount@contoso.com", "--out", str(policy), "-q", *target],
            out,
            err,
        )
        assert code == 0, err.getvalue()
        text = policy.read_text()
        assert creds.auditor_password not in text + out.getvalue() + err.getvalue()
        after = lab.stats()
        assert after["ews"]["requests"] == before["ews"]["requests"]  # export never probes
        new_calls = after["cmdlet_calls"] - before["cmdlet_calls"]
        assert new_calls == 12  # the same fixed set of Get-* calls as a collection
        assert all(name.startswith("Get-") for name in after["cmdlets"])
        # The exported policy, run live with a canary added, is compliant: it mirrors the state.
        policy.write_text(text.replace("canaries: []", "canaries: [ceo@contoso.com]"))
        code = main(
            ["run", str(policy), *target, "--service-user", creds.service_username, "-q", "--deadline", "20"],
            out,
            err,
        )
        assert code == 0, err.getvalue()
        assert lab.stats()["calendar_items_total"] == before["calendar_items_total"]  # read-only
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return text


def test_export_from_the_live_lab_then_run_it(lab: LabServer, tmp_path: Path) -> None:
    text = _export_then_run(lab, tmp_path)
    assert "SecurityGroup-CallPro Calendar Access" in text
    assert "ad.viseur@contoso.com" in text
    assert "  memberTypes: [UserMailbox]\n" in text  # every member is a user mailbox (group.memberTypes, EXA035)
    assert "recipientRoot" not in text


def test_export_keeps_a_root_set_as_a_dn_in_canonical_form(tmp_path: Path) -> None:
    # recipient-root-dn: the scope's root was set as a DN; Exchange shows it canonical, and so does the export.
    with LabServer("recipient-root-dn") as lab:
        text = _export_then_run(lab, tmp_path)
    assert '  recipientRoot: "contoso.com/Staff"\n' in text


def test_export_of_an_ou_scoped_assignment_says_what_to_create(tmp_path: Path) -> None:
    # ou-scoped-assignment: the CallPro assignment is scoped by -RecipientOrganizationalUnitScope, which a policy
    # cannot name: a one-line usage error (exit 2) saying so, never "unscoped".
    with LabServer("ou-scoped-assignment") as lab:
        creds = lab.credentials
        target = ["--server", "127.0.0.1", "--port", str(lab.port), "--scheme", "http", "--auth", "ntlm"]
        target += ["--audit-user", creds.auditor_username, "--timeout", "10"]
        saved = dict(os.environ)
        os.environ["EXAUDIT_AUDIT_PASSWORD"] = creds.auditor_password
        try:
            out, err = io.StringIO(), io.StringIO()
            argv = ["export", "--service-account", "svcServiceAccount@contoso.com", "--out", str(tmp_path / "p.yaml")]
            code = main([*argv, "-q", *target], out, err)
        finally:
            os.environ.clear()
            os.environ.update(saved)
    assert code == 2
    assert "through the OU-scoped assignment" in err.getvalue()
    assert "every mailbox below contoso.com/Field Sales" in err.getvalue()
    assert "unscoped" not in err.getvalue()
    assert "Traceback" not in err.getvalue()
    assert not (tmp_path / "p.yaml").exists()

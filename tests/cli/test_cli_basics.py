"""The CLI surface: exit codes, help, usage errors, secrets never on argv, no tracebacks."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from audit import cli
from audit.findings import ExitCode


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(argv, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_help_documents_the_exit_code_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run(["--help"])
    assert code == 0
    text = capsys.readouterr().out
    for line in ("0  compliant", "1  non-compliant", "2  usage error", "3  state unknown", "4  nothing"):
        assert line in text
    assert "2 > 3 > 1 > 0" in text


def test_every_subcommand_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("validate", "schema", "evaluate", "plan", "collect", "run", "demo", "lab"):
        assert run([command, "--help"])[0] == 0, command
        assert "exit codes" in capsys.readouterr().out


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run([])[0] == ExitCode.USAGE


def test_a_password_cannot_be_given_on_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run(["run", "p.yaml", "--server", "ex01", "--password", "hunter2"])
    assert code == ExitCode.USAGE
    assert "hunter2" not in capsys.readouterr().err.replace("--password hunter2", "")


def test_run_without_a_server_says_how_to_try_exaudit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EXAUDIT_SERVER", raising=False)
    policy = Path(__file__).resolve().parents[2] / "policies" / "callpro.yaml"
    code, _, err = run(["run", str(policy)])
    assert code == ExitCode.USAGE
    assert "--server" in err
    assert "exaudit demo" in err


def test_an_internal_error_is_one_line_and_exit_3(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_args: object) -> ExitCode:
        raise RuntimeError("secret-ish detail that must not leak")

    monkeypatch.setitem(cli.COMMANDS, "schema", boom)
    code, _, err = run(["schema"])
    assert code == ExitCode.UNKNOWN_STATE
    assert "Traceback" not in err
    assert "secret-ish" not in err
    assert "internal error (RuntimeError)" in err


def test_debug_shows_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_args: object) -> ExitCode:
        raise RuntimeError("kaput")

    monkeypatch.setitem(cli.COMMANDS, "schema", boom)
    code, _, err = run(["--debug", "schema"])
    assert code == ExitCode.UNKNOWN_STATE
    assert "Traceback" in err


def test_password_file_is_read_and_never_echoed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "pw"
    secret.write_text("S3cret-From-File\n")
    monkeypatch.delenv("EXAUDIT_AUDIT_PASSWORD", raising=False)
    parser = cli.build_parser()
    args = parser.parse_args(
        [
            "collect",
            "p.yaml",
            "--out",
            "s.json",
            "--server",
            "ex01",
            "--auth",
            "ntlm",
            "--audit-user",
            "r",
            "--audit-password-file",
            str(secret),
        ]
    )
    target = cli._target_options(args, io.StringIO())
    assert target.audit_password == "S3cret-From-File"
    assert "S3cret" not in repr(target)


def test_missing_password_for_ntlm_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EXAUDIT_AUDIT_PASSWORD", raising=False)
    policy = str(Path(__file__).resolve().parents[2] / "policies" / "callpro.yaml")
    code, _, err = run(
        ["collect", policy, "--out", "s.json", "--server", "ex01", "--auth", "ntlm", "--audit-user", "r"]
    )
    assert code == ExitCode.USAGE
    assert "EXAUDIT_AUDIT_PASSWORD" in err


def test_environment_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXAUDIT_SERVER", "ex02.contoso.com")
    monkeypatch.setenv("EXAUDIT_AUTH", "ntlm")
    monkeypatch.setenv("EXAUDIT_REPORT_DIR", "/tmp/somewhere")
    monkeypatch.setenv("EXAUDIT_CONCURRENCY", "5")
    args = cli.build_parser().parse_args(["run", "p.yaml"])
    assert args.server == "ex02.contoso.com"
    assert args.auth == "ntlm"
    assert str(args.report_dir) == "/tmp/somewhere"
    assert args.concurrency == 5
    # flags win over the environment
    assert cli.build_parser().parse_args(["run", "p.yaml", "--server", "x"]).server == "x"


def test_insecure_is_loud(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXAUDIT_AUDIT_PASSWORD", "pw")
    args = cli.build_parser().parse_args(
        ["run", "p.yaml", "--server", "ex01", "--auth", "basic", "--audit-user", "r", "--insecure"]
    )
    err = io.StringIO()
    cli._target_options(args, err)
    assert "WARNING" in err.getvalue()
    assert "NOT verified" in err.getvalue()


def test_collection_problems_are_said_once_per_cause() -> None:
    from audit import snapshot as s

    failed = [
        s.CollectionCall(c, {}, ok=False, object_count=0, duration_ms=1.0, error="authentication failed")
        for c in ("Get-User", "Get-Group", "Get-Mailbox", "Get-Recipient")
    ]
    calls = (*failed, s.CollectionCall("Get-ManagementScope", {}, ok=True, object_count=1, duration_ms=1.0))
    snap = s.Snapshot("0", "t0", "t1", s.Target("on-premises", "x", "y", "z"), calls=calls)
    err = io.StringIO()
    cli._collection_problems(snap, err)
    lines = err.getvalue().splitlines()
    assert lines == ["exaudit: collection problem (Get-User, Get-Group, Get-Mailbox...): authentication failed"]


def test_certificate_auth_needs_https_and_both_pem_files(tmp_path: Path) -> None:
    base = ["run", "p.yaml", "--server", "ex01", "--auth", "certificate"]
    args = cli.build_parser().parse_args([*base, "--scheme", "http"])
    with pytest.raises(cli.UsageError, match="--client-cert"):
        cli._target_options(args, io.StringIO())
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    args = cli.build_parser().parse_args([*base, "--client-cert", str(cert), "--client-key", str(key)])
    target = cli._target_options(args, io.StringIO())
    assert target.client_cert == cert
    assert target.client_key == key

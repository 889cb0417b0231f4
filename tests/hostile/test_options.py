"""Numbers on the command line are range-checked (usage error, exit 2), and so are snapshot schema versions (exit 3)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from audit.cli import main
from audit.snapshot import SCHEMA_VERSION, seal_document
from tests.hostile.policies import CALLPRO, COMPLIANT

TARGET = ["--server", "127.0.0.1", "--port", "9", "--scheme", "http", "--audit-user", "a"]


def _run(argv: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdout=out, stderr=err)
    return code, err.getvalue()


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--concurrency", "0"),
        ("--concurrency", "-3"),
        ("--concurrency", "257"),
        ("--concurrency", "many"),
        ("--deadline", "0"),
        ("--deadline", "-1"),
        ("--deadline", "nan"),
        ("--deadline", "inf"),
        ("--timeout", "0"),
        ("--timeout", "-0.5"),
        ("--port", "0"),
        ("--port", "65536"),
        ("--sample-seed", "-1"),
    ],
)
def test_run_refuses_an_out_of_range_number(option: str, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = _run(["run", str(CALLPRO), *TARGET, option, value])
    assert code == 2
    assert f"argument {option}:" in capsys.readouterr().err  # argparse names the option, before any connection


@pytest.mark.parametrize(
    "argv",
    [
        ["demo", "--mailboxes", "0"],
        ["demo", "--mailboxes", "100001"],
        ["lab", "serve", "--mailboxes", "-1"],
        ["lab", "serve", "--latency-ms", "-5"],
        ["lab", "serve", "--latency-ms", "60001"],
        ["lab", "serve", "--port", "70000"],
    ],
)
def test_lab_and_demo_refuse_out_of_range_numbers(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(argv)[0] == 2
    assert "out of range" in capsys.readouterr().err


def test_bad_environment_default_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EXAUDIT_CONCURRENCY", "0")
    assert _run(["run", str(CALLPRO), *TARGET])[0] == 2
    assert "argument --concurrency: '0' is out of range" in capsys.readouterr().err


def test_numbers_in_range_are_taken() -> None:
    from audit.cli import build_parser

    args = build_parser().parse_args(["run", "p.yaml", "--concurrency", "256", "--deadline", "0.5", "--port", "1"])
    assert (args.concurrency, args.deadline, args.port, args.timeout) == (256, 0.5, 1, 60.0)


def _snapshot(tmp_path: Path, version: object) -> Path:
    doc = json.loads(COMPLIANT.read_text(encoding="utf-8"))
    doc["schema_version"] = version
    text, _ = seal_document(doc)  # sealed properly: only the version is wrong
    path = tmp_path / "snapshot.json"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("version", [0, -1, SCHEMA_VERSION + 1, 10**6])
def test_evaluate_refuses_an_unknown_schema_version(tmp_path: Path, version: int) -> None:
    code, err = _run(["evaluate", str(CALLPRO), "--snapshot", str(_snapshot(tmp_path, version))])
    assert code == 3
    assert err.startswith("exaudit: unusable snapshot: ")
    assert f"schema {version}" in err


@pytest.mark.parametrize("version", [1, SCHEMA_VERSION])
def test_evaluate_reads_every_known_schema_version(tmp_path: Path, version: int) -> None:
    code, err = _run(["evaluate", str(CALLPRO), "--snapshot", str(_snapshot(tmp_path, version)), "-q"])
    assert code in (0, 1), err  # evaluated: compliant or not, never refused

"""Reports, snapshots and exported policies are created with mode 0600 (they hold directory data) unless asked."""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from audit import snapshot as snap
from audit.cli import main
from audit.files import parse_file_mode, write_private

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "policies" / "callpro.yaml"
SNAPSHOT = ROOT / "tests" / "data" / "snapshots" / "compliant.snapshot.json"
NOW = "2026-06-01T00:00:00Z"


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that takes nothing away: the modes below are exaudit's own, not the environment's."""
    old = os.umask(0)
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _main(*argv: str) -> tuple[int, str]:
    err = io.StringIO()
    return main(list(argv), io.StringIO(), err), err.getvalue()


def test_reports_are_private_by_default(tmp_path: Path, open_umask: None) -> None:
    code, err = _main("evaluate", str(POLICY), "--snapshot", str(SNAPSHOT), "--now", NOW, "--report-dir", str(tmp_path))
    assert code == 0, err
    written = sorted(p for p in tmp_path.iterdir() if p.is_file())
    assert len(written) == 5
    assert {p.name: _mode(p) for p in written} == {p.name: 0o600 for p in written}


def test_file_mode_option_is_honoured_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        code, err = _main(
            "evaluate", str(POLICY), "--snapshot", str(SNAPSHOT), "--now", NOW,
            "--json", str(tmp_path / "r.json"), "--file-mode", "0640",
        )  # fmt: skip
    finally:
        os.umask(old)
    assert code == 0, err
    assert _mode(tmp_path / "r.json") == 0o640


def test_an_existing_world_readable_report_is_replaced_private(tmp_path: Path, open_umask: None) -> None:
    target = tmp_path / "report.json"
    target.write_text("old", encoding="utf-8")
    target.chmod(0o644)
    code, _ = _main("evaluate", str(POLICY), "--snapshot", str(SNAPSHOT), "--now", NOW, "--json", str(target))
    assert code == 0
    assert _mode(target) == 0o600
    assert target.read_text(encoding="utf-8") != "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temporary file left behind


def test_snapshot_and_exported_policy_are_private(tmp_path: Path, open_umask: None) -> None:
    loaded, _ = snap.load(SNAPSHOT)
    snap.write(loaded, tmp_path / "s.json")
    assert _mode(tmp_path / "s.json") == 0o600
    code, err = _main(
        "export", "--snapshot", str(SNAPSHOT), "--service-account", "svcServiceAccount@contoso.com",
        "--out", str(tmp_path / "p.yaml"),
    )  # fmt: skip
    assert code == 0, err
    assert _mode(tmp_path / "p.yaml") == 0o600


@pytest.mark.parametrize("bad", ["0755", "0666", "0400", "999", "rw-r--r--", "01600"])
def test_unsafe_or_malformed_file_modes_are_usage_errors(bad: str) -> None:
    with pytest.raises(ValueError, match=bad):
        parse_file_mode(bad)
    code, _ = _main("evaluate", str(POLICY), "--snapshot", str(SNAPSHOT), "--file-mode", bad)
    assert code == 2


def test_write_never_follows_a_planted_symlink(tmp_path: Path, open_umask: None) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep", encoding="utf-8")
    (tmp_path / "out.json").symlink_to(victim)
    write_private(tmp_path / "out.json", b"new")
    assert victim.read_text(encoding="utf-8") == "keep"
    assert not (tmp_path / "out.json").is_symlink()
    assert _mode(tmp_path / "out.json") == 0o600

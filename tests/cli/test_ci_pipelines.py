"""The ready-to-copy pipelines in ci/ are valid against their published schemas (vendored by check-jsonschema)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CI = Path(__file__).resolve().parents[2] / "ci"
# The Azure schema's patterns use escapes the default (ECMA) regex engine rejects; Python's accepts them.
CHECK = [sys.executable, "-m", "check_jsonschema", "--regex-variant", "python"]


@pytest.mark.parametrize(
    ("file", "schema"),
    [
        ("github-actions.yml", "vendor.github-workflows"),
        ("gitlab-ci.yml", "vendor.gitlab-ci"),
        ("azure-pipelines.yml", "vendor.azure-pipelines"),
    ],
)
def test_pipeline_matches_published_schema(file: str, schema: str) -> None:
    proc = subprocess.run(
        [*CHECK, "--builtin-schema", schema, str(CI / file)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_pipeline_publishes_junit_and_runs_exaudit() -> None:
    for name in ("github-actions.yml", "gitlab-ci.yml", "azure-pipelines.yml", "Jenkinsfile"):
        text = (CI / name).read_text()
        assert "exaudit run" in text, name
        assert "junit" in text.lower(), name
        assert "EXAUDIT_AUDIT_PASSWORD" in text, name  # secrets reach exaudit through the environment
        assert "--audit-password " not in text, name


def test_a_broken_pipeline_is_rejected(tmp_path: Path) -> None:
    """The validation can fail: a workflow without jobs is refused."""
    broken = tmp_path / "broken-workflow.yml"
    broken.write_text("name: x\non: push\n")
    proc = subprocess.run(
        [*CHECK, "--builtin-schema", "vendor.github-workflows", str(broken)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode != 0

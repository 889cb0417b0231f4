"""The pipelines in ci/ and .github/ work as written: each validated by a real tool, and held to the rules of a
live audit (scheduled and manual only, secrets only in protected contexts, pinned actions and images, results
published, exit codes mapped).

Tools: check-jsonschema's vendored schemas (GitHub, GitLab, Azure), actionlint (GitHub), kubernetes-validate's
vendored Kubernetes schemas (the CronJob example). No Jenkins linter runs offline (Jenkins' own needs a server), so
the Jenkinsfile is held to the declarative rules below.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import audit
from tests.gates import require_tool

ROOT = Path(__file__).resolve().parents[2]
CI = ROOT / "ci"
RELEASE = ROOT / ".github" / "workflows" / "release.yml"
ACTIONLINT_CONFIG = ROOT / ".github" / "actionlint.yaml"
# The Azure schema's patterns use escapes the default (ECMA) regex engine rejects; Python's accepts them.
CHECK = [sys.executable, "-m", "check_jsonschema", "--regex-variant", "python"]
SHA_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
PIPELINES = ("github-actions.yml", "gitlab-ci.yml", "azure-pipelines.yml", "Jenkinsfile")


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120, **kwargs)


# --- validated by real tools -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "schema"),
    [
        (CI / "github-actions.yml", "vendor.github-workflows"),
        (RELEASE, "vendor.github-workflows"),
        (CI / "gitlab-ci.yml", "vendor.gitlab-ci"),
        (CI / "azure-pipelines.yml", "vendor.azure-pipelines"),
    ],
    ids=lambda v: v.name if isinstance(v, Path) else v,
)
def test_pipeline_matches_published_schema(path: Path, schema: str) -> None:
    proc = _run([*CHECK, "--builtin-schema", schema, str(path)])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_broken_pipeline_is_rejected(tmp_path: Path) -> None:
    """The validation can fail: a workflow without jobs is refused."""
    broken = tmp_path / "broken-workflow.yml"
    broken.write_text("name: x\non: push\n")
    proc = _run([*CHECK, "--builtin-schema", "vendor.github-workflows", str(broken)])
    assert proc.returncode != 0


def _actionlint() -> str:
    found = shutil.which("actionlint") or shutil.which("actionlint", path=str(Path(sys.executable).parent))
    # A missing validator skips on a developer's machine and fails under CI=true (tests/gates.py).
    require_tool(found is not None, "actionlint is not installed (pip install -e '.[dev]' installs it)")
    assert found is not None
    return found


@pytest.mark.parametrize("path", [CI / "github-actions.yml", RELEASE], ids=lambda p: p.name)
def test_actionlint_passes(path: Path) -> None:
    proc = _run([_actionlint(), "-no-color", "-config-file", str(ACTIONLINT_CONFIG), str(path)])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    text = (CI / "github-actions.yml").read_text(encoding="utf-8")
    broken = tmp_path / "broken.yml"
    broken.write_text(text.replace("${{ secrets.EXAUDIT_AUDIT_PASSWORD }}", "${{ secret.EXAUDIT_AUDIT_PASSWORD }}"))
    proc = _run([_actionlint(), "-no-color", "-config-file", str(ACTIONLINT_CONFIG), str(broken)])
    assert proc.returncode == 1
    assert "secret" in proc.stdout


def test_kubernetes_cronjobs_match_the_kubernetes_schema() -> None:
    tool = shutil.which("kubernetes-validate", path=str(Path(sys.executable).parent)) or shutil.which(
        "kubernetes-validate"
    )
    require_tool(tool is not None, "kubernetes-validate is not installed (pip install -e '.[dev]' installs it)")
    assert tool is not None
    proc = _run([tool, "--strict", str(CI / "kubernetes" / "exaudit-cronjobs.yaml")])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("passed") + proc.stderr.count("passed") == 3


# --- the rules of a live audit ---------------------------------------------------------------------------------


def test_every_pipeline_installs_a_pinned_release_and_never_takes_a_password_on_argv() -> None:
    for name in PIPELINES:
        text = (CI / name).read_text(encoding="utf-8")
        assert "exaudit run" in text, name
        assert not re.search(r"pip install\s+(-\S+\s+)*exaudit(\s|$)", text), f"{name}: unpinned name install"
        assert re.search(r"EXAUDIT_VERSION\W+(value: )?\W*" + re.escape(audit.__version__), text), name
        assert "exaudit-${EXAUDIT_VERSION}-py3-none-any.whl" in text.replace("$(EXAUDIT_VERSION)", "${EXAUDIT_VERSION}")
        assert "EXAUDIT_AUDIT_PASSWORD" in text, name  # secrets reach exaudit through the environment
        assert "--audit-password " not in text, name
        assert "junit" in text.lower(), name
        assert "summary.md" in text, name


def _uses(workflow: dict[str, Any]) -> list[str]:
    return [step["uses"] for job in workflow["jobs"].values() for step in job.get("steps", []) if "uses" in step]


def _on(workflow: dict[str, Any]) -> dict[str, Any]:
    return workflow.get("on", workflow.get(True))  # PyYAML reads the key `on` as the boolean True


def test_github_live_audit_runs_only_scheduled_or_by_hand_with_secrets_in_a_protected_environment() -> None:
    wf = _yaml(CI / "github-actions.yml")
    assert set(_on(wf)) == {"schedule", "workflow_dispatch", "pull_request"}
    assert wf["permissions"] == {}
    for name, job in wf["jobs"].items():
        text = yaml.safe_dump(job)
        runs_on = job["runs-on"]
        self_hosted = "self-hosted" in (runs_on if isinstance(runs_on, list) else [runs_on])
        if "secrets." in text or self_hosted:
            # Never on pull_request: a pull request must not reach the secrets or the runner inside the network.
            assert job["if"] == "github.event_name == 'schedule' || github.event_name == 'workflow_dispatch'", name
            assert job["environment"] == "exchange-audit", name
        else:
            assert "secrets." not in text
    assert all(SHA_PIN.match(u) for u in _uses(wf)), _uses(wf)
    audit_job = wf["jobs"]["audit"]
    assert audit_job["permissions"] == {"contents": "read", "security-events": "write", "checks": "write"}
    uses = " ".join(_uses(wf))
    for action in ("mikepenz/action-junit-report", "github/codeql-action/upload-sarif", "actions/upload-artifact"):
        assert action in uses
    assert any("GITHUB_STEP_SUMMARY" in step.get("run", "") for step in audit_job["steps"])


def test_release_builds_attests_and_publishes_with_trusted_publishing() -> None:
    wf = _yaml(RELEASE)
    assert _on(wf) == {"push": {"tags": ["v*"]}}
    assert wf["permissions"] == {}
    assert all(SHA_PIN.match(u) for u in _uses(wf)), _uses(wf)
    build = wf["jobs"]["build"]
    assert build["permissions"] == {"contents": "read", "id-token": "write", "attestations": "write"}
    steps = yaml.safe_dump(build["steps"])
    assert "python -m build" in steps
    assert "twine check --strict" in steps
    assert any(s.get("uses", "").startswith("actions/attest-build-provenance@") for s in build["steps"])
    pypi = wf["jobs"]["pypi"]
    assert pypi["permissions"] == {"id-token": "write"}  # trusted publishing: no token stored anywhere
    assert pypi["environment"] == {"name": "pypi"}
    assert pypi["if"] == "vars.PYPI_PUBLISH == 'true'"  # only once the project owns the name on PyPI
    publish = pypi["steps"][-1]
    assert publish["uses"].startswith("pypa/gh-action-pypi-publish@")
    assert "with" not in publish  # no password, no token
    assert "secrets." not in RELEASE.read_text(encoding="utf-8")


def test_gitlab_live_audit_runs_only_scheduled_or_by_hand_on_a_protected_ref() -> None:
    ci = _yaml(CI / "gitlab-ci.yml")
    job = ci["exaudit-audit"]
    assert [r["if"] for r in job["rules"]] == [
        '($CI_PIPELINE_SOURCE == "schedule" || $CI_PIPELINE_SOURCE == "web") && $CI_COMMIT_REF_PROTECTED == "true"'
    ]
    for name in ("exaudit-validate", "exaudit-audit"):
        assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", ci[name]["image"]), name
    # The CA comes from a File variable, not from a path the python image does not have.
    assert "EXAUDIT_CA_BUNDLE" not in job["variables"]
    assert 'export EXAUDIT_CA_BUNDLE="$EXAUDIT_CA_FILE"' in job["script"]
    assert not [k for k in job["variables"] if "PASSWORD" in k]  # secrets only from the CI/CD settings
    assert job["artifacts"]["reports"]["junit"] == "exaudit-report/junit.xml"
    assert job["artifacts"]["when"] == "always"
    assert "secrets" not in yaml.safe_dump(ci["exaudit-validate"]).lower()


def test_azure_never_runs_for_a_pull_request_and_assumes_no_tool_cache() -> None:
    ci = _yaml(CI / "azure-pipelines.yml")
    assert ci["trigger"] == "none"
    assert ci["pr"] == "none"
    assert {"group": "exaudit-secrets"} in ci["variables"]
    steps = ci["jobs"][0]["steps"]
    assert not [s for s in steps if s.get("task", "").startswith("UsePythonVersion")]
    with_env = [s for s in steps if "env" in s]
    assert len(with_env) == 1  # the secrets are mapped into the audit step only
    assert set(with_env[0]["env"]) == {"EXAUDIT_AUDIT_PASSWORD", "EXAUDIT_SERVICE_PASSWORD"}
    text = yaml.safe_dump(steps)
    assert "task.uploadsummary" in text
    assert "PublishTestResults@2" in text
    assert "CodeAnalysisLogs" in text  # SARIF, where the SARIF SAST Scans Tab looks for it


def test_jenkinsfile_follows_the_declarative_rules() -> None:
    text = (CI / "Jenkinsfile").read_text(encoding="utf-8")
    code = re.sub(r"'''.*?'''|'[^'\n]*'|\"[^\"\n]*\"|//[^\n]*", "", text, flags=re.S)  # strip strings and comments
    assert code.count("{") == code.count("}")
    assert code.count("(") == code.count(")")
    assert code.count("[") == code.count("]")
    assert re.search(r"^pipeline \{", text, re.M)
    for section in ("agent", "triggers", "options", "environment", "stages", "post"):
        assert re.search(rf"^  {section} \{{", text, re.M), section
    assert "cron(" in text
    assert "pollSCM" not in text
    assert "credentials(" not in text  # no pipeline-wide credential binding: only inside the Audit stage
    audit_stage = text[text.index("stage('Audit')") :]
    assert audit_stage.index("when { not { changeRequest() } }") < audit_stage.index("withCredentials")
    assert text.count("withCredentials") == 1
    assert "--html-jenkins exaudit-report/html" in text
    assert "reportDir: 'exaudit-report/html'" in text
    for needed in ("junit testResults:", "recordIssues", "sarif(", "archiveArtifacts", "returnStatus: true"):
        assert needed in text, needed
    for code_value in ("1:", "2:", "3:"):
        assert code_value in audit_stage


def test_kubernetes_cronjobs_one_policy_each_secrets_from_a_secret() -> None:
    docs = list(yaml.safe_load_all((CI / "kubernetes" / "exaudit-cronjobs.yaml").read_text(encoding="utf-8")))
    cronjobs = [d for d in docs if d["kind"] == "CronJob"]
    assert len(cronjobs) >= 2
    schedules = set()
    for cj in cronjobs:
        schedules.add(cj["spec"]["schedule"])
        assert cj["spec"]["concurrencyPolicy"] == "Forbid"
        job = cj["spec"]["jobTemplate"]["spec"]
        assert job["backoffLimit"] == 0
        pod = job["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["automountServiceAccountToken"] is False
        (container,) = pod["containers"]
        assert re.fullmatch(r"ghcr\.io/exaudit/exaudit:\d+\.\d+\.\d+(@sha256:[0-9a-f]{64})?", container["image"])
        assert container["image"].split(":")[1].split("@")[0] == audit.__version__
        args = container["args"]
        assert args[0] == "run"
        assert len([a for a in args if a.endswith(".yaml")]) == 1  # one policy per Job
        env = {e["name"]: e for e in container["env"]}
        for secret in ("EXAUDIT_AUDIT_PASSWORD", "EXAUDIT_SERVICE_PASSWORD"):
            assert "value" not in env[secret]
            assert "secretKeyRef" in env[secret]["valueFrom"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert len(schedules) == len(cronjobs)  # staggered


# --- exit codes, by running each pipeline's own script against a stand-in exaudit --------------------------------


def _fake_exaudit(folder: Path, code: int) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    tool = folder / "exaudit"
    tool.write_text(f"#!/bin/sh\nmkdir -p exaudit-report\necho '# summary' > exaudit-report/summary.md\nexit {code}\n")
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    return {**os.environ, "PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}


def _audit_scripts() -> dict[str, str]:
    gh = next(
        s["run"]
        for s in _yaml(CI / "github-actions.yml")["jobs"]["audit"]["steps"]
        if "exaudit run" in s.get("run", "")
    )
    gl = next(line for line in _yaml(CI / "gitlab-ci.yml")["exaudit-audit"]["script"] if "exaudit run" in line)
    az = next(
        s["script"]
        for s in _yaml(CI / "azure-pipelines.yml")["jobs"][0]["steps"]
        if "exaudit run" in s.get("script", "")
    )
    az = az.replace("$(EXAUDIT_REPORT_DIR)", "exaudit-report")  # the macro Azure expands before the shell runs
    return {"github": gh, "gitlab": gl, "azure": az}


@pytest.mark.parametrize("system", ["github", "gitlab", "azure"])
@pytest.mark.parametrize(
    ("code", "says"),
    [
        (0, "compliant"),
        (1, "non-compliant"),
        (2, "configuration error"),
        (3, "could not tell"),
        (4, "nothing evaluated"),
    ],
)
def test_exit_codes_are_mapped(tmp_path: Path, system: str, code: int, says: str) -> None:
    env = _fake_exaudit(tmp_path / "bin", code)
    proc = _run(["bash", "-e", "-c", _audit_scripts()[system]], env=env, cwd=tmp_path)
    assert proc.returncode == code  # the job fails for every non-zero code, with the code it had
    assert says in proc.stdout.lower(), proc.stdout
    if code == 3:
        assert "fails closed" in proc.stdout

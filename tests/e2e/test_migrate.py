"""`exaudit migrate` proven end to end: its printed PowerShell, applied to the lab's Exchange Online, audits clean.

The legacy tenant (the how-to's ApplicationImpersonation setup left in Exchange Online, the integration app
consented Calendars.ReadWrite tenant-wide in Entra, no service principal pointer, no Application role) is the lab's
``exo-legacy`` scenario. The script is applied as an administrator would, line by line: Exchange cmdlets through
the lab's InvokeCommand with the lab's admin app (real msal, real HTTPS), the Entra part through the lab's Graph.
A small interpreter below reads the script: it knows the handful of constructs migrate prints (a cmdlet with
parameters, ``$x = '...'``, ``$x = (Get-Thing -Identity '...').Property``, ``if (-not (Get-Thing ...)) { }`` and
the loop over the app's Entra grants) and fails on anything else, so the script cannot drift from what is proven.
Then the Exchange Online collector audits the tenant with the migrated policy: exit code 0.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msal
import pytest
import requests

from audit.cli import main
from audit.lab.server import LabServer
from audit.policy import load_policy

from .exo_support import run_exo

REPO = Path(__file__).resolve().parents[2]
APP_ID = "6233fba6-0198-4277-892f-9275bf728bcc"
SP_ID = "7c3b5a1e-2f4d-4e8a-9b61-0d2e4f6a8c91"
ANCHOR = "APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}"

# --- a tokenizer for the PowerShell migrate prints -------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<param>-[A-Za-z]+)(?::(?P<colon>\$true|\$false))?   # -Name or -Name:$false
      | '(?P<single>(?:[^'\u2018\u2019\u201a\u201b]|['\u2018\u2019\u201a\u201b]{2})*)'
      | "(?P<double>(?:[^"`]|`.)*)"
      | (?P<var>\$[A-Za-z_][A-Za-z0-9_.]*)
      | (?P<bare>[^\s'"]+)
    )""",
    re.VERBOSE,
)


def _unquote_single(text: str) -> str:
    return re.sub(r"(['\u2018\u2019\u201a\u201b])\1", r"\1", text)


def tokenize(line: str, variables: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """``Verb-Noun -A 'x' -B:$false -C`` as (cmdlet, parameters); $variables expanded."""
    position = 0
    tokens: list[tuple[str, str]] = []
    while position < len(line):
        match = _TOKEN.match(line, position)
        assert match is not None, f"cannot read {line[position:]!r}"
        assert match.end() > position, f"cannot read {line[position:]!r}"
        position = match.end()
        if match["param"]:
            tokens.append(("param", match["param"][1:]))
            if match["colon"]:
                tokens.append(("value", match["colon"]))
        elif match["single"] is not None:
            tokens.append(("value", _unquote_single(match["single"])))
        elif match["double"] is not None:
            expanded = re.sub(r"\$([A-Za-z_]\w*)", lambda m: variables[m.group(1)], match["double"])
            tokens.append(("value", re.sub(r"`(.)", r"\1", expanded)))
        elif match["var"]:
            tokens.append(("value", variables[match["var"][1:]]))
        elif match["bare"]:
            tokens.append(("bare", match["bare"]))
    assert tokens, line
    assert tokens[0][0] == "bare", line
    cmdlet = tokens[0][1]
    params: dict[str, Any] = {}
    i = 1
    while i < len(tokens):
        kind, text = tokens[i]
        assert kind == "param", f"unexpected {text!r} in {line!r}"
        if i + 1 < len(tokens) and tokens[i + 1][0] != "param":
            value: Any = tokens[i + 1][1]
            value = {"$true": True, "$false": False}.get(value, value) if isinstance(value, str) else value
            params[text] = value
            i += 2
        else:
            params[text] = True  # a switch
            i += 1
    return cmdlet, params


def test_tokenizer_reads_what_migrate_prints() -> None:
    cmdlet, params = tokenize(
        "Remove-RoleGroup -Identity 'It''s \u2019\u2019x' -BypassSecurityGroupManagerCheck -Confirm:$false", {}
    )
    assert cmdlet == "Remove-RoleGroup"
    assert params == {"Identity": "It's \u2019x", "BypassSecurityGroupManagerCheck": True, "Confirm": False}
    assert tokenize("New-ManagementScope -Name 'S' -RecipientRestrictionFilter \"M -eq '$dn'\"", {"dn": "CN=G"}) == (
        "New-ManagementScope",
        {"Name": "S", "RecipientRestrictionFilter": "M -eq 'CN=G'"},
    )


# --- the lab's administrator ------------------------------------------------------------------------------------


class Admin:
    """The lab's admin app: InvokeCommand for Exchange, Graph for Entra (real msal, HTTPS with the lab's CA)."""

    def __init__(self, lab: LabServer) -> None:
        self.lab = lab
        creds = lab.exo_credentials
        self.session = requests.Session()
        self.session.verify = str(lab.ca_cert_path)
        self.session.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise replace the lab's CA
        self.app = msal.ConfidentialClientApplication(
            creds.admin_client_id,
            authority=lab.authority_url,
            client_credential=creds.admin_client_secret,
            instance_discovery=False,
            http_client=self.session,
        )
        self.applied: list[str] = []

    def _token(self, resource: str) -> str:
        result = self.app.acquire_token_for_client(scopes=[f"{resource}/.default"])
        assert "access_token" in result, result.get("error_description")
        return str(result["access_token"])

    def exchange(self, cmdlet: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        params = {k: v for k, v in params.items() if k not in ("ErrorAction",)}
        reply = self.session.post(
            f"{self.lab.adminapi_url}/adminapi/beta/{self.lab.tenant_id}/InvokeCommand",
            json={"CmdletInput": {"CmdletName": cmdlet, "Parameters": params}},
            headers={
                "Authorization": f"Bearer {self._token('https://outlook.office365.com')}",
                "X-AnchorMailbox": f"{ANCHOR}@{self.lab.tenant_id}",
            },
            timeout=30,
        )
        self.applied.append(cmdlet)
        assert reply.status_code == 200, f"{cmdlet} {params}: {reply.status_code} {reply.text}"
        return list(reply.json().get("value") or [])

    def exists(self, cmdlet: str, params: dict[str, Any]) -> bool:
        params = {k: v for k, v in params.items() if k != "ErrorAction"}
        reply = self.session.post(
            f"{self.lab.adminapi_url}/adminapi/beta/{self.lab.tenant_id}/InvokeCommand",
            json={"CmdletInput": {"CmdletName": cmdlet, "Parameters": params}},
            headers={
                "Authorization": f"Bearer {self._token('https://outlook.office365.com')}",
                "X-AnchorMailbox": f"{ANCHOR}@{self.lab.tenant_id}",
            },
            timeout=30,
        )
        return reply.status_code == 200 and bool(reply.json().get("value"))

    def graph(self, method: str, path: str) -> Any:
        reply = self.session.request(
            method,
            f"{self.lab.graph_url}/v1.0/{path}",
            headers={"Authorization": f"Bearer {self._token('https://graph.microsoft.com')}"},
            timeout=30,
        )
        self.applied.append(f"{method} {path}")
        assert reply.status_code in (200, 204), f"{method} {path}: {reply.status_code} {reply.text}"
        return reply.json() if reply.content else None


# --- the interpreter --------------------------------------------------------------------------------------------


def _statements(script: str) -> Iterator[str]:
    for raw in script.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            yield line


def apply(script: str, admin: Admin) -> None:
    """Run migrate's script against the lab, construct by construct; anything unknown fails the test."""
    lines = list(_statements(script))
    variables: dict[str, str] = {}
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        guard = re.fullmatch(r"if \(-not \((.+)\)\) \{", line)
        if guard:
            block, i = _block(lines, i)
            cmdlet, params = tokenize(guard.group(1), variables)
            if not admin.exists(cmdlet, params):
                apply("\n".join(block), admin)
            continue
        loop = re.fullmatch(r"foreach \(\$grant in Get-MgServicePrincipalAppRoleAssignment (.+) -All\) \{", line)
        if loop:
            block, i = _block(lines, i)
            _remove_grants(tokenize(f"X {loop.group(1)}", variables)[1]["ServicePrincipalId"], block, admin)
            continue
        assign = re.fullmatch(r"\$(\w+) = (.+)", line)
        if assign:
            name, value = assign.groups()
            lookup = re.fullmatch(r"\((.+)\)\.(\w+)", value)
            if lookup:
                cmdlet, params = tokenize(lookup.group(1), variables)
                (found,) = admin.exchange(cmdlet, params)
                variables[name] = str(found[lookup.group(2)])
            else:
                variables[name] = tokenize(f"X -V {value}", variables)[1]["V"]
            continue
        cmdlet, params = tokenize(line, variables)
        if cmdlet == "Update-MgUser":
            # The lab has no PATCH /users; its Exchange side disables the same account (Set-User -AccountDisabled).
            assert params.get("AccountEnabled") is False, line
            admin.exchange("Set-User", {"Identity": params["UserId"], "AccountDisabled": True})
            continue
        assert re.fullmatch(r"(New|Set|Remove|Test|Get)-\w+", cmdlet), line
        admin.exchange(cmdlet, params)


def _block(lines: list[str], start: int) -> tuple[list[str], int]:
    depth, i, block = 1, start, []
    while depth:
        line = lines[i]
        depth += line.count("{") - line.count("}")
        if depth:
            block.append(line)
        i += 1
    return block, i


def _remove_grants(sp: str, block: list[str], admin: Admin) -> None:
    """The loop migrate prints: remove each of the app's Entra grants whose app role value matches its pattern."""
    (pattern,) = [m.group(1) for line in block if (m := re.search(r"-match '(.+)'\) \{$", line))]
    assert any("Remove-MgServicePrincipalAppRoleAssignment" in line for line in block)
    regex = re.compile(_unquote_single(pattern), re.IGNORECASE)  # PowerShell's -match ignores case
    for grant in admin.graph("GET", f"servicePrincipals/{sp}/appRoleAssignments")["value"]:
        resource = admin.graph("GET", f"servicePrincipals/{grant['resourceId']}")
        value = next(r["value"] for r in resource["appRoles"] if r["id"] == grant["appRoleId"])
        if regex.search(value):
            admin.graph("DELETE", f"servicePrincipals/{sp}/appRoleAssignments/{grant['id']}")


# --- the proof --------------------------------------------------------------------------------------------------


@pytest.fixture
def legacy_lab() -> Iterator[LabServer]:
    with LabServer("exo-legacy") as lab:
        yield lab


def test_migrate_applied_to_the_legacy_tenant_audits_clean(legacy_lab: LabServer, tmp_path: Path) -> None:
    admin = Admin(legacy_lab)
    policy = tmp_path / "callpro-exo.yaml"
    out, err = io.StringIO(), io.StringIO()
    argv = ["migrate", str(REPO / "policies" / "callpro.yaml"), "--app-id", APP_ID, "--service-principal-id", SP_ID]
    argv += ["--display-name", "CallPro CalendarSync", "--out", str(policy)]
    assert main(argv, out, err) == 0, err.getvalue()
    assert load_policy(policy).spec.legacy is not None

    before = run_exo(legacy_lab, tmp_path / "before", policy=policy)
    assert before.code != 0, "the legacy tenant must not pass before the move"
    assert {"EXA070", "EXA074", "EXA078"} <= before.not_passing(), before.stderr

    apply(out.getvalue(), admin)
    for done in ("New-ServicePrincipal", "New-ManagementRoleAssignment", "Remove-RoleGroup", "Set-User"):
        assert done in admin.applied, admin.applied
    assert any(step.startswith("DELETE servicePrincipals/") for step in admin.applied), admin.applied

    after = run_exo(legacy_lab, tmp_path / "after", policy=policy)
    assert after.code == 0, after.stderr
    assert after.not_passing() == set(), after.stderr

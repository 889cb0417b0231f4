"""Fixtures for the Exchange Online lab tests: a running lab per scenario, real msal, requests over HTTPS."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import msal
import pytest
import requests

from audit.lab.server import LabServer

ANCHOR = "APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@"
OUTLOOK = "https://outlook.office365.com/.default"
GRAPH = "https://graph.microsoft.com/.default"


@pytest.fixture(autouse=True)
def _ca_from_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    # requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override Session.verify (psf/requests#3829): msal's
    # verify=<lab CA> must win in these tests, as it does on a machine without those variables.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


@dataclass
class Exo:
    """A running Exchange Online lab and helpers to call it as a client would."""

    lab: LabServer

    @property
    def ca(self) -> str:
        return str(self.lab.ca_cert_path)

    def msal_app(self, client_id: str, credential: Any) -> msal.ConfidentialClientApplication:
        return msal.ConfidentialClientApplication(
            client_id,
            authority=self.lab.authority_url,
            client_credential=credential,
            instance_discovery=False,
            verify=self.ca,
        )

    def token(self, who: str, scope: str) -> str:
        creds = self.lab.exo_credentials
        client_id, secret = {
            "auditor": (creds.auditor_client_id, creds.auditor_client_secret),
            "integration": (creds.integration_client_id, creds.integration_client_secret),
            "admin": (creds.admin_client_id, creds.admin_client_secret),
        }[who]
        result = self.msal_app(client_id, secret).acquire_token_for_client([scope])
        assert "access_token" in result, result
        return str(result["access_token"])

    def invoke(
        self,
        cmdlet: str,
        parameters: dict[str, Any] | None = None,
        *,
        who: str = "auditor",
        url: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        body = {"CmdletInput": {"CmdletName": cmdlet, "Parameters": parameters or {}}}
        sent = {
            "Authorization": f"Bearer {self.token(who, OUTLOOK)}",
            "X-AnchorMailbox": ANCHOR + self.lab.tenant_id,
        } | (headers or {})
        target = url or f"{self.lab.adminapi_url}/adminapi/beta/{self.lab.tenant_id}/InvokeCommand"
        return requests.post(target, json=body, headers=sent, verify=self.ca, timeout=30)

    def graph(self, method: str, path: str, *, who: str = "integration", **kw: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token(who, GRAPH)}"}
        return requests.request(
            method, f"{self.lab.graph_url}/v1.0{path}", headers=headers, verify=self.ca, timeout=30, **kw
        )


@pytest.fixture
def exo(request: pytest.FixtureRequest) -> Iterator[Exo]:
    scenario = getattr(request, "param", "exo-compliant")
    with LabServer(scenario) as lab:
        yield Exo(lab)

"""The token service against REAL msal: client secrets, certificate assertions (PS256 and RS256), Entra errors."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import msal
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from audit.lab.tokens import TokenAuthority, TokenError, b64url, make_certificate, thumbprint_sha1_hex, unb64url

from .conftest import GRAPH, OUTLOOK, Exo


def claims_of(token: str) -> dict[str, object]:
    return json.loads(unb64url(token.split(".")[1]))


def test_secret_gives_a_token_whose_roles_are_the_entra_consent_only(exo: Exo) -> None:
    creds = exo.lab.exo_credentials
    auditor = exo.msal_app(creds.auditor_client_id, creds.auditor_client_secret)
    outlook = claims_of(auditor.acquire_token_for_client([OUTLOOK])["access_token"])
    graph = claims_of(auditor.acquire_token_for_client([GRAPH])["access_token"])
    assert outlook["aud"] == "https://outlook.office365.com"
    assert outlook["roles"] == ["Exchange.ManageAsApp"]
    assert graph["roles"] == ["Application.Read.All"]
    assert outlook["tid"] == exo.lab.tenant_id == "2f4a9c1e-7b3d-4e5f-a6b7-c8d9e0f1a2b3"
    assert outlook["oid"] == "5d39cc4d-1a2b-4c3d-8e4f-9a0b1c2d3e4f"
    # The integration's Exchange role (RBAC for Applications) never shows in a token (exo-2026.md 1.6).
    integration = claims_of(exo.token("integration", GRAPH))
    assert "roles" not in integration
    assert integration["appid"] == "6233fba6-0198-4277-892f-9275bf728bcc"


def test_certificate_assertions_ps256_and_rs256(exo: Exo) -> None:
    creds = exo.lab.exo_credentials
    cert = Path(creds.auditor_cert_path).read_text()
    key = Path(creds.auditor_key_path).read_text()
    ps256 = exo.msal_app(creds.auditor_client_id, {"private_key": key, "public_certificate": cert})
    assert "access_token" in ps256.acquire_token_for_client([OUTLOOK])
    rs256 = exo.msal_app(
        creds.auditor_client_id, {"private_key": key, "thumbprint": thumbprint_sha1_hex(cert.encode())}
    )
    assert "access_token" in rs256.acquire_token_for_client([GRAPH])


def test_a_certificate_that_is_not_registered_is_refused(exo: Exo) -> None:
    creds = exo.lab.exo_credentials
    other_cert, other_key = make_certificate("someone else")
    app = exo.msal_app(
        creds.auditor_client_id, {"private_key": other_key.decode(), "public_certificate": other_cert.decode()}
    )
    result = app.acquire_token_for_client([OUTLOOK])
    assert result["error"] == "invalid_client"
    assert result["error_description"].startswith("AADSTS700027:")


def test_wrong_secret_unknown_client_bad_scope(exo: Exo) -> None:
    creds = exo.lab.exo_credentials
    wrong = exo.msal_app(creds.auditor_client_id, "not-the-secret").acquire_token_for_client([OUTLOOK])
    assert wrong["error"] == "invalid_client"
    assert wrong["error_codes"] == [7000215]
    assert "not-the-secret" not in json.dumps(wrong)
    unknown = exo.msal_app(str(uuid.uuid4()), "x").acquire_token_for_client([OUTLOOK])
    assert unknown["error"] == "unauthorized_client"
    assert unknown["error_description"].startswith("AADSTS700016:")
    scope = exo.msal_app(creds.auditor_client_id, creds.auditor_client_secret).acquire_token_for_client(
        ["https://example.invalid/.default"]
    )
    assert scope["error"] == "invalid_resource"


def test_unknown_tenant_is_400_aadsts90002(exo: Exo) -> None:
    base = exo.lab.base_url
    resp = requests.get(f"{base}/contoso.example/v2.0/.well-known/openid-configuration", verify=exo.ca, timeout=10)
    assert resp.status_code == 400
    assert resp.json()["error_codes"] == [90002]
    with pytest.raises(ValueError, match="Unable to get authority configuration"):
        msal.ConfidentialClientApplication(
            "x", authority=f"{base}/{uuid.uuid4()}", client_credential="y", instance_discovery=False, verify=exo.ca
        )


def _assertion(key: rsa.RSAPrivateKey, cert_pem: bytes, claims: dict[str, object]) -> str:
    cert = x509.load_pem_x509_certificate(cert_pem)
    header = {"alg": "RS256", "typ": "JWT", "x5t": b64url(cert.fingerprint(hashes.SHA1()))}
    signing = ".".join(b64url(json.dumps(p).encode()) for p in (header, claims))
    signature = key.sign(signing.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing}.{b64url(signature)}"


@pytest.mark.parametrize(
    ("change", "code"),
    [({"exp": 1}, 700024), ({"aud": "https://elsewhere/token"}, 700027), ({"iss": "someone"}, 700021)],
)
def test_assertion_time_audience_and_issuer_are_checked(exo: Exo, change: dict[str, object], code: int) -> None:
    creds = exo.lab.exo_credentials
    key = serialization.load_pem_private_key(Path(creds.auditor_key_path).read_bytes(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    endpoint = f"{exo.lab.authority_url}/oauth2/v2.0/token"
    now = int(time.time())
    claims: dict[str, object] = {
        "aud": endpoint,
        "iss": creds.auditor_client_id,
        "sub": creds.auditor_client_id,
        "exp": now + 600,
        "nbf": now,
        "jti": str(uuid.uuid4()),
    } | change
    form = {
        "grant_type": "client_credentials",
        "client_id": creds.auditor_client_id,
        "scope": OUTLOOK,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": _assertion(key, Path(creds.auditor_cert_path).read_bytes(), claims),
    }
    resp = requests.post(endpoint, data=form, verify=exo.ca, timeout=10)
    assert resp.status_code == 401
    assert resp.json()["error_codes"] == [code]


def test_token_429_has_retry_after(exo: Exo) -> None:
    exo.lab.faults.set_429("token", next_requests=1, retry_after=2)
    endpoint = f"{exo.lab.authority_url}/oauth2/v2.0/token"
    resp = requests.post(endpoint, data={"grant_type": "client_credentials"}, verify=exo.ca, timeout=10)
    assert resp.status_code == 429
    assert resp.headers["Retry-After"] == "2"


def test_authority_verify_refuses_wrong_audience_expiry_and_tampering() -> None:
    authority = TokenAuthority("t")
    token = authority.issue(audience="https://graph.microsoft.com", app_id="a", object_id="o", roles=["x"])
    assert authority.verify(token, "https://graph.microsoft.com")["roles"] == ["x"]
    with pytest.raises(TokenError, match="audience"):
        authority.verify(token, "https://outlook.office365.com")
    with pytest.raises(TokenError, match="expired"):
        authority.verify(token, "https://graph.microsoft.com", now=time.time() + 7200)
    head, _body, sig = token.split(".")
    forged = b64url(json.dumps(claims_of(token) | {"roles": ["Calendars.ReadWrite"]}).encode())
    with pytest.raises(TokenError, match="signature"):
        authority.verify(f"{head}.{forged}.{sig}", "https://graph.microsoft.com")
    with pytest.raises(TokenError, match="signed by this lab"):
        TokenAuthority("t").verify(token, "https://graph.microsoft.com")

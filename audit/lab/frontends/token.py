"""The token service: OpenID discovery and the v2.0 token endpoint, client credentials only (msal's requests).

``GET /{tenant}/v2.0/.well-known/openid-configuration`` and ``POST /{tenant}/oauth2/v2.0/token`` with
``grant_type=client_credentials``, ``scope=<resource>/.default`` and either ``client_secret`` or a
``client_assertion`` (domain/exo-2026.md sections 5.1-5.2). Errors are Entra's shape: ``error``,
``error_description`` starting with the AADSTS code, ``error_codes``, trace and correlation ids.
"""

from __future__ import annotations

import datetime
import secrets
import urllib.parse
import uuid
from typing import Any

from audit.lab.exo import RESOURCES
from audit.lab.frontends import ExoContext, json_response
from audit.lab.http import LabRequest, LabResponse
from audit.lab.tokens import TokenError, verify_assertion

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_AUDIENCES = {r.audience: r for r in RESOURCES.values()} | {r.app_id: r for r in RESOURCES.values()}


def entra_error(status: int, error: str, code: int, message: str) -> LabResponse:
    """An Entra ID error body (AADSTS code first in error_description)."""
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return json_response(
        status,
        {
            "error": error,
            "error_description": (
                f"AADSTS{code}: {message} Trace ID: {trace} Correlation ID: {correlation} Timestamp: {stamp}"
            ),
            "error_codes": [code],
            "timestamp": stamp,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": "https://login.microsoftonline.com/error?code=" + str(code),
        },
    )


class TokenService:
    """The handler for every ``/{tenant}/...`` path of the token service."""

    def __init__(self, ctx: ExoContext) -> None:
        self.ctx = ctx

    def _known_tenant(self, segment: str) -> bool:
        exo = self.ctx.tenant().exo
        return exo is not None and segment.lower() in (exo.tenant_id.lower(), exo.initial_domain.lower())

    def __call__(self, request: LabRequest) -> LabResponse:
        """Route one request."""
        parts = [p for p in request.path.split("/") if p]
        if not parts:
            return json_response(404, {"error": "not_found"})
        tenant, rest = parts[0], "/".join(parts[1:]).lower()
        self.ctx.log.count("token", rest or "/")
        retry = self.ctx.faults.take_429("token")
        if retry is not None:
            return json_response(
                429,
                {"error": "temporarily_unavailable", "error_description": "AADSTS50196: Too many requests."},
                {"Retry-After": str(retry)},
            )
        if not self._known_tenant(tenant):
            return entra_error(
                400,
                "invalid_tenant",
                90002,
                f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing "
                "into the correct cloud.",
            )
        exo = self.ctx.tenant().exo
        assert exo is not None
        base = f"{self.ctx.base_url()}/{exo.tenant_id}"
        if rest == "v2.0/.well-known/openid-configuration" and request.method == "GET":
            return json_response(200, self._discovery(base))
        if rest == "discovery/v2.0/keys" and request.method == "GET":
            return json_response(200, self.ctx.authority.jwks())
        if rest == "oauth2/v2.0/token":
            if request.method != "POST":
                return entra_error(405, "invalid_request", 900561, "The endpoint only accepts POST requests.")
            return self._token(request, f"{base}/oauth2/v2.0/token")
        return json_response(404, {"error": "not_found"})

    def _discovery(self, base: str) -> dict[str, Any]:
        return {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{base}/v2.0",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "tenant_region_scope": "EU",
        }

    def _token(self, request: LabRequest, endpoint: str) -> LabResponse:
        try:
            form = dict(urllib.parse.parse_qsl(request.body.decode("ascii"), keep_blank_values=True))
        except (UnicodeDecodeError, ValueError):
            return entra_error(400, "invalid_request", 900144, "The request body must be form-encoded.")
        if form.get("grant_type") != "client_credentials":
            return entra_error(
                400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type (lab)."
            )
        client_id = form.get("client_id", "").strip().lower()
        tenant = self.ctx.tenant()
        exo = tenant.exo
        assert exo is not None
        app = next((a for a in exo.apps if a.app_id.lower() == client_id), None)
        if app is None:
            return entra_error(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory '{exo.tenant_id}'.",
            )
        if not app.account_enabled:
            return entra_error(400, "unauthorized_client", 7000112, "Application is disabled.")
        scope = form.get("scope", "").strip()
        resource_text = scope.removesuffix("/.default")
        resource = _AUDIENCES.get(resource_text.rstrip("/"))
        if not scope.endswith("/.default") or " " in scope:
            return entra_error(
                400,
                "invalid_scope",
                1002012,
                f"The provided value for scope {scope} is not valid. Client credential flows must have a scope "
                "value with /.default suffixed to the resource identifier (application ID URI).",
            )
        if resource is None:
            return entra_error(
                400,
                "invalid_resource",
                500011,
                f"The resource principal named {resource_text} was not found in the tenant named {exo.tenant_id}.",
            )
        refused = self._check_credential(form, app.app_id, endpoint)
        if refused is not None:
            return refused
        live = {(r, v) for _gid, r, v in exo.entra_grants(app)}
        roles = [v for r, v in app.entra_roles if r == resource.key and (r, v) in live]
        token = self.ctx.authority.issue(
            audience=resource.audience, app_id=app.app_id, object_id=app.object_id, roles=roles
        )
        return json_response(
            200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token}
        )

    def _check_credential(self, form: dict[str, str], client_id: str, endpoint: str) -> LabResponse | None:
        secret = form.get("client_secret")
        assertion = form.get("client_assertion")
        if secret is not None:
            expected = self.ctx.secrets.get(client_id)
            if expected is None or not secrets.compare_digest(expected.encode(), secret.encode()):
                return entra_error(
                    401,
                    "invalid_client",
                    7000215,
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client "
                    f"secret value, not the client secret ID, for a secret added to app '{client_id}'.",
                )
            return None
        if assertion is not None:
            if form.get("client_assertion_type") != ASSERTION_TYPE:
                return entra_error(400, "invalid_request", 50027, "The client_assertion_type is not supported.")
            try:
                verify_assertion(
                    assertion,
                    client_id=client_id,
                    token_endpoint=endpoint,
                    certificates=self.ctx.certificates.get(client_id, ()),
                )
            except TokenError as exc:
                return entra_error(401, "invalid_client", int(exc.code.removeprefix("AADSTS")), exc.message)
            return None
        return entra_error(
            401,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        )

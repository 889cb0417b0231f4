"""InvokeCommand: the REST transport of the Exchange Online module, over the lab's shared cmdlets.

``POST /adminapi/beta/{tenant}/InvokeCommand`` with ``{"CmdletInput": {"CmdletName", "Parameters"}}``, a Bearer
token for ``https://outlook.office365.com`` holding the app role ``Exchange.ManageAsApp``, and ``X-AnchorMailbox``
(domain/exo-2026.md section 2b). Answers ``{"@odata.context", "value", "@odata.nextLink"}`` pages sized by
``Prefer: odata.maxpagesize``; the client POSTs the same body to nextLink. Warnings go to ``@adminapi.warnings``;
a cmdlet the app's role groups do not expose is 401 "User is not allowed to call X" (office-docs-powershell #7970);
any other terminating error is 400 with ``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

import datetime
import hashlib
import re
import urllib.parse
import uuid
from typing import Any

from audit.lab.cmdlets import CmdletHost, CommandCall, ErrorSpec, Output, Warning
from audit.lab.cmdlets.objects import ExchangeObject, MultiValued, Value
from audit.lab.exo import EXCHANGE_AUDIENCE
from audit.lab.exo_authz import app_visible_cmdlets
from audit.lab.frontends import ExoContext, json_response, read_json
from audit.lab.http import LabRequest, LabResponse
from audit.lab.tokens import TokenError, bearer

MANAGE_AS_APP = "Exchange.ManageAsApp"
DEFAULT_PAGE_SIZE = 1000
MAX_PAGE_SIZE = 1000
_PATH = re.compile(r"^/adminapi/beta/([^/]+)/InvokeCommand$", re.IGNORECASE)
_MAX_PAGE = re.compile(r"odata\.maxpagesize\s*=\s*(\d+)", re.IGNORECASE)
_PARAM_TYPES = (str, bool, int, float, type(None))


def encode_value(value: Value) -> Any:
    """One property value as JSON (the type chain of MultiValued dropped: UNVERIFIED whether EXO sends one)."""
    if isinstance(value, MultiValued):
        return list(value.items)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")
    return value


def encode_object(obj: ExchangeObject) -> dict[str, Any]:
    """An ExchangeObject as one JSON object, in the cmdlet's property order."""
    return {name: encode_value(value) for name, value in obj.props}


def _error(status: int, code: str, message: str) -> LabResponse:
    return json_response(
        status,
        {
            "error": {
                "code": code,
                "message": message,
                "innererror": {
                    "message": message,
                    "type": "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
                },
            }
        },
        {"WWW-Authenticate": 'Bearer realm=""'} if status == 401 else None,
    )


class InvokeCommand:
    """The /adminapi handler."""

    def __init__(self, ctx: ExoContext) -> None:
        self.ctx = ctx
        self.host = CmdletHost(ctx.tenant, commit=ctx.commit)

    def __call__(self, request: LabRequest) -> LabResponse:
        """Authenticate, check the request, run the cmdlet, page the answer."""
        match = _PATH.match(request.path)
        if match is None:
            return _error(404, "NotFound", f"The resource {request.path} was not found.")
        if request.method != "POST":
            return _error(405, "MethodNotAllowed", "InvokeCommand accepts POST only.")
        tenant = self.ctx.tenant()
        exo = tenant.exo
        assert exo is not None
        if match.group(1).lower() not in (exo.tenant_id.lower(), exo.initial_domain.lower()):
            return _error(404, "NotFound", f"The tenant {match.group(1)} was not found.")
        retry = self.ctx.faults.take_429("adminapi")
        if retry is not None:
            self.ctx.log.count("adminapi", "429")
            return json_response(
                429,
                {"error": {"code": "TooManyRequests", "message": "Too many concurrent requests; retry later."}},
                {"Retry-After": str(retry)},
            )
        token = bearer(request.headers.get("Authorization", ""))
        if token is None:
            return _error(401, "Unauthorized", "The request has no Bearer token.")
        try:
            claims = self.ctx.authority.verify(token, EXCHANGE_AUDIENCE)
        except TokenError as exc:
            return _error(401, "Unauthorized", f"The access token is not valid: {exc.message}.")
        if MANAGE_AS_APP not in (claims.get("roles") or []):
            return _error(401, "Unauthorized", f"The access token does not hold the {MANAGE_AS_APP} role.")
        if not request.headers.get("X-AnchorMailbox", "").strip():
            return _error(400, "BadRequest", "The X-AnchorMailbox header is required.")
        try:
            payload = read_json(request.body)
            cmdlet_input = payload["CmdletInput"]
            name = cmdlet_input["CmdletName"]
            parameters = cmdlet_input.get("Parameters")
            parameters = {} if parameters is None else parameters
            if not isinstance(name, str) or not isinstance(parameters, dict):
                raise TypeError("CmdletName must be a string and Parameters an object")
            for value in parameters.values():
                items = value if isinstance(value, list) else [value]
                if not all(isinstance(v, _PARAM_TYPES) for v in items):
                    raise TypeError("parameter values must be strings, numbers, booleans, null or lists of them")
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            return _error(400, "BadRequest", f"The request body is not a CmdletInput: {exc}")
        self.ctx.log.count("adminapi", name)
        app = exo.app(str(claims.get("appid", "")))
        visible = app_visible_cmdlets(tenant, app.object_id) if app is not None else frozenset()
        skip = self._skip(request, name, parameters)
        if skip is None:
            return _error(400, "BadRequest", "The $skiptoken does not belong to this request.")
        caller = app.app_id if app is not None else str(claims.get("appid", ""))
        return self._run(request, caller, visible, name, parameters, skip, match.group(1))

    def _run(
        self,
        request: LabRequest,
        caller: str,
        visible: frozenset[str],
        name: str,
        parameters: dict[str, Any],
        skip: int,
        tenant_segment: str,
    ) -> LabResponse:
        call = CommandCall(name, False, list(parameters.items()))
        values: list[dict[str, Any]] = []
        warnings: list[str] = []
        errors: list[ErrorSpec] = []
        for emission in self.host.invoke(caller, visible, call):
            if isinstance(emission, Output):
                values.append(encode_object(emission.obj))
            elif isinstance(emission, Warning):
                warnings.append(emission.message)
            else:
                errors.append(emission)
        terminating = next((e for e in errors if e.terminating), None)
        if terminating is not None:
            if terminating.reason == "CommandNotFoundException":
                return _error(401, "Unauthorized", f"User is not allowed to call {name}")
            return _error(400, terminating.reason, terminating.message)
        if errors and not values:
            # A non-terminating error and nothing else (e.g. -Identity not found): the REST module raises it.
            # The status and code are the lab's (UNVERIFIED against the gateway).
            return _error(404, errors[0].reason, errors[0].message)
        warnings.extend(e.message for e in errors)
        size = self._page_size(request)
        page = values[skip : skip + size]
        base = self.ctx.base_url()
        out: dict[str, Any] = {
            "@odata.context": f"{base}/adminapi/beta/{tenant_segment}/$metadata#Collection(Exchange.GenericHashTable)",
            "value": page,
        }
        if warnings:
            out["@adminapi.warnings"] = warnings
        if skip + size < len(values):
            token = f"{skip + size}.{_fingerprint(name, parameters)}"
            out["@odata.nextLink"] = (
                f"{base}/adminapi/beta/{tenant_segment}/InvokeCommand?$skiptoken={urllib.parse.quote(token)}"
            )
        return json_response(200, out)

    def _page_size(self, request: LabRequest) -> int:
        match = _MAX_PAGE.search(request.headers.get("Prefer", ""))
        size = int(match.group(1)) if match else DEFAULT_PAGE_SIZE
        return max(1, min(size, MAX_PAGE_SIZE))

    def _skip(self, request: LabRequest, name: str, parameters: dict[str, Any]) -> int | None:
        token = request.query.get("$skiptoken")
        if token is None:
            return 0
        skip, _, fingerprint = token.partition(".")
        if not skip.isdigit() or fingerprint != _fingerprint(name, parameters):
            return None
        return int(skip)


def _fingerprint(name: str, parameters: dict[str, Any]) -> str:
    text = name.lower() + repr(sorted((k.lower(), repr(v)) for k, v in parameters.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]

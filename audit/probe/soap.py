"""EWS SOAP replies as the prober reads them: parsed from their bytes, and refused when they contradict themselves.

The service classes here are exchangelib's GetFolder, CreateItem, DeleteItem and FindItem with the reply parsing
replaced (see :class:`_WholeBodyParsing`); the prober in :mod:`audit.probe.ews` calls them directly.
"""

from __future__ import annotations

from typing import Any

from exchangelib import errors as ews_errors
from exchangelib import services as ews_services
from exchangelib.util import ENS, MNS, SOAPNS, ParseError, to_xml

from audit.errors import ProbeError


class ContradictoryReply(ProbeError):
    """An EWS reply that says two things at once; it proves neither access nor refusal."""


_FAULT = f"{{{SOAPNS}}}Fault"
_RESPONSE_CODE = f"{{{MNS}}}ResponseCode"
_RESPONSE_CLASSES = frozenset({"Success", "Warning", "Error"})


def check_consistent(status: int, body: Any) -> None:
    """Refuse a SOAP body that contradicts itself or its HTTP status (raises :class:`ContradictoryReply`).

    EWS answers a request with HTTP 200 and one ``*ResponseMessage`` per item asked for, each with one ResponseCode
    and a ResponseClass of Success exactly when that code is NoError, or with HTTP 500 and a single SOAP Fault
    (https://learn.microsoft.com/exchange/client-developer/web-service-reference/responsecode, exchange-rbac.md
    section 8). Anything else (a Success that carries an error code, an Error that says NoError, two codes in one
    message, a Fault beside a response, a Fault under HTTP 200 or 403) could be read either way: reading it as
    "denied" would report a canary as out of reach on no evidence, so it is an ERROR.
    """
    parts = list(body)
    faults = [p for p in parts if p.tag == _FAULT]
    if len(parts) != 1:
        raise ContradictoryReply(f"EWS reply with {len(parts)} elements in its SOAP Body ({len(faults)} Fault)")
    if faults:
        if status != 500:
            raise ContradictoryReply(f"EWS reply with a SOAP Fault under HTTP {status} (EWS sends faults with 500)")
        codes = faults[0].findall(f".//{{{ENS}}}ResponseCode")
        if len(codes) > 1:
            raise ContradictoryReply(f"EWS SOAP Fault with {len(codes)} ResponseCodes")
        return
    if status != 200:
        raise ContradictoryReply(f"EWS reply with a SOAP response under HTTP {status}")
    for message in parts[0].iter():
        tag = message.tag if isinstance(message.tag, str) else ""
        if not (tag.startswith(f"{{{MNS}}}") and tag.endswith("ResponseMessage")):
            continue
        codes = message.findall(_RESPONSE_CODE)
        if len(codes) != 1:
            raise ContradictoryReply(f"EWS response message with {len(codes)} ResponseCodes")
        code = (codes[0].text or "").strip()
        response_class = message.get("ResponseClass")
        if response_class not in _RESPONSE_CLASSES or (response_class == "Success") != (code == "NoError"):
            raise ContradictoryReply(
                f"EWS response message with ResponseClass {str(response_class)[:40]} and ResponseCode {code[:80]}"
            )


class WholeBodyParsing:
    """Parse a (non-streamed) SOAP reply from its bytes, refusing one that contradicts itself.

    exchangelib parses every reply through ``response.iter_content()``, whose default chunk size is one byte:
    a GetFolder reply costs a thousand Python iterations, a quarter of the prober's CPU time per probe.
    """

    expected_messages = 1  # response messages one request of this service must carry (one folder, one item)

    @classmethod
    def _get_soap_parts(cls, response: Any) -> tuple[Any, Any]:
        try:
            root = to_xml(response.content)
        except ParseError as exc:
            raise ews_errors.SOAPError(f"Bad SOAP response: {exc}") from exc
        body = root.find(f"{{{SOAPNS}}}Body")
        if body is None:
            raise ews_errors.MalformedResponseError("No Body element in SOAP response")
        check_consistent(response.status_code, body)
        return root.find(f"{{{SOAPNS}}}Header"), body

    def _get_soap_messages(self, body: Any) -> Any:
        messages = super()._get_soap_messages(body)  # type: ignore[misc]  # the exchangelib service's
        if len(messages) != self.expected_messages:
            raise ContradictoryReply(
                f"EWS reply with {len(messages)} response messages for {self.expected_messages} requested"
            )
        return messages


class GetFolder(WholeBodyParsing, ews_services.GetFolder):  # type: ignore[misc]  # exchangelib is untyped
    """exchangelib's GetFolder with checked reply parsing."""


class CreateItem(WholeBodyParsing, ews_services.CreateItem):  # type: ignore[misc]
    """exchangelib's CreateItem with checked reply parsing."""


class DeleteItem(WholeBodyParsing, ews_services.DeleteItem):  # type: ignore[misc]
    """exchangelib's DeleteItem with checked reply parsing (one response message per item deleted)."""


class FindItem(WholeBodyParsing, ews_services.FindItem):  # type: ignore[misc]
    """exchangelib's FindItem with checked reply parsing."""

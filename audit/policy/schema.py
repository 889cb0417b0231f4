"""JSON Schema (draft 2020-12) of the policy format, generated from the models, for editors and CI linters."""

from __future__ import annotations

from typing import Any

from audit.policy.model import MailboxAccessPolicy

SCHEMA_ID = "https://exaudit.dev/schemas/mailbox-access-policy.v1.json"
DRAFT = "https://json-schema.org/draft/2020-12/schema"


def policy_json_schema() -> dict[str, Any]:
    """The JSON Schema of ``kind: MailboxAccessPolicy`` by YAML key (camelCase), closed to unknown keys."""
    schema = MailboxAccessPolicy.model_json_schema(by_alias=True, mode="validation")
    _close(schema)
    return {"$schema": DRAFT, "$id": SCHEMA_ID, **schema}


def _close(node: Any) -> None:
    """Set additionalProperties false on every object schema that lists its properties."""
    if isinstance(node, dict):
        if node.get("type") == "object" and "properties" in node:
            node["additionalProperties"] = False
        for value in node.values():
            _close(value)
    elif isinstance(node, list):
        for value in node:
            _close(value)

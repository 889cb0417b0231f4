"""JSON Schema (draft 2020-12) of the policy format, generated from the models, for editors and CI linters."""

from __future__ import annotations

import re
from typing import Any

from audit.policy.model import MailboxAccessPolicy

# Stable for apiVersion exaudit/v1: the committed policies/mailbox-access-policy.schema.json, served from the
# project's own repository (pyproject.toml [project.urls]); a v2 format gets a new file, never a changed meaning.
SCHEMA_ID = "https://raw.githubusercontent.com/exaudit/exaudit/main/policies/mailbox-access-policy.schema.json"
DRAFT = "https://json-schema.org/draft/2020-12/schema"


def policy_json_schema() -> dict[str, Any]:
    """The JSON Schema of ``kind: MailboxAccessPolicy`` by YAML key (camelCase), closed to unknown keys."""
    schema = MailboxAccessPolicy.model_json_schema(by_alias=True, mode="validation")
    _close(schema)
    return {"$schema": DRAFT, "$id": SCHEMA_ID, **schema}


def _close(node: Any) -> None:
    """Close every object schema to unknown keys and give every property a title, as editors show them."""
    if isinstance(node, dict):
        if node.get("type") == "object" and ("properties" in node or "patternProperties" in node):
            node["additionalProperties"] = False
        for key, prop in node.get("properties", {}).items():
            # pydantic leaves the title off a property that is a $ref to another model.
            if isinstance(prop, dict) and "title" not in prop:
                prop["title"] = _words(key)
        for value in node.values():
            _close(value)
    elif isinstance(node, list):
        for value in node:
            _close(value)


def _words(key: str) -> str:
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", key).lower()
    return words[:1].upper() + words[1:]

"""Seal the hand-written snapshot content files into snapshots exaudit accepts.

The content is written by hand in ``content/``: ``compliant.json`` is a whole snapshot document; every other file
is a failure mode written as a few edits of another content file::

    {"base": "compliant", "description": "...", "ops": [
        {"op": "update", "in": "role_assignments", "where": {"name": "..."}, "set": {"enabled": false}},
        {"op": "remove", "in": "groups", "where": {"name": "..."}},
        {"op": "add", "in": "recipients", "value": {...}},
        {"op": "append", "in": "groups", "where": {"name": "..."}, "field": "members", "value": "..."},
        {"op": "set", "path": "probe_run", "value": null}]}

Every ``update``/``remove``/``append`` must match at least one record, so an edit never silently stops applying.
The seal (``sha256``) is computed by :func:`audit.snapshot.content_hash`, never typed. Run it after editing
content: ``.venv/bin/python tests/data/snapshots/seal.py`` (``--check`` fails if a sealed file is stale).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path
from typing import Any

from audit.snapshot import content_hash, from_document

HERE = Path(__file__).resolve().parent
CONTENT = HERE / "content"


def _matches(record: dict[str, Any], where: dict[str, Any]) -> bool:
    return all(record.get(k) == v for k, v in where.items())


def _apply(doc: dict[str, Any], op: dict[str, Any], source: str) -> None:
    kind = op["op"]
    if kind == "set":
        doc[op["path"]] = op["value"]
        return
    records: list[dict[str, Any]] = doc[op["in"]]
    if kind == "add":
        records.append(op["value"])
        return
    hits = [r for r in records if _matches(r, op["where"])]
    if not hits:
        raise SystemExit(f"{source}: {kind} in {op['in']} where {op['where']} matches nothing")
    if kind == "update":
        for r in hits:
            r.update(op["set"])
    elif kind == "remove":
        doc[op["in"]] = [r for r in records if not _matches(r, op["where"])]
    elif kind == "append":
        for r in hits:
            r[op["field"]] = [*r[op["field"]], op["value"]]
    elif kind == "drop":  # remove one value from a list field
        for r in hits:
            r[op["field"]] = [v for v in r[op["field"]] if v != op["value"]]
    else:
        raise SystemExit(f"{source}: unknown op {kind!r}")


def content(name: str) -> dict[str, Any]:
    """The unsealed document of one content file, with its base applied."""
    raw = json.loads((CONTENT / f"{name}.json").read_text(encoding="utf-8"))
    if "base" not in raw:
        doc = copy.deepcopy(raw)
    else:
        doc = content(raw["base"])
        for op in raw.get("ops", []):
            _apply(doc, op, f"content/{name}.json")
    doc.pop("description", None)
    doc.pop("sha256", None)
    return doc


def sealed(name: str) -> str:
    """The sealed snapshot text of one content file."""
    doc = content(name)
    doc["sha256"] = content_hash(doc)
    from_document(doc, f"content/{name}.json")  # refuse to write a snapshot exaudit would not read
    return json.dumps(doc, ensure_ascii=False, indent=1) + "\n"


def names() -> list[str]:
    """Every content file's name."""
    return sorted(p.stem for p in CONTENT.glob("*.json"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a sealed snapshot is missing or stale")
    args = parser.parse_args(argv)
    stale = []
    for name in names():
        text = sealed(name)
        out = HERE / f"{name}.snapshot.json"
        if args.check:
            if not out.exists() or out.read_text(encoding="utf-8") != text:
                stale.append(out.name)
        else:
            out.write_text(text, encoding="utf-8")
    if stale:
        print("stale: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

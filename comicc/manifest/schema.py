"""The JSON Schema of comic.toml, generated from the pydantic models (never hand-written).

It is written in draft-07, the draft that taplo (the engine of VS Code's "Even Better TOML"
and of taplo's language server) and VS Code's JSON support load; taplo rejects pydantic's
own 2020-12 output, and a relative `$id`, as an invalid schema. The layout names a page may
use are an enum: the built-in templates, plus the project's own when a project folder is
given, so completion offers them and the editor flags a misspelt one as `comicc check` does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from comicc.manifest.models import Comic

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schemas" / "comic.schema.json"
DRAFT_07 = "http://json-schema.org/draft-07/schema#"


def layout_names(project_dir: Path | None = None) -> list[str]:
    """Layouts a page may name: the built-in templates and, given a project, its own."""
    from comicc.manifest.layouts import available_layouts

    return sorted(available_layouts(project_dir))


def manifest_schema(project_dir: Path | None = None) -> dict[str, Any]:
    """The draft-07 schema as a dict, with a title editors show.

    project_dir: also accept that project's own layout templates.
    """
    schema = Comic.model_json_schema(ref_template="#/definitions/{model}")
    definitions = schema.pop("$defs")
    for model in definitions.values():
        for name, prop in model.get("properties", {}).items():
            model["properties"][name] = _for_editors(prop)
    definitions["Page"]["properties"]["layout"]["enum"] = layout_names(project_dir)
    return {
        "$schema": DRAFT_07,
        **schema,
        "title": "comicc manifest (comic.toml)",
        "definitions": definitions,
    }


def _for_editors(prop: dict[str, Any]) -> dict[str, Any]:
    """A key with several types, as editors show it best.

    An optional key is left out in TOML, never null (TOML has no null), so null branches
    go. Editors offer a completion per `anyOf` branch and show a branch's own description
    only: one branch left is merged into the key, several each get the key's description.
    """
    if "anyOf" not in prop:
        return prop
    rest = {k: v for k, v in prop.items() if k != "anyOf" and not (k == "default" and v is None)}
    branches = [b for b in prop["anyOf"] if b != {"type": "null"}]
    if len(branches) == 1:
        return {**branches[0], **rest}
    described = [{"description": prop["description"], **b} if "description" in prop else b
                 for b in branches]
    return {**rest, "anyOf": described}


def schema_text(project_dir: Path | None = None) -> str:
    """The schema serialised exactly as it is committed to `schemas/comic.schema.json`."""
    return json.dumps(manifest_schema(project_dir), indent=2, ensure_ascii=False) + "\n"

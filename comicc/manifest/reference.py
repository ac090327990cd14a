"""The manifest reference (docs/manifest.md), generated from the same models as the schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from comicc.manifest.models import (
    Balloon,
    BuildOptions,
    ComicMeta,
    Element,
    LanguageLettering,
    LayoutDefaults,
    Lettering,
    Page,
    Panel,
    Trim,
)

REFERENCE_FILE = Path(__file__).resolve().parents[2] / "docs" / "manifest.md"

TABLES: list[tuple[str, type[BaseModel]]] = [
    ("[comic]", ComicMeta),
    ("[comic.trim]", Trim),
    ("[build]", BuildOptions),
    ("[layout]", LayoutDefaults),
    ("[lettering]", Lettering),
    ("[lettering.languages.<tag>]", LanguageLettering),
    ("[elements.<id>]", Element),
    ("[[page]]", Page),
    ("[[page.panel]]", Panel),
    ("page.panel.balloons = [{ ... }]", Balloon),
]


def _type_name(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return " \\| ".join(f'`"{v}"`' for v in schema["enum"])
    if "const" in schema:
        return f'`"{schema["const"]}"`'
    if "anyOf" in schema:
        return " or ".join(_type_name(s) for s in schema["anyOf"] if s.get("type") != "null")
    if "$ref" in schema:
        return "table"
    kind = schema.get("type", "any")
    if kind == "array":
        return f"array of {_type_name(schema.get('items', {}))}"
    if kind == "object":
        return "table"
    return {"string": "string", "integer": "integer", "number": "number",
            "boolean": "boolean"}.get(kind, kind)


def _default(model: type[BaseModel], name: str) -> str:
    field = model.model_fields[name]
    if field.is_required():
        return "**required**"
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    else:
        value = field.default
    if value is PydanticUndefined or value is None:
        return "—"
    if isinstance(value, BaseModel):
        return "—"
    return f"`{json.dumps(value)}`"


def reference_markdown() -> str:
    """Markdown tables of every manifest key: type, default and description."""
    lines = [
        "# comic.toml reference",
        "",
        "Generated from comicc's manifest models (`comicc/manifest/models.py`); do not edit by "
        "hand — run `python -m comicc.manifest.reference` after changing a model.",
        "",
        "Lengths are strings with a unit (`\"0.125in\"`, `\"3mm\"`, `\"0.5cm\"`, `\"9pt\"`) or a "
        "bare number of points. Paths are relative to the project folder and may not leave it.",
        "",
    ]
    for title, model in TABLES:
        schema = model.model_json_schema()
        lines += [f"## `{title}`", "", (model.__doc__ or "").strip().splitlines()[0], "",
                  "| key | type | default | description |", "| --- | --- | --- | --- |"]
        for name, prop in schema.get("properties", {}).items():
            description = model.model_fields[name].description or ""
            lines.append(f"| `{name}` | {_type_name(prop)} | {_default(model, name)} | "
                         f"{description} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    REFERENCE_FILE.parent.mkdir(parents=True, exist_ok=True)
    REFERENCE_FILE.write_text(reference_markdown(), encoding="utf-8")
    print(f"wrote {REFERENCE_FILE}")

"""The JSON Schema of comic.toml, generated from the pydantic models (never hand-written)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from comicc.manifest.models import Comic

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schemas" / "comic.schema.json"


def manifest_schema() -> dict[str, Any]:
    """The schema as a dict, with a `$schema` dialect and a title editors show."""
    schema = Comic.model_json_schema()
    return {
        **schema,
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "comic.schema.json",
        "title": "comicc manifest (comic.toml)",
    }


def schema_text() -> str:
    """The schema serialised exactly as it is committed to `schemas/comic.schema.json`."""
    return json.dumps(manifest_schema(), indent=2, ensure_ascii=False) + "\n"

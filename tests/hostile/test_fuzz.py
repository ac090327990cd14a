"""Property: whatever comic.toml holds, loading it either works or raises AuthorError.

Manifests come from three sources: random documents shaped by the JSON Schema (with wrong
types mixed in), and mutations of the test manifest and of the lighthouse sample (lines
deleted or duplicated, values swapped, junk characters inserted, values changed in type).
Every diagnostic must name a file, and one in comic.toml its line and column.

`COMICC_FUZZ_EXAMPLES=5000 pytest tests/hostile/test_fuzz.py` runs a longer search.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from comicc.manifest.diagnostics import AuthorError, Diagnostic
from comicc.manifest.load import load_project
from tests.conftest import BASE_MANIFEST, write_project
from tests.hostile.conftest import ROOT, assert_clean_output

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

SCHEMA = json.loads((ROOT / "schemas/comic.schema.json").read_text(encoding="utf-8"))
LIGHTHOUSE = ROOT / "samples/lighthouse"

FUZZ = settings(
    max_examples=int(os.environ.get("COMICC_FUZZ_EXAMPLES", 200)),
    deadline=None,
    database=None,  # no example database written into the working tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Strings that let a random document get past the schema into the cross-reference checks.
USEFUL_STRINGS = [
    "art/p1.png", "art/p2.png", "art/mara.png", "art/tower.png", "art/style.png", "art/",
    "../p1.png", "/etc/hostname", "mara", "tower", "gull", "grid-2x2", "splash", "nine-grid",
    "0.125in", "3mm", "-1in", "10in", "9pt", "custom", "rtl", "ink-wash", "99", "caption",
    "speech", "none", "gram", "",
]
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
JUNK_VALUE = st.one_of(
    st.booleans(), st.integers(-5, 10**6), st.floats(), TEXT,
    st.lists(st.integers(0, 3), max_size=2), st.dictionaries(st.sampled_from("ab"), st.integers(),
                                                             max_size=1))


def _ref(node: dict[str, Any]) -> dict[str, Any]:
    return SCHEMA["definitions"][node["$ref"].rsplit("/", 1)[1]] if "$ref" in node else node


def from_schema(node: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Values shaped by a JSON Schema node; now and then a value of the wrong type."""
    node = _ref(node)
    typed = _typed(node, depth)
    # One value in forty of the wrong type: enough to hit every level, few enough to go deep.
    return st.integers(0, 39).flatmap(lambda n: JUNK_VALUE if n == 0 else typed)


def _typed(node: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
    if "anyOf" in node:
        return st.one_of([from_schema(option, depth) for option in node["anyOf"]])
    if "enum" in node:
        return st.one_of(st.sampled_from(node["enum"]), TEXT)
    kind = node.get("type")
    if kind == "object":
        if "patternProperties" in node:
            (value,) = node["patternProperties"].values()
            keys = st.one_of(st.sampled_from(["mara", "tower", "gull"]), TEXT)
            return st.dictionaries(keys, from_schema(value, depth + 1), max_size=3)
        props = node.get("properties", {})
        required = set(node.get("required", []))
        extra = st.fixed_dictionaries({}, optional={"colour": TEXT, "titel": TEXT})
        typed = st.fixed_dictionaries(
            {k: from_schema(v, depth + 1) for k, v in props.items() if k in required},
            optional={k: from_schema(v, depth + 1) for k, v in props.items()
                      if k not in required},
        )
        with_unknown = st.tuples(typed, extra).map(lambda pair: {**pair[0], **pair[1]})
        return st.integers(0, 9).flatmap(lambda n: with_unknown if n == 0 else typed)
    if kind == "array":
        items = node.get("items", {})
        size = min(node.get("maxItems", 3), 3 if depth < 3 else 1)
        least = st.integers(0, 9).map(lambda n: 0 if n == 0 else node.get("minItems", 0))
        return least.flatmap(lambda low: st.lists(from_schema(items, depth + 1),
                                                  min_size=min(low, size), max_size=size))
    if kind == "string":
        return st.one_of(st.sampled_from(USEFUL_STRINGS), TEXT)
    if kind == "integer":
        return st.one_of(st.integers(-2, 400), st.integers())
    if kind == "number":
        return st.one_of(st.floats(-2, 2), st.floats(), st.integers(-3, 3))
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    return JUNK_VALUE


# -- a small TOML writer: inline tables throughout, which the position scanner must follow too --

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def toml_string(text: str) -> str:
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else toml_string(key)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value if v is not None) + "]"
    return "{ " + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()
                            if v is not None) + " }"


def toml_document(data: dict[str, Any]) -> str:
    return "".join(f"{toml_key(k)} = {toml_value(v)}\n" for k, v in data.items() if v is not None)


# -- text mutations ------------------------------------------------------------------------

JUNK_TEXT = st.text(st.sampled_from(list('[]{}=,.#"\'\\\n\t =x1é😀\u0007\u202e')), min_size=1,
                    max_size=4)
NEW_VALUES = ["42", "-1", "nan", "inf", "true", '"x"', '""', "[]", "[1, [2]]", "{ a = 1 }",
              "1979-05-27", '"../../x.png"', '"art/"', '"\\u001b[2J"', '"art/p1.png\\u0000"',
              '"' + "a" * 300 + '.png"', '"grid-2x2\\u202e"']
_VALUE_LINE = re.compile(r"^(\s*[\w.\"-]+\s*=\s*)(.+)$")

MUTATION = st.one_of(
    st.tuples(st.just("delete"), st.integers(0, 10**6)),
    st.tuples(st.just("duplicate"), st.integers(0, 10**6)),
    st.tuples(st.just("swap"), st.integers(0, 10**6), st.integers(0, 10**6)),
    st.tuples(st.just("insert"), st.integers(0, 10**6), JUNK_TEXT),
    st.tuples(st.just("retype"), st.integers(0, 10**6), st.sampled_from(NEW_VALUES)),
)


def mutate(text: str, mutations: list[tuple[Any, ...]]) -> str:
    """Apply line and character mutations; indices wrap around the current text."""
    for op, index, *rest in mutations:
        lines = text.split("\n")
        line = index % len(lines)
        values = [i for i, text_line in enumerate(lines) if _VALUE_LINE.match(text_line)]
        if op == "delete":
            del lines[line]
        elif op == "duplicate":
            lines.insert(line, lines[line])
        elif op == "swap" and values:
            a, b = values[index % len(values)], values[rest[0] % len(values)]
            ma, mb = _VALUE_LINE.match(lines[a]), _VALUE_LINE.match(lines[b])
            assert ma and mb
            lines[a], lines[b] = ma.group(1) + mb.group(2), mb.group(1) + ma.group(2)
        elif op == "retype" and values:
            at = values[index % len(values)]
            match = _VALUE_LINE.match(lines[at])
            assert match
            lines[at] = match.group(1) + rest[0]
        elif op == "insert":
            position = index % (len(text) + 1)
            text = text[:position] + rest[0] + text[position:]
            continue
        text = "\n".join(lines)
    return text


# -- the property ----------------------------------------------------------------------------

def check_loads_or_reports(root: Path, text: str,
                           record: Callable[[str], None] = event) -> None:
    """Loading either succeeds or raises AuthorError with complete, printable diagnostics."""
    (root / "comic.toml").write_text(text, encoding="utf-8")
    diagnostics: list[Diagnostic]
    try:
        diagnostics = load_project(root).warnings
        record("loaded")
    except AuthorError as exc:
        diagnostics = exc.diagnostics
        assert any(d.severity == "error" for d in diagnostics)
        record(f"error[{diagnostics[0].code}]")  # --hypothesis-show-statistics shows the spread
    for diagnostic in diagnostics:
        assert_clean_output(diagnostic.render())
        assert diagnostic.file is not None, diagnostic.render()
        if diagnostic.file.name == "comic.toml":
            assert diagnostic.line is not None and diagnostic.column is not None, \
                diagnostic.render()


@pytest.fixture(scope="module")
def base_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz-base")
    write_project(root)
    return root


@pytest.fixture(scope="module")
def lighthouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz-lighthouse") / "lighthouse"
    shutil.copytree(LIGHTHOUSE, root, ignore=shutil.ignore_patterns("*.pdf", "*.report*",
                                                                    ".comicc"))
    return root


@pytest.mark.slow
@FUZZ
@given(document=from_schema(SCHEMA))
def test_schema_shaped_documents(base_project: Path, document: Any) -> None:
    text = toml_document(document) if isinstance(document, dict) else f"x = {toml_value(document)}"
    check_loads_or_reports(base_project, text)


@pytest.mark.slow
@FUZZ
@given(mutations=st.lists(MUTATION, min_size=1, max_size=4))
def test_mutated_test_manifest(base_project: Path, mutations: list[tuple[Any, ...]]) -> None:
    check_loads_or_reports(base_project, mutate(BASE_MANIFEST, mutations))


@pytest.mark.slow
@FUZZ
@given(mutations=st.lists(MUTATION, min_size=1, max_size=4))
def test_mutated_lighthouse_sample(lighthouse: Path, mutations: list[tuple[Any, ...]]) -> None:
    original = (LIGHTHOUSE / "comic.toml").read_text(encoding="utf-8")
    check_loads_or_reports(lighthouse, mutate(original, mutations))


def test_the_writer_and_mutator_produce_what_they_should(base_project: Path) -> None:
    """The generators themselves: an unmutated manifest loads; the writer round-trips."""
    check_loads_or_reports(base_project, mutate(BASE_MANIFEST, []), record=lambda _: None)
    assert load_project(base_project).comic.comic.title == "Test Comic"
    data = {"comic": {"title": 'a "q" \u0007 é', "dpi": 300, "bleed": 0.5},
            "page": [{"layout": "splash", "panel": [{"art": "art/p1.png"}]}]}
    assert tomllib.loads(toml_document(data)) == data
    assert "title = \"x\"" in mutate('title = "a"\nx = "x"', [("swap", 0, 1)])

"""The schema in the editor: taplo (the engine of "Even Better TOML" and of taplo's language
server) loads `schemas/comic.schema.json` and checks manifests with it.

CI installs taplo (`.ci/run`), and there a missing taplo fails these tests rather than
skipping them; elsewhere they skip with the reason.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from comicc.cli import main
from comicc.manifest.schema import SCHEMA_FILE, manifest_schema

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = sorted(ROOT.glob("samples/*/comic.toml"))
LIGHTHOUSE = ROOT / "samples" / "lighthouse" / "comic.toml"


@pytest.fixture(scope="module")
def taplo() -> str:
    found = os.environ.get("TAPLO") or shutil.which("taplo")
    if found is None:
        reason = "taplo is not installed (npm install -g @taplo/cli)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; .ci/run installs it, so CI must have it")
        pytest.skip(reason)
    return found


def taplo_check(taplo: str, manifest: Path) -> subprocess.CompletedProcess[str]:
    """`taplo check` on one manifest, with the schema its `#:schema` directive names."""
    return subprocess.run([taplo, "check", "--colors", "never", str(manifest)],
                          capture_output=True, text=True, timeout=60, cwd=manifest.parent)


def test_there_are_samples() -> None:
    assert len(SAMPLES) >= 2


@pytest.mark.parametrize("manifest", SAMPLES, ids=lambda p: p.parent.name)
def test_samples_validate_in_the_editor(taplo: str, manifest: Path) -> None:
    assert manifest.read_text(encoding="utf-8").startswith("#:schema ../../schemas/comic.schema.json\n")
    done = taplo_check(taplo, manifest)
    assert done.returncode == 0, done.stderr


def test_init_comic_validates_in_the_editor(taplo: str, tmp_path: Path) -> None:
    assert main(["init", str(tmp_path / "mine")]) == 0
    done = taplo_check(taplo, tmp_path / "mine" / "comic.toml")
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(("old", "new", "message"), [
    ('title = "', 'titel = "', "'titel' was unexpected"),
    ("balloons = [", "baloons = [", "'baloons' was unexpected"),  # in a [[page.panel]]
    ("dpi = 300", 'dpi = "high"', '"high" is not of type "integer"'),
    ('layout = "grid-2x2"', 'layout = "grid-3x3"', '"grid-3x3" is not one of ['),
], ids=["misspelt-key", "misspelt-panel-key", "wrong-type", "unknown-layout"])
def test_editor_names_the_bad_key(taplo: str, tmp_path: Path, old: str, new: str,
                                  message: str) -> None:
    text = LIGHTHOUSE.read_text(encoding="utf-8")
    assert text.count(old) >= 1
    text = text.replace(old, new, 1).replace("#:schema ../../schemas/comic.schema.json",
                                             f"#:schema {SCHEMA_FILE}", 1)
    manifest = tmp_path / "comic.toml"
    manifest.write_text(text, encoding="utf-8")
    done = taplo_check(taplo, manifest)
    assert done.returncode != 0
    assert message in done.stderr
    key = new.split(" = ")[0]
    # taplo quotes the offending line under the message, so the key is on screen
    assert re.search(rf"│ +{key} = ", done.stderr), done.stderr


def test_schema_is_draft_07_with_the_editor_features() -> None:
    schema = manifest_schema()
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert "$defs" not in schema and "$id" not in schema  # taplo rejects both
    balloon = schema["definitions"]["Balloon"]
    assert balloon["additionalProperties"] is False
    assert balloon["properties"]["kind"]["default"] == "speech"
    assert "whisper" in balloon["properties"]["kind"]["enum"]
    assert balloon["properties"]["text"]["description"]
    speaker = balloon["properties"]["speaker"]  # optional: a string, never null in TOML
    assert speaker["type"] == "string" and "default" not in speaker and speaker["description"]
    refs = re.findall(r'"\$ref": "([^"]+)"', SCHEMA_FILE.read_text(encoding="utf-8"))
    assert refs and all(r.startswith("#/definitions/") for r in refs)


def test_schema_of_a_project_accepts_its_own_layouts(project: Path, capsys) -> None:
    layouts = project / "templates" / "layouts"
    layouts.mkdir(parents=True)
    shutil.copy(ROOT / "comicc/templates/layouts/splash.toml.j2", layouts / "my-splash.toml.j2")
    builtin = manifest_schema()["definitions"]["Page"]["properties"]["layout"]["enum"]
    assert "grid-2x2" in builtin and "my-splash" not in builtin
    assert main(["schema", str(project)]) == 0
    schema = json.loads(capsys.readouterr().out)
    own = schema["definitions"]["Page"]["properties"]["layout"]["enum"]
    assert set(own) == set(builtin) | {"my-splash"}

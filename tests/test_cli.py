"""The command line itself: light imports, the schema, matrix output, init."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from comicc.cli import main
from comicc.manifest.schema import SCHEMA_FILE, schema_text

ROOT = Path(__file__).resolve().parents[1]


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print('\\n'.join(sys.modules))"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )
    return set(out.stdout.split())


def test_cli_import_does_not_import_torch() -> None:
    modules = _modules_after("import comicc.cli")
    assert "torch" not in modules
    assert "open_clip" not in modules


def test_check_does_not_import_torch(project: Path) -> None:
    modules = _modules_after(
        f"from comicc.cli import main\nassert main(['check', {str(project)!r}]) == 0"
    )
    assert "comicc.manifest.load" in modules
    assert "torch" not in modules


def test_schema_file_is_current() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text(), (
        "schemas/comic.schema.json is stale: run `comicc schema -o schemas/comic.schema.json`"
    )


def test_schema_command_prints_schema(capsys) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert "comic" in schema["properties"] and "page" in schema["required"]


def test_matrix_formats(project: Path, capsys) -> None:
    assert main(["matrix", str(project), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data == {"elements": ["mara", "tower"], "panels": ["1.1", "1.2"],
                    "matrix": [[1, 0], [1, 1]]}
    assert main(["matrix", str(project), "--format", "csv"]) == 0
    assert capsys.readouterr().out == "element,1.1,1.2\nmara,1,0\ntower,1,1\n"
    assert main(["matrix", str(project)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["element", "1.1", "1.2"]
    assert table[2].split() == ["mara", "●", "·"]


def test_init_creates_a_comic_that_checks(tmp_path: Path, capsys) -> None:
    target = tmp_path / "my-comic"
    assert main(["init", str(target)]) == 0
    first_line = (target / "comic.toml").read_text(encoding="utf-8").splitlines()[0]
    assert first_line.startswith("#:schema ")
    assert (target / "comic.schema.json").is_file()
    assert main(["check", str(target)]) == 0
    assert main(["init", str(target)]) == 2
    assert "already exists" in capsys.readouterr().err


def test_manifest_reference_is_current() -> None:
    from comicc.manifest.reference import REFERENCE_FILE, reference_markdown

    assert REFERENCE_FILE.read_text(encoding="utf-8") == reference_markdown(), (
        "docs/manifest.md is stale: run `python -m comicc.manifest.reference`"
    )

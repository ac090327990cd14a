"""End to end through the ML stages on a tiny comic: restyle, reuse, warm start, no-op."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from comicc.engine.pipeline import build
from comicc.engine.request import BuildRequest
from comicc.manifest.load import load_project
from tests.conftest import BASE_MANIFEST, draw_art, write_project

ROOT = Path(__file__).resolve().parents[2]

# Tiny and fast: 64 px training, 3 steps, the U-Net, the gram backend.
TINY = BASE_MANIFEST.replace('backend = "none"', 'backend = "gram"\nstylenet = "unet"\nsize = 64\nsteps = 3')


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("styled")
    write_project(root, TINY)
    result = build(load_project(root), BuildRequest(output=root / "out.pdf", report=False))
    statuses = {r.stage: r.status for r in result.engine.reports}
    assert statuses["classify"] == "ran" and statuses["style"] == "ran"
    return root


@pytest.mark.slow
def test_styled_build_writes_pdf_with_restyled_panels(built: Path) -> None:
    from comicc.engine.cache import Cache

    assert (built / "out.pdf").read_bytes().startswith(b"%PDF")
    cache = Cache(built)
    entry = cache.latest("style", {})
    summary = json.loads(cache.get_blob(entry.outputs["summary.json"]))
    assert summary["elements"] == ["mara", "tower"]
    assert summary["targets"] == [[1.0, 0.0], [1.0, 1.0]]
    assert len(summary["history"]) == 3
    assert {"style", "content", "tv", "consistency"} <= set(summary["history"][0])
    assert summary["model"].startswith("unet")


@pytest.mark.slow
def test_each_panel_is_styled_at_its_frames_print_size(built: Path) -> None:
    from PIL import Image

    from comicc.engine.cache import Cache
    from comicc.engine.stages import panel_print_sizes

    entry = Cache(built).latest("style", {})
    sizes = panel_print_sizes(load_project(built))
    assert [tuple(s) for s in entry.meta["sizes"]] == sizes
    for label, size in zip(("1.1", "1.2"), sizes, strict=False):
        png = Cache(built).get_blob(entry.outputs[f"panel-{label}.png"])
        assert Image.open(io.BytesIO(png)).size == size


@pytest.mark.slow
def test_noop_rebuild_does_no_ml_and_imports_no_torch(built: Path) -> None:
    code = (
        "import sys\nfrom comicc.cli import main\n"
        f"assert main(['build', {str(built)!r}, '-q', '--no-report', '--explain', "
        f"'-o', {str(built / 'out.pdf')!r}]) == 0\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert re.search(r"\bran in ", done.stdout) is None, done.stdout
    assert "style" in done.stdout and "reused" in done.stdout


@pytest.mark.slow
def test_art_edit_warm_starts_and_balloon_edit_does_not_restyle(built: Path) -> None:
    draw_art(built / "art/p2.png", "darkgreen", shape="tower")
    result = build(load_project(built), BuildRequest(output=built / "out.pdf", report=False))
    reports = {r.stage: r for r in result.engine.reports}
    assert reports["style"].status == "ran"
    assert "panel 1.2 art changed" in reports["style"].reasons
    assert any("warm start" in d for d in _notes(built))

    manifest = built / "comic.toml"
    manifest.write_text(manifest.read_text().replace("KRAKOOM", "BOOM"), encoding="utf-8")
    result = build(load_project(built), BuildRequest(output=built / "out.pdf", report=False))
    reports = {r.instance: r.status for r in result.engine.reports}
    assert reports["style"] == "reused" and reports["classify"] == "reused"
    assert reports["page 1"] == "ran"


def _notes(root: Path) -> list[str]:
    from comicc.engine.cache import Cache

    entry = Cache(root).latest("style", {})
    return entry.meta.get("notes", [])


def test_clip_backend_without_directions_is_an_author_error(tmp_path: Path, capsys) -> None:
    from comicc.cli import main

    text = TINY.replace('backend = "gram"', 'backend = "clip"\nclip_checkpoint = "art/style.png"')
    text = text.replace('direction = "ink wash"\n', "").replace('  direction = "stormy night"\n', "")
    write_project(tmp_path, text)
    assert main(["build", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "the clip backend needs a text direction for this panel" in err
    assert "at page[1].panel[1]" in err and "at page[1].panel[2]" in err
    draw_art(tmp_path / "unused.png", "red")

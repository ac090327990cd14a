"""The written report: its numbers equal the build's, author text stays text, pictures inline."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
from pathlib import Path

from PIL import Image

from comicc.engine.engine import Engine
from comicc.engine.pipeline import build
from comicc.engine.request import BuildRequest
from comicc.manifest.load import load_project
from comicc.manifest.matrix import target_matrix
from comicc.report.pictures import PANEL_LONG_SIDE
from tests.conftest import BASE_MANIFEST
from tests.report.conftest import RAW, STYLED, FakeBuild, fake_build
from tests.report.page import read_page

MLReport = tuple[FakeBuild, str]

ROOT = Path(__file__).resolve().parents[2]


def test_matrix_in_html_and_json_equals_the_build_summary(ml_report: MLReport) -> None:
    ml_build, html = ml_report
    page = read_page(html)
    data = ml_build.json()
    matrix = ml_build.summary["matrix"]
    elements, panels = matrix["elements"], matrix["panels"]

    assert data["matrix"]["elements"] == elements and data["matrix"]["panels"] == panels
    assert data["matrix"]["targets"] == matrix["matrix"]
    assert data["matrix"]["styled_probabilities"] == [STYLED[e] for e in elements]
    assert data["matrix"]["raw_probabilities"] == [RAW[e] for e in elements]
    for i, e in enumerate(elements):
        for j, p in enumerate(panels):
            assert int(page.matrices["target"][(e, p)].value) == matrix["matrix"][i][j]
            assert float(page.matrices["raw"][(e, p)].value) == RAW[e][j]
            assert float(page.matrices["styled"][(e, p)].value) == STYLED[e][j]


def test_disagreeing_cells_are_marked_and_link_to_their_panel(ml_report: MLReport) -> None:
    ml_build, html = ml_report
    page = read_page(html)
    marked = {key: cell.link for key, cell in page.matrices["styled"].items()
              if "miss" in cell.classes}
    assert marked == {("mara", "1.2"): "#panel-1-2", ("tower", "1.1"): "#panel-1-1"}
    assert not any("miss" in cell.classes for cell in page.matrices["raw"].values())
    assert {"panel-1-1", "panel-1-2"} <= page.ids
    styled = ml_build.json()["matrix"]["disagreements"]["styled"]
    assert [(d["element"], d["panel"], d["target"]) for d in styled] == [
        ("mara", "1.2", 0), ("tower", "1.1", 1)]


def test_report_is_self_contained(ml_report: MLReport) -> None:
    html = ml_report[1]
    page = read_page(html)
    assert all(link.startswith("#") and link[1:] in page.ids for link in page.links)
    assert "http://" not in html and "https://" not in html
    assert "script" not in page.tags
    # Two panels before/after, and each element's crops (styled + concept art).
    assert len(page.images) == 2 * 2 + 2 * 3
    for src in page.images:
        assert src.startswith("data:image/jpeg;base64,")
        image = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
        assert 0 < max(image.size) <= PANEL_LONG_SIDE


def test_sections_show_training_stages_and_located_warnings(ml_report: MLReport) -> None:
    ml_build, html = ml_report
    page = read_page(html)
    data = ml_build.json()
    assert {"matrix", "panels", "judge", "training", "warnings"} <= page.ids
    assert data["training"]["terms"] == ["total", "style", "content", "consistency"]
    assert page.tags.count("polyline") == 4
    assert data["training"]["weak"] == ["tower"]
    statuses = {(s["stage"], s["instance"]): s["status"] for s in data["stages"]}
    assert statuses[("style", "style")] == "ran" and statuses[("pdf", "pdf")] == "reused"
    assert statuses[("report", "pictures")] == "ran"
    warning = next(w for w in data["warnings"] if w["code"] == "lettering")
    line = _line_of(BASE_MANIFEST, "Is anyone up there")
    assert warning["location"].endswith(f"comic.toml:{line}:5")
    assert warning["key_path"] == "page[1].panel[1].balloons[1]"
    assert "balloon text runs past its frame" in page.all_text


def _line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


HOSTILE = '<script>alert("pwned")</script>'


def test_author_text_stays_text(tmp_path: Path) -> None:
    manifest = (BASE_MANIFEST
                .replace('title = "Test Comic"', 'title = "<b>Bold</b> & Sons"')
                .replace('direction = "stormy night"', f"direction = '{HOSTILE}'")
                .replace('text = "KRAKOOM"', "text = '</li><img src=x onerror=alert(1)>'")
                .replace("[elements.mara]\n",
                         '[elements.mara]\nname = "Mara <svg onload=alert(2)>"\n'))
    fake = fake_build(tmp_path, manifest)
    html = fake.write().read_text(encoding="utf-8")
    page = read_page(html)
    assert "script" not in page.tags
    assert HOSTILE not in html and "<img src=x" not in html
    assert HOSTILE in page.all_text
    assert "</li><img src=x onerror=alert(1)>" in page.all_text
    assert "<b>Bold</b> & Sons" in page.all_text
    assert "Mara <svg onload=alert(2)>" in page.all_text and "<svg onload" not in html
    assert all(src.startswith("data:image/jpeg;base64,") for src in page.images)
    assert fake.json()["panels"][0]["direction"] == HOSTILE


def test_layout_only_report_has_matrix_panels_and_warnings(layout_build: FakeBuild) -> None:
    page = read_page(layout_build.write().read_text(encoding="utf-8"))
    data = layout_build.json()
    assert data["matrix"]["targets"] == layout_build.summary["matrix"]["matrix"]
    assert data["matrix"]["styled_probabilities"] is None
    assert data["training"] is None and data["judge"] is None
    assert "judge" not in page.ids and set(page.matrices) == {"target"}
    assert len(page.images) == 2  # concept art only
    assert any(w["code"] == "lettering" for w in data["warnings"])


def test_layout_only_report_never_imports_torch(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from tests.report.conftest import fake_build\n"
        f"fake_build(Path({str(tmp_path)!r}), ml=False).write()\n"
        "print('torch' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                            text=True, timeout=120, env={"PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
    assert (tmp_path / "out" / "book.report.html").exists()


def test_pictures_are_a_cached_stage(ml_build: FakeBuild) -> None:
    ml_build.write()
    first = ml_build.json()["judge"]
    ml_build.engine = Engine(ml_build.cache)
    ml_build.write()
    [report] = [r for r in ml_build.engine.reports if r.stage == "report"]
    assert report.status == "reused"
    assert ml_build.json()["judge"] == first
    # A different styling of the panels is new input: the pictures are redrawn.
    ml_build.styled_blobs = list(reversed(ml_build.styled_blobs or []))
    ml_build.engine = Engine(ml_build.cache)
    ml_build.write()
    [report] = [r for r in ml_build.engine.reports if r.stage == "report"]
    assert report.status == "ran" and report.reasons == ["styled panels changed"]
    # What the judge learnt from the concept art does not depend on the styling.
    [judge] = [r for r in ml_build.engine.reports if r.stage == "judge"]
    assert judge.status == "reused"


def test_build_writes_the_report_next_to_the_output(project: Path) -> None:
    output = project / "out" / "book.pdf"
    result = build(load_project(project), BuildRequest(backend="none", output=output))
    assert result.report == project / "out" / "book.report.html"
    data = json.loads((project / "out" / "book.report.json").read_text(encoding="utf-8"))
    expected = target_matrix(load_project(project).comic)
    assert data["matrix"]["targets"] == expected.values
    assert data["matrix"]["panels"] == expected.panels
    assert [p["label"] for p in data["panels"]] == expected.panels
    page = read_page(result.report.read_text(encoding="utf-8"))
    assert {(e, p) for e in expected.elements for p in expected.panels} == \
        set(page.matrices["target"])

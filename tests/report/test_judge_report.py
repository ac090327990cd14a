"""The independent judge in the build report: its cells beside the classifiers, and warnings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from comicc.report.sections import Cell, judge_disagreement
from tests.conftest import BASE_MANIFEST, write_project
from tests.report.conftest import fake_build
from tests.report.page import read_page

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("target", "p", "presence", "retrieved", "expected"), [
    (1, 0.9, 0.9, None, None),
    (1, 0.9, 0.9, "mara", None),
    (1, 0.9, 0.2, None, "the independent judge does not (presence 0.20)"),
    (1, 0.9, 0.9, "tower", "looks more like `tower`"),
    (1, 0.3, 0.8, None, "the classifier misses it (p 0.30) but the independent judge sees it"),
    (1, 0.3, 0.2, None, None),  # both miss it: the matrix already says so
    (0, 0.9, 0.2, None, None),  # p̂ = 0: a classifier's false alarm is the matrix's business
    (0, 0.2, 0.9, None, None),
    (1, None, 0.1, None, None),  # no classifier ran
])
def test_a_warning_where_the_classifier_and_the_judge_disagree(
        target: int, p: float | None, presence: float, retrieved: str | None,
        expected: str | None) -> None:
    found = judge_disagreement(Cell("mara", "1.1", target, 0.5, p), presence, retrieved)
    if expected is None:
        assert found is None
    else:
        assert found is not None and expected in found


def test_a_styling_that_wipes_a_panel_is_flagged_by_the_judge(tmp_path: Path) -> None:
    """The classifiers say mara is in 1.1 (p 0.91) but the styled panel is black."""
    def wipe_first(image: Image.Image) -> Image.Image:
        return Image.new("RGB", image.size, "black") if image.getpixel((0, 0)) == (
            128, 128, 128) else image

    fake = fake_build(tmp_path, stylise=wipe_first)
    html = read_page(fake.write().read_text(encoding="utf-8"))
    data = fake.json()
    judge = data["judge"]
    cells = {(c["element"], c["panel"]): c for c in judge["cells"]}
    mara = cells[("mara", "1.1")]
    assert mara["classifier"] == 0.91 and mara["presence"] < 0.5
    assert mara["identity"] < cells[("tower", "1.2")]["identity"]
    assert "independent judge does not" in mara["warning"]
    # The untouched panel (1.2) is its concept art: identity 1, judged present.
    tower = cells[("tower", "1.2")]
    assert tower["identity"] == pytest.approx(1.0, abs=1e-3) and tower["presence"] >= 0.5
    assert tower["warning"] is None
    assert {(w["element"], w["panel"]) for w in judge["warnings"]} >= {("mara", "1.1")}
    [warning] = [w for w in data["warnings"]
                 if w["code"] == "judge" and w["message"].startswith("`mara` in panel 1.1")]
    assert warning["key_path"] == "page[1].panel[1].elements[0]"
    line = next(n for n, text in enumerate(BASE_MANIFEST.splitlines(), 1)
                if text.startswith('  elements = ["mara", "tower"]'))
    assert f"comic.toml:{line}:" in warning["location"]
    assert any(d.code == "judge" for d in fake.sink.items)
    assert "judge" in html.ids and "independent judge does not" in html.all_text


# The test comic restyled by the pretrained network's `brick-weave`, which rebuilds every
# panel from bricks (docs/styles.md: "content mostly lost"): 64 px, two steps.
BRICKS = (BASE_MANIFEST
          .replace('style_image = "art/style.png"\n', 'style = "brick-weave"\n')
          .replace('backend = "none"', 'backend = "gram"\nsize = 64\nsteps = 2'))


def _cli_build(root: Path) -> tuple[str, dict]:
    done = subprocess.run(
        [sys.executable, "-m", "comicc", "build", str(root), "-o", str(root / "out/book.pdf")],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    report = json.loads((root / "out/book.report.json").read_text(encoding="utf-8"))
    return done.stderr, report


@pytest.mark.slow
def test_a_build_whose_style_destroys_an_element_warns_of_it(tmp_path: Path) -> None:
    """The classifiers still see the tower in the bricks; the judge does not, and says so.
    (With the boxes the classify stage finds by colour, the classifier is fooled in panel
    1.1; in 1.2 it says, as the judge does, that the tower is gone.)"""
    write_project(tmp_path, BRICKS)
    console, report = _cli_build(tmp_path)
    flagged = {(w["element"], w["panel"]) for w in report["judge"]["warnings"]}
    assert ("tower", "1.1") in flagged, report["judge"]["cells"]
    [tower] = [c for c in report["judge"]["cells"]
               if (c["element"], c["panel"]) == ("tower", "1.1")]
    assert tower["classifier"] >= 0.5 > tower["presence"]
    assert "warning[judge]: `tower` in panel 1.1: the classifier sees it" in console
    assert any(w["code"] == "judge" and w["message"].startswith("`tower` in panel 1.1")
               for w in report["warnings"])
    # The same comic at strength 0 is its concept art again: the judge agrees.
    manifest = (tmp_path / "comic.toml").read_text(encoding="utf-8")
    (tmp_path / "comic.toml").write_text(
        manifest.replace('style = "brick-weave"\n', 'style = "brick-weave"\nstrength = 0.0\n'),
        encoding="utf-8")
    console, report = _cli_build(tmp_path)
    # The judge sees every element again. (The classifier, reading the box found by colour
    # for Mara on the concept art itself, may miss her: that is reported, as it should be.)
    assert not [w for w in report["judge"]["warnings"] if "judge does not" in w["message"]
                or "looks more like" in w["message"]]
    assert "the independent judge does not" not in console
    assert all(c["presence"] >= 0.5 for c in report["judge"]["cells"] if c["target"])


def test_the_judge_measures_an_element_in_the_box_the_build_found_for_it(tmp_path: Path) -> None:
    """Where the manifest gives no region, the judge crops a character at the box the
    classify stage found (the summary's classifiers' regions), as the loss does, not the
    whole panel: the right half of panel 1.1 is blacked out, and mara, found in the left
    half, is untouched. A setting stays whole-panel."""
    def black_right_half(image: Image.Image) -> Image.Image:
        if image.getpixel((0, 0)) != (128, 128, 128):
            return image
        image = image.copy()
        image.paste((0, 0, 0), (image.width // 2, 0, image.width, image.height))
        return image

    def identities(found: dict | None) -> dict[str, float]:
        fake = fake_build(tmp_path / str(found is not None), stylise=black_right_half)
        if found is not None:
            fake.summary["classifiers"] = {"regions": found}
        fake.write()
        return {c["element"]: c["identity"] for c in fake.json()["judge"]["cells"]
                if c["panel"] == "1.1"}

    whole = identities(None)
    boxed = identities({"1.1": {"mara": [0.0, 0.0, 0.5, 1.0], "tower": [0.0, 0.0, 0.5, 1.0]}})
    assert boxed["mara"] == pytest.approx(1.0, abs=1e-3)
    assert whole["mara"] < 0.9  # the whole panel, half of it black
    # The tower is a setting: the scene itself, judged on the whole panel all the same.
    assert boxed["tower"] == pytest.approx(whole["tower"], abs=1e-4)
    assert whole["tower"] < 0.9

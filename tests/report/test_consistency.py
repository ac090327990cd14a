"""The independent consistency measure on real backbone features (tiny images, CPU)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageOps

from tests.conftest import BASE_MANIFEST
from tests.report.conftest import fake_build

pytest.importorskip("torch")

# Three panels: mara in all three (a region in the first), the tower in two.
MANIFEST = BASE_MANIFEST.replace(
    'elements = ["mara", "tower"]\n',
    'elements = ["mara", "tower"]\n  regions = { mara = [0.25, 0.0, 0.5, 1.0] }\n',
).replace('elements = ["tower"]', 'elements = ["tower", "mara"]') + """
  [[page.panel]]
  art = "art/mara.png"
  elements = ["mara"]
"""


def test_unchanged_art_scores_like_the_concept_art(tmp_path: Path) -> None:
    fake = fake_build(tmp_path, MANIFEST, stylise=lambda image: image)
    fake.write()
    scores = fake.json()["consistency"]
    assert "block-13" in scores["measure"]
    mara = scores["elements"]["mara"]
    assert mara["panels"] == 3 and mara["contrast_panels"] == 0
    assert mara["styled"] == mara["raw"]
    assert mara["styled"]["contrast"] is None and len(mara["styled"]["per_crop"]) == 3
    tower = scores["elements"]["tower"]
    assert tower["contrast_panels"] == 1 and -1 <= tower["styled"]["within"] <= 1
    assert tower["styled"]["margin"] == pytest.approx(
        tower["styled"]["within"] - tower["styled"]["contrast"], abs=1e-3)


def test_a_styling_that_wipes_a_panel_loses_consistency(tmp_path: Path) -> None:
    seen: list[int] = []

    def wipe_second(image: Image.Image) -> Image.Image:
        seen.append(1)
        if len(seen) == 2:
            return Image.new("RGB", image.size, "black")
        return ImageOps.autocontrast(image)

    fake = fake_build(tmp_path, MANIFEST, stylise=wipe_second)
    fake.write()
    mara = fake.json()["consistency"]["elements"]["mara"]
    assert mara["styled"]["within"] < mara["raw"]["within"] - 0.05
    # The wiped panel (1.2) is the odd one out among mara's crops.
    per = mara["styled"]["per_crop"]
    assert per[1] == min(per)

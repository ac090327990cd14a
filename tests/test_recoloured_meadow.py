"""benchmarks/recoloured_meadow.py: the meadow in other colours is a valid comic, and its
characters wear the new colours where the meadow's wear theirs."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
from PIL import Image

from comicc.manifest.load import load_project

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "recoloured_meadow.py"
MEADOW = Path(__file__).resolve().parents[1] / "samples" / "meadow"


def test_the_recoloured_meadow_is_the_meadow_in_other_colours(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("recoloured_meadow", SCRIPT)
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    script.main(tmp_path)
    project = load_project(tmp_path)
    assert list(project.comic.elements) == ["rufus", "skye", "hazel"]
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert truth == json.loads((MEADOW / "truth.json").read_text())  # the same drawings
    # The big fox of panel 1.2: orange-red in the meadow, purple here.
    x, y, w, h = truth["panels"]["1.2"]["boxes"]["rufus"]
    old, new = (Image.open(root / "art" / "p1_2.png").convert("RGB") for root in (MEADOW, tmp_path))

    def share(image: Image.Image, colour: tuple[int, int, int]) -> float:
        box = image.crop((round(x * image.width), round(y * image.height),
                          round((x + w) * image.width), round((y + h) * image.height)))
        distance = np.abs(np.asarray(box, dtype=int) - np.array(colour)).sum(axis=2)
        return float((distance < 30).mean())

    assert share(old, (232, 96, 28)) > 0.2 and share(new, (232, 96, 28)) == 0
    assert share(new, script.COLOURS["FOX"]) > 0.2

"""The report's pictures: panel thumbnails before/after and each element's crops, inlined.

Images go into the HTML as base64 `data:` URIs of small JPEGs, so the report is one file
that opens anywhere without a network. Computing them (and the independent judge's measures,
which need torch) is the `report pictures` stage, cached like any other.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image

from comicc.boxes import Box, pixel_bounds
from comicc.manifest.models import Comic

PANEL_LONG_SIDE = 320
CROP_LONG_SIDE = 128
JPEG_QUALITY = 82
# Bump when what this module draws or measures changes, so cached pictures are redrawn.
PICTURES_VERSION = 5  # element crops cut by comicc.boxes, as the judge cuts them


def data_uri(image: Image.Image, long_side: int) -> str:
    """A JPEG thumbnail of `image`, its long side at most `long_side` px, as a data: URI."""
    thumb = image.convert("RGB")
    if max(thumb.size) > long_side:
        scale = long_side / max(thumb.size)
        size = (max(1, round(thumb.width * scale)), max(1, round(thumb.height * scale)))
        thumb = thumb.resize(size, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    thumb.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def crop_fraction(image: Image.Image, box: Box | None) -> Image.Image:
    """The part of `image` inside `box` = (x, y, w, h) as fractions; the whole image for None."""
    if box is None:
        return image
    return image.crop(pixel_bounds(box, image.width, image.height))


@dataclass(frozen=True)
class CropSpec:
    """Where an element is in one panel: the panel's index and label, and its region box."""

    panel: int
    label: str
    box: Box | None


def element_crops(comic: Comic) -> dict[str, list[CropSpec]]:
    """For each element, its region box in every panel where it is present (None = whole panel)."""
    crops: dict[str, list[CropSpec]] = {name: [] for name in comic.element_ids()}
    for index, (p, j, panel) in enumerate(comic.panels()):
        for name in panel.elements:
            region = panel.regions.get(name)
            box = (region[0], region[1], region[2], region[3]) if region is not None else None
            crops.setdefault(name, []).append(CropSpec(index, f"{p + 1}.{j + 1}", box))
    return crops


def draw_pictures(comic: Comic, raw: Sequence[Image.Image],
                  styled: Sequence[Image.Image] | None, judge: bytes | None = None,
                  device: str = "cpu") -> dict[str, Any]:
    """Thumbnails of every panel and element crop, plus the judge's measures when styled
    (`judge`: what it learnt from the concept art, `learn_judge_reference`'s bytes).

    Returns JSON-able data: {"panels": [{"raw", "styled"}], "elements": {id: {"crops": [...]}},
    "judge": `comicc.report.judging.judge_build`'s data | None}.
    """
    specs = element_crops(comic)
    # Panel by panel: each panel's art is decoded once for its thumbnails and every crop of
    # it (a long comic's panels are decoded on demand, and never all held at once).
    wanted: dict[int, set[Box | None]] = {}
    for crops in specs.values():
        for c in crops:
            wanted.setdefault(c.panel, set()).add(c.box)
    panels, cut = [], {}
    for i in range(len(raw)):
        before, after = raw[i], styled[i] if styled is not None else None
        panels.append({"raw": data_uri(before, PANEL_LONG_SIDE),
                       "styled": data_uri(after, PANEL_LONG_SIDE) if after is not None else None})
        for box in wanted.get(i, ()):
            cut[(i, box)] = {"raw": data_uri(crop_fraction(before, box), CROP_LONG_SIDE),
                             "styled": (data_uri(crop_fraction(after, box), CROP_LONG_SIDE)
                                        if after is not None else None)}
    elements: dict[str, Any] = {
        name: {"crops": [{"panel": c.label, "box": list(c.box) if c.box else None,
                          **cut[(c.panel, c.box)]} for c in crops]}
        for name, crops in specs.items()}
    measures = None
    if styled is not None and judge is not None:
        # Only an ML build gets here, so torch is already a dependency in use.
        from comicc.report.judging import judge_build

        measures = judge_build(comic, styled, judge, device)
    return {"panels": panels, "elements": elements, "judge": measures}

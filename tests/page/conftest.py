"""Small comics with Pillow-drawn art for the page tests."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from comicc.manifest.diagnostics import DiagnosticSink
from comicc.manifest.images import load_image
from comicc.manifest.models import Comic
from comicc.page.book import write_book
from comicc.page.colour import PLAIN, PrintSettings
from comicc.page.pageplan import PagePlan
from comicc.page.plan import plan_page
from comicc.page.preflight import Finding

PROVENANCE = "Panels restyled by comicc from the author's own concept art; backend none, model none"
COLOURS = ["#C81E1E", "#1E9632", "#1E3CC8", "#E6B414", "#8C1EB4", "#14A0A0"]


def without_unmeasured_ink(found: list[Finding]) -> list[Finding]:
    """`found` less the one finding a clean file gets where Ghostscript is missing: its ink
    coverage could not be measured (a warning, so the file still passes). Asserts that it
    is there exactly when gs is missing."""
    unmeasured = [f for f in found if f.code == "ink" and "not measured" in f.what]
    assert len(unmeasured) == (shutil.which("gs") is None)
    assert all(f.severity == "warning" for f in unmeasured)
    return [f for f in found if f not in unmeasured]


def solid_art(colour: str, size: tuple[int, int] = (90, 120)) -> Image.Image:
    """A plain field of one colour with a small darker figure near the bottom."""
    image = Image.new("RGB", size, colour)
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.ellipse((w * 0.4, h * 0.55, w * 0.6, h * 0.7), fill="black")
    return image


def plan_book(comic: Comic, project_dir: Path, panel_images: list[list[Image.Image]],
              sink: DiagnosticSink) -> list[PagePlan]:
    """Plan every page for the given panel images (one list per page), as the build's page
    stage does one page at a time."""
    return [plan_page(comic, index, project_dir, [image.size for image in images], sink)
            for index, images in enumerate(panel_images)]


def make_book(comic: Comic, project_dir: Path, panel_images: list[list[Image.Image]] | None,
              out: Path, *, sink: DiagnosticSink, provenance: str,
              printing: PrintSettings = PLAIN) -> Path:
    """Plan and write the book to `out` (.pdf or .cbz) through the build's own functions;
    `panel_images` None uses the raw art."""
    if panel_images is None:
        panel_images = [[load_image(project_dir / panel.art, sink) for panel in page.panel]
                        for page in comic.page]
    plans = plan_book(comic, project_dir, panel_images, sink)
    return write_book(comic, plans, panel_images, out, provenance, printing)


def make_comic(tmp_path: Path, pages: list[dict[str, Any]], **meta: Any) -> Comic:
    """A Comic whose panels' art files are written into tmp_path/art (solid colours)."""
    count = 0
    for page in pages:
        for panel in page["panel"]:
            panel.setdefault("art", f"art/p{count}.png")
            path = tmp_path / panel["art"]
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                solid_art(COLOURS[count % len(COLOURS)]).save(path)
            count += 1
    comic_meta = {"title": "Test Comic", "authors": ["A. Author"], "dpi": 72} | meta
    return Comic.model_validate({"comic": comic_meta, "page": pages})


def images_for(comic: Comic, tmp_path: Path) -> list[list[Image.Image]]:
    return [
        [Image.open(tmp_path / p.art).convert("RGB") for p in page.panel] for page in comic.page
    ]


@pytest.fixture
def lettered(tmp_path: Path) -> Comic:
    """One grid page with every kind of balloon, and a splash page."""
    return make_comic(
        tmp_path,
        [
            {
                "layout": "grid-2x2",
                "panel": [
                    {
                        "elements": [],
                        "regions": {"mara": [0.3, 0.5, 0.4, 0.45]},
                        "balloons": [
                            {"kind": "caption", "text": "Ninety miles from shore."},
                            {"speaker": "mara", "text": "Is anyone up there?"},
                        ],
                    },
                    {
                        "balloons": [
                            {"kind": "shout", "text": "FATHOM!"},
                            {"kind": "whisper", "text": "psst, over here"},
                        ]
                    },
                    {
                        "regions": {"cat": [0.4, 0.6, 0.3, 0.3]},
                        "balloons": [
                            {"kind": "thought", "speaker": "cat", "text": "Not coming out."}
                        ],
                    },
                    {"balloons": [{"kind": "sfx", "text": "KRAKOOM"}]},
                ],
            },
            {"layout": "splash", "panel": [{"balloons": [{"text": "The end.", "tail": "none"}]}]},
        ],
    )

"""A synthetic book for benchmarks: 30 pages of six panels, six elements, art at print size.

    python benchmarks/book.py OUT_DIR                    # 30 pages, 180 panels, 300 DPI
    python benchmarks/book.py OUT_DIR --pages 1 --dpi 72  # a small one, quickly

Writes a comic project (comic.toml, art/) into OUT_DIR, drawn procedurally with the same
pens as samples/lighthouse/make_art.py (`comicc.starter`): every panel is a seascape with a
random one to three of the six elements, each panel's art exactly the size its frame of the
`six-panel` layout needs at the comic's dpi, so nothing is scaled down or warned about.
Drawing is deterministic (one generator per image, seeded by its file name). The art is
not committed: a 180-panel book is ~20 MB of PNG and takes a few minutes to draw.

The manifest places the characters (`regions`); the props and the lighthouse are for the
build to find. truth.json holds the bounds of every element's drawn pixels in every panel,
as samples/meadow/make_art.py writes them, for `bench_consistency.py` to judge each element's
own crop (without it a prop's crop is the whole panel).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass
from math import ceil
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from comicc.manifest.models import Comic  # noqa: E402
from comicc.page.art import POINTS_PER_INCH  # noqa: E402
from comicc.page.layout import layout_frames  # noqa: E402
from comicc.starter import (  # noqa: E402
    PAPER,
    SKIES,
    TEAL_ORANGE,
    Box,
    Canvas,
    brush_texture,
    draw_boat,
    draw_cat,
    draw_keeper,
    draw_lighthouse,
    draw_moon,
    draw_rain,
    draw_robot,
    draw_rocks,
    draw_sea,
    draw_stars,
    save_png,
    toml_string,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

PAGES = 30
PANELS_PER_PAGE = 6
LAYOUT = "six-panel"
REFERENCE = (256, 256)
SEAS = {"storm": ((40, 70, 80), (16, 34, 44)), "night": ((30, 52, 86), (12, 24, 46)),
        "dusk": ((70, 96, 130), (30, 56, 82)), "dawn": ((80, 120, 150), (40, 80, 110)),
        "day": ((60, 120, 170), (40, 90, 140))}
# Characters stand in one of three slots along the shore (left edges), so their boxes never
# overlap; each character's top and height in the panel (the cat sits lower and smaller).
SLOTS = (0.04, 0.36, 0.68)
SLOT_WIDTH = 0.28
HEIGHTS = {"mara": (0.42, 0.5), "fathom": (0.58, 0.34), "pip": (0.42, 0.5)}
POSES = {"mara": ("front", "side", "shout", "lantern"), "fathom": ("sit",),
         "pip": ("front", "side", "wave")}
# Reference drawings: (box, pose) per element, two each (the walking cat is wide).
REFERENCES: dict[str, tuple[tuple[Box, str | None], ...]] = {
    "mara": (((0.25, 0.05, 0.5, 0.9), "front"), ((0.28, 0.1, 0.44, 0.85), "side")),
    "fathom": (((0.18, 0.1, 0.64, 0.8), "sit"), ((0.09, 0.25, 0.825, 0.55), "walk")),
    "pip": (((0.22, 0.08, 0.56, 0.86), "front"), ((0.3, 0.2, 0.4, 0.66), "side")),
    "lighthouse": (((0.3, 0.05, 0.4, 0.9), None), ((0.25, 0.2, 0.34, 0.76), None)),
    "trawler": (((0.1, 0.4, 0.8, 0.3), None), ((0.2, 0.5, 0.6, 0.22), None)),
    "moon": (((0.3, 0.3, 0.4, 0.4), None), ((0.45, 0.15, 0.3, 0.3), None)),
}

# The six elements: (kind, name, description); their references are drawn below.
ELEMENTS = {
    "mara": ("character", "Mara", "The keeper: red hair, yellow raincoat, black boots."),
    "fathom": ("character", "Fathom", "A grey tabby with green eyes and a ringed tail."),
    "pip": ("character", "Pip", "A small blue robot with one big cyan eye."),
    "lighthouse": ("setting", "Gannet Rock lighthouse", "A red-and-white striped tower."),
    "trawler": ("prop", "The trawler", "A small fishing boat with a red hull."),
    "moon": ("prop", "The moon", "A pale full moon."),
}
CHARACTERS = ("mara", "fathom", "pip")
FIGURES: dict[str, Callable[..., None]] = {"mara": draw_keeper, "fathom": draw_cat,
                                           "pip": draw_robot, "lighthouse": draw_lighthouse,
                                           "trawler": draw_boat}
LINES = ("The light must not go out.", "Did you hear that?", "Hold on!", "Almost there...",
         "Not tonight.", "Who's out there?", "Follow the beam!", "Fish. Now.")
# Each panel's sky, and the direction that goes with it.
DIRECTIONS = {"storm": "stormy night, rain lashing the rocks", "night": "moonlit sea, cold blue light",
              "dusk": "calm dusk, long shadows", "dawn": "dawn after the storm, warm light",
              "day": "bright day, gulls and spray"}


@dataclass(frozen=True)
class PanelPlan:
    """What one panel shows: its art file, its elements and its sky."""

    art: str
    elements: list[str]
    sky: str


def panel_elements(rng: random.Random) -> list[str]:
    """One to three of the six elements, in a fixed order."""
    chosen = set(rng.sample(sorted(ELEMENTS), rng.randint(1, 3)))
    return [name for name in ELEMENTS if name in chosen]


def draw_panel(size: tuple[int, int], elements: list[str], sky: str,
               rng: random.Random) -> tuple[Image.Image, dict[str, Box], dict[str, Box]]:
    """A seascape under `sky` with `elements` in it; returns the art, the characters' boxes
    (the manifest's regions) and every element's drawn bounds (truth.json's)."""
    canvas = Canvas(size, SKIES[sky])
    drawn: dict[str, Box] = {}
    horizon = rng.uniform(0.5, 0.68)
    if sky in ("night", "storm"):
        draw_stars(canvas, rng, stars=40, below=horizon)
    if "moon" in elements:
        centre, radius = (rng.uniform(0.15, 0.85), rng.uniform(0.1, 0.25)), 0.06
        draw_moon(canvas, centre, radius)
        across = radius * canvas.image.height / canvas.image.width
        drawn["moon"] = (centre[0] - across, centre[1] - radius, 2 * across, 2 * radius)
    draw_sea(canvas, horizon, *SEAS[sky], rng, waves=rng.randint(15, 45))
    if "trawler" in elements:
        boat = (rng.uniform(0.05, 0.6), horizon - 0.02, 0.34, 0.14)
        drawn["trawler"] = canvas.place(draw_boat, boat)
    if "lighthouse" in elements:
        tower = (rng.uniform(0.0, 0.6), 0.08, 0.36, 0.76)
        drawn["lighthouse"] = canvas.place(draw_lighthouse, tower, lit=sky != "day")
    draw_rocks(canvas, (0.0, 0.84, 1.0, 0.16), rng)
    slots = rng.sample(SLOTS, len(SLOTS))
    regions = {}
    for name in (e for e in elements if e in CHARACTERS):
        box = regions[name] = (slots.pop(), *HEIGHTS[name][:1], SLOT_WIDTH, HEIGHTS[name][1])
        drawn[name] = canvas.place(FIGURES[name], box, flip=rng.random() < 0.5,
                                   pose=rng.choice(POSES[name]))
    if sky == "storm":
        draw_rain(canvas, rng, drops=80)
    return canvas.finish(), regions, drawn


def draw_reference(name: str, box: Box, pose: str | None, rng: random.Random) -> Image.Image:
    """One reference drawing of element `name` in `box`, on a plain or sky ground."""
    canvas = Canvas(REFERENCE, PAPER if rng.random() < 0.5 else SKIES[rng.choice(sorted(SKIES))])
    if name == "moon":
        x, y, w, h = box
        draw_moon(canvas, (x + w / 2, y + h / 2), h / 2)
    else:
        canvas.place(FIGURES[name], box, flip=rng.random() < 0.5,
                     **({"pose": pose} if pose else {}))
    return canvas.finish()


def _box(box: Box) -> str:
    return "[" + ", ".join(f"{v:g}" for v in box) + "]"


def book_manifest(pages: int, dpi: int, plan: list[list[PanelPlan]],
                  regions: dict[str, dict[str, Box]]) -> str:
    """comic.toml for `plan` (per page, its panels) with the characters' `regions` by art."""
    lines = [
        "# A synthetic book drawn by benchmarks/book.py, for timing builds at book length.",
        "[comic]",
        f'title = "A Synthetic Book ({pages} x {PANELS_PER_PAGE} panels)"',
        'authors = ["benchmarks/book.py"]',
        'format = "us-comic"',
        f"dpi = {dpi}",
        'direction = "ink wash with bold brush strokes, muted teal and orange palette"',
        'style_image = "art/style.png"',
        "",
        "[build]",
        'backend = "auto"',
        'preset = "draft"',
        "seed = 1",
    ]
    for name, (kind, title, description) in ELEMENTS.items():
        refs = ", ".join(f'"art/ref/{name}_{k}.png"' for k in range(len(REFERENCES[name])))
        lines += ["", f"[elements.{name}]", f'kind = "{kind}"', f"name = {toml_string(title)}",
                  f"description = {toml_string(description)}", f"references = [{refs}]"]
    for p, panels in enumerate(plan):
        lines += ["", "[[page]]", f'layout = "{LAYOUT}"']
        for j, panel in enumerate(panels):
            rng = random.Random(f"{panel.art} balloons")
            speakers = [e for e in panel.elements if e in CHARACTERS]
            balloons = [f'{{ kind = "caption", text = "Page {p + 1}, panel {j + 1}." }}']
            if speakers:
                balloons.append(f'{{ speaker = "{rng.choice(speakers)}", '
                                f"text = {toml_string(rng.choice(LINES))} }}")
            lines += ["", "  [[page.panel]]", f'  art = "{panel.art}"',
                      f"  elements = {json.dumps(panel.elements)}"]
            if regions.get(panel.art):
                boxes = ", ".join(f"{name} = {_box(box)}"
                                  for name, box in regions[panel.art].items())
                lines.append(f"  regions = {{ {boxes} }}")
            lines += [f"  direction = {toml_string(DIRECTIONS[panel.sky])}",
                      f"  balloons = [{', '.join(balloons)}]"]
    return "\n".join(lines) + "\n"


def frame_sizes(manifest: str, dpi: int) -> list[tuple[int, int]]:
    """Per panel in reading order, the pixel size its frame needs at `dpi`: art of exactly
    this size prints at the comic's dpi without being scaled down."""
    comic = Comic.model_validate(tomllib.loads(manifest))
    return [(ceil(frame.rect.w / POINTS_PER_INCH * dpi), ceil(frame.rect.h / POINTS_PER_INCH * dpi))
            for p in range(len(comic.page)) for frame in layout_frames(comic, p, None)]


def book_plan(pages: int) -> list[list[PanelPlan]]:
    """What each panel of each page shows; every element is in at least one panel."""
    plan = []
    for p in range(pages):
        page = []
        for j in range(PANELS_PER_PAGE):
            art = f"art/p{p + 1:02d}_{j + 1}.png"
            rng = random.Random(art)
            page.append(PanelPlan(art, panel_elements(rng), rng.choice(sorted(SKIES))))
        plan.append(page)
    missing = [e for e in ELEMENTS if not any(e in q.elements for page in plan for q in page)]
    for k, name in enumerate(missing):
        q = plan[0][k]
        plan[0][k] = PanelPlan(q.art, [e for e in ELEMENTS if e in q.elements or e == name], q.sky)
    return plan


def write_book(out: Path, pages: int = PAGES, dpi: int = 300,
               log: Callable[[str], None] | None = None) -> Path:
    """Draw the book into `out` (art/ and comic.toml) and return its manifest's path."""
    plan = book_plan(pages)
    panels = [panel for page in plan for panel in page]
    sizes = frame_sizes(book_manifest(pages, dpi, plan, {}), dpi)
    regions: dict[str, dict[str, Box]] = {}
    truth: dict[str, dict] = {}
    labels = [f"{p + 1}.{k + 1}" for p, page in enumerate(plan) for k in range(len(page))]
    for label, panel, size in zip(labels, panels, sizes, strict=True):
        # A generator of its own, seeded by the file name (the plan's drew from another).
        image, regions[panel.art], drawn = draw_panel(size, panel.elements, panel.sky,
                                                      random.Random(f"{panel.art} drawing"))
        truth[label] = {"art": panel.art,
                        "boxes": {k: [round(v, 4) for v in b] for k, b in drawn.items()}}
        save_png(image, out / panel.art)
        if log is not None:
            log(f"{out / panel.art} {size[0]}x{size[1]}")
    for name, drawings in REFERENCES.items():
        for k, (box, pose) in enumerate(drawings):
            path = f"art/ref/{name}_{k}.png"
            save_png(draw_reference(name, box, pose, random.Random(path)), out / path)
    save_png(brush_texture(256, TEAL_ORANGE, seed=11, strokes=260), out / "art/style.png")
    (out / "truth.json").write_text(json.dumps({"panels": truth}, indent=1) + "\n",
                                    encoding="utf-8")
    manifest = out / "comic.toml"
    manifest.write_text(book_manifest(pages, dpi, plan, regions), encoding="utf-8")
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the folder to write the project into")
    parser.add_argument("--pages", type=int, default=PAGES)
    parser.add_argument("--dpi", type=int, default=300)
    args = parser.parse_args()
    print(write_book(args.out, args.pages, args.dpi, log=print))


if __name__ == "__main__":
    main()

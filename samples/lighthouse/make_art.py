"""Draw every image of the lighthouse sample: seven panels, nine reference drawings, a style image.

    python samples/lighthouse/make_art.py            # rewrite samples/lighthouse/art/
    python samples/lighthouse/make_art.py OUT_DIR    # write the same files under OUT_DIR/art/

Drawing is deterministic (one random generator per image, seeded by its file name), so running
it again gives byte-identical PNGs. The boxes in REGIONS are where the characters are drawn;
comic.toml uses the same numbers as its `regions`.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from comicc.starter import (
    INK,
    PAPER,
    SKIES,
    TEAL_ORANGE,
    Background,
    Box,
    Canvas,
    brush_texture,
    draw_beam,
    draw_boat,
    draw_cat,
    draw_keeper,
    draw_lighthouse,
    draw_lightning,
    draw_moon,
    draw_rain,
    draw_rocks,
    draw_sea,
    draw_stars,
    save_png,
)

HERE = Path(__file__).resolve().parent
# Panels are drawn at the size their frames need at 300 DPI (us-comic: 2.88 x 5.16 in tall,
# 5.88 x 4.22 in wide, cover-cropped), so the sample prints without a resolution warning.
TALL = (1170, 1560)
WIDE = (1776, 1332)
REFERENCE = (256, 256)
STORM_SEA = ((40, 70, 80), (16, 34, 44))
NIGHT_SEA = ((30, 52, 86), (12, 24, 46))

# Character boxes [x, y, width, height] per panel, as fractions of the art.
REGIONS: dict[str, dict[str, Box]] = {
    "art/p1_2.png": {"mara": (0.52, 0.3, 0.41, 0.62)},
    "art/p1_3.png": {"fathom": (0.26, 0.44, 0.48, 0.45)},
    "art/p1_4.png": {"mara": (0.02, 0.3, 0.48, 0.6), "fathom": (0.6, 0.58, 0.32, 0.3)},
    "art/p2_1.png": {"mara": (0.6, 0.38, 0.21, 0.55), "fathom": (0.81, 0.66, 0.15, 0.25)},
    "art/p2_3.png": {"mara": (0.08, 0.33, 0.4, 0.6), "fathom": (0.58, 0.62, 0.32, 0.3)},
}


def storm_lighthouse(rng: random.Random) -> Image.Image:
    """Page 1, panel 1: the lighthouse dark in the storm, lightning over the sea."""
    canvas = Canvas(TALL, SKIES["storm"])
    draw_lightning(canvas, rng, 0.22, bottom=0.55)
    draw_sea(canvas, 0.62, *STORM_SEA, rng, waves=60)
    canvas.place(draw_lighthouse, (0.4, 0.12, 0.45, 0.75), lit=False)
    for x in (0.42, 0.58, 0.76):
        canvas.line([(x, 0.87), (x + 0.05, 0.85), (x + 0.1, 0.87)], (220, 236, 236), 0.008)
    draw_rain(canvas, rng, drops=160)
    return canvas.finish()


def mara_shouts(rng: random.Random) -> Image.Image:
    """Page 1, panel 2: Mara at the foot of the tower, shouting into the rain."""
    canvas = Canvas(TALL, SKIES["storm"])
    draw_sea(canvas, 0.7, *STORM_SEA, rng, waves=30)
    draw_rocks(canvas, (0.0, 0.82, 1.0, 0.18), rng)
    canvas.place(draw_lighthouse, (-0.12, 0.02, 0.6, 1.0), lit=False)
    canvas.place(draw_keeper, REGIONS["art/p1_2.png"]["mara"], pose="shout")
    draw_rain(canvas, rng, drops=160)
    return canvas.finish()


def fathom_hides(rng: random.Random) -> Image.Image:
    """Page 1, panel 3: Fathom sheltering under an overhanging rock."""
    canvas = Canvas(TALL, SKIES["storm"])
    draw_sea(canvas, 0.55, *STORM_SEA, rng, waves=20)
    draw_rocks(canvas, (0.0, 0.8, 1.0, 0.2), rng, colour=(62, 56, 54))
    canvas.polygon(
        [(0.0, 0.0), (1.0, 0.0), (1.0, 0.3), (0.7, 0.4), (0.35, 0.38), (0.0, 0.45)],
        (50, 46, 46),
        outline=INK,
        width=0.006,
    )
    canvas.polygon(
        [(0.0, 0.45), (0.18, 0.5), (0.22, 0.9), (0.0, 0.95)], (70, 64, 60), outline=INK, width=0.006
    )
    canvas.polygon(
        [(1.0, 0.3), (0.8, 0.42), (0.76, 0.92), (1.0, 0.95)], (70, 64, 60), outline=INK, width=0.006
    )
    canvas.place(draw_cat, REGIONS["art/p1_3.png"]["fathom"], pose="sit")
    draw_rain(canvas, rng, drops=40)
    return canvas.finish()


def mara_finds_fathom(rng: random.Random) -> Image.Image:
    """Page 1, panel 4: Mara's lantern finds Fathom on a rock."""
    canvas = Canvas(TALL, SKIES["storm"])
    draw_sea(canvas, 0.6, *STORM_SEA, rng, waves=30)
    draw_rocks(canvas, (0.0, 0.78, 1.0, 0.22), rng)
    draw_rocks(canvas, (0.55, 0.8, 0.42, 0.2), rng, colour=(88, 80, 74), bumps=3)
    canvas.place(draw_keeper, REGIONS["art/p1_4.png"]["mara"], pose="lantern")
    canvas.place(draw_cat, REGIONS["art/p1_4.png"]["fathom"], pose="sit", flip=True)
    draw_rain(canvas, rng, drops=100)
    return canvas.finish()


def light_again(rng: random.Random) -> Image.Image:
    """Page 2, panel 1 (wide): the lamp burns again; Mara and Fathom watch from the rocks."""
    canvas = Canvas(WIDE, SKIES["night"])
    draw_stars(canvas, rng, stars=70, below=0.55)
    draw_moon(canvas, (0.86, 0.14), 0.06)
    draw_sea(canvas, 0.6, *NIGHT_SEA, rng, waves=50)
    draw_beam(canvas, (0.265, 0.19), (-0.1, 0.02), 0.08)
    draw_beam(canvas, (0.265, 0.19), (0.62, 0.0), 0.05, alpha=0.25)
    canvas.place(draw_lighthouse, (0.12, 0.04, 0.29, 0.85), lit=True)
    draw_rocks(canvas, (0.5, 0.84, 0.5, 0.16), rng, bumps=5)
    canvas.place(draw_keeper, REGIONS["art/p2_1.png"]["mara"], pose="front")
    canvas.place(draw_cat, REGIONS["art/p2_1.png"]["fathom"], pose="sit")
    return canvas.finish()


def trawler(rng: random.Random) -> Image.Image:
    """Page 2, panel 2: far out, the beam reaches a trawler."""
    canvas = Canvas(TALL, SKIES["night"])
    draw_stars(canvas, rng, stars=60, below=0.5)
    draw_sea(canvas, 0.5, *NIGHT_SEA, rng, waves=70)
    draw_beam(canvas, (0.14, 0.372), (1.1, 0.62), 0.14)
    canvas.place(draw_lighthouse, (0.02, 0.3, 0.24, 0.4), lit=True)
    canvas.place(draw_boat, (0.62, 0.58, 0.26, 0.14))
    return canvas.finish()


def morning(rng: random.Random) -> Image.Image:
    """Page 2, panel 3: inside at dawn, the storm gone."""
    canvas = Canvas(TALL, ((120, 78, 52), (84, 52, 36)))
    canvas.gradient((0.2, 0.08, 0.6, 0.3), *SKIES["dawn"])
    canvas.gradient((0.2, 0.3, 0.6, 0.08), (90, 140, 170), (60, 104, 140))
    canvas.draw.rectangle(
        (*canvas.px(0.2, 0.08), *canvas.px(0.8, 0.38)), outline=INK, width=canvas.stroke(0.012)
    )
    canvas.line([(0.5, 0.08), (0.5, 0.38)], INK, 0.01)
    canvas.line([(0.2, 0.23), (0.8, 0.23)], INK, 0.01)
    canvas.gradient((0.0, 0.72, 1.0, 0.28), (150, 104, 66), (110, 74, 46))
    for k in range(6):
        y = 0.72 + 0.05 * k
        canvas.line([(0.0, y), (1.0, y)], (90, 60, 40), 0.004)
    ellipse = (*canvas.px(0.42, 0.86), *canvas.px(0.98, 0.98))
    canvas.draw.ellipse(ellipse, fill=(170, 54, 48), outline=INK, width=canvas.stroke(0.005))
    canvas.place(draw_keeper, REGIONS["art/p2_3.png"]["mara"], pose="front")
    canvas.place(draw_cat, REGIONS["art/p2_3.png"]["fathom"], pose="sit")
    return canvas.finish()


def reference(
    figure: Callable[..., None],
    box: Box,
    background: Background = PAPER,
    flip: bool = False,
    **pose: object,
) -> Image.Image:
    """One reference drawing: the figure alone on a plain or graded ground."""
    canvas = Canvas(REFERENCE, background)
    canvas.place(figure, box, flip=flip, **pose)
    return canvas.finish()


def lighthouse_day(rng: random.Random) -> Image.Image:
    canvas = Canvas(REFERENCE, SKIES["day"])
    draw_sea(canvas, 0.74, (60, 120, 170), (40, 90, 140), rng, waves=10)
    canvas.place(draw_lighthouse, (0.3, 0.05, 0.4, 0.9))
    return canvas.finish()


def lighthouse_night(rng: random.Random) -> Image.Image:
    canvas = Canvas(REFERENCE, SKIES["night"])
    draw_stars(canvas, rng, stars=20, below=0.6)
    draw_sea(canvas, 0.8, *NIGHT_SEA, rng, waves=8)
    draw_beam(canvas, (0.64, 0.37), (-0.1, 0.2), 0.1)
    canvas.place(draw_lighthouse, (0.47, 0.2, 0.34, 0.76), lit=True)
    return canvas.finish()


def lighthouse_close(rng: random.Random) -> Image.Image:
    """The top of the tower seen close up, from below."""
    canvas = Canvas(REFERENCE, SKIES["dusk"])
    canvas.place(draw_lighthouse, (0.05, -0.06, 0.9, 2.0))
    return canvas.finish()


ART: dict[str, Callable[[random.Random], Image.Image]] = {
    "art/p1_1.png": storm_lighthouse,
    "art/p1_2.png": mara_shouts,
    "art/p1_3.png": fathom_hides,
    "art/p1_4.png": mara_finds_fathom,
    "art/p2_1.png": light_again,
    "art/p2_2.png": trawler,
    "art/p2_3.png": morning,
    "art/ref/mara_front.png": lambda rng: reference(draw_keeper, (0.25, 0.05, 0.5, 0.9)),
    "art/ref/mara_side.png": lambda rng: reference(
        draw_keeper, (0.28, 0.1, 0.44, 0.85), pose="side"
    ),
    "art/ref/mara_shout.png": lambda rng: reference(
        draw_keeper, (0.4, 0.38, 0.3, 0.55), SKIES["dawn"], flip=True, pose="shout"
    ),
    "art/ref/fathom_sit.png": lambda rng: reference(draw_cat, (0.18, 0.1, 0.64, 0.8)),
    "art/ref/fathom_walk.png": lambda rng: reference(
        draw_cat, (0.09, 0.25, 0.825, 0.55), pose="walk"
    ),
    "art/ref/fathom_small.png": lambda rng: reference(
        draw_cat, (0.12, 0.5, 0.34, 0.42), SKIES["dusk"], flip=True
    ),
    "art/ref/lighthouse_day.png": lighthouse_day,
    "art/ref/lighthouse_night.png": lighthouse_night,
    "art/ref/lighthouse_close.png": lighthouse_close,
    "art/style.png": lambda rng: brush_texture(256, TEAL_ORANGE, seed=11, strokes=260),
}


def render_all() -> dict[str, Image.Image]:
    """Every image of the sample, by path relative to the sample directory."""
    # Seeded by file name, so adding an image leaves the others unchanged.
    return {name: draw(random.Random(name)) for name, draw in ART.items()}


def for_the_repository(name: str, image: Image.Image) -> Image.Image:
    """Panels as 256-colour PNGs: a fifth of the bytes at print size for about three levels
    (of 255) of mean error; max-coverage keeps every character's signature colour
    (tests/test_starter.py). References and the style image stay full colour."""
    if not name.startswith("art/p"):
        return image
    return image.convert("RGB").quantize(256, method=Image.Quantize.MAXCOVERAGE,
                                         dither=Image.Dither.NONE)


def main(out: Path = HERE) -> None:
    for name, image in render_all().items():
        save_png(for_the_repository(name, image), out / name)
        print(out / name)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)

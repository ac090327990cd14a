"""Draw every image of the meadow sample: eight flat-colour panels, nine references, a style image.

    python samples/meadow/make_art.py            # rewrite samples/meadow/art/ and truth.json
    python samples/meadow/make_art.py OUT_DIR    # write the same files under OUT_DIR/

Flat colours inside clean ink outlines, like a picture book. The three characters are told
apart by colour first: Rufus the fox is orange-red, Skye the bird cobalt blue, Hazel the
gardener wears a yellow sun-hat and a yellow dress; no scenery uses those colours. They
appear small in some panels (10-20 % of the panel's width) and large in others.

comic.toml has no `regions`: the build has to find the characters itself. Instead the boxes
the characters are drawn in are written to truth.json, for benchmarks to score against:
{"panels": {"1.1": {"art": "art/p1_1.png", "boxes": {"skye": [x, y, w, h]}}, ...}}, panels
labelled page.panel from 1 as in `comicc matrix`, each box the bounds of the figure's inked
pixels as fractions of the panel. Each panel is drawn at its frame's aspect ratio, so the
build shows it whole and the boxes are fractions of the printed frame too.

Drawing is deterministic (one random generator per image, seeded by its file name), so running
it again gives byte-identical files.
"""

from __future__ import annotations

import json
import math
import random
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from PIL import Image, ImageOps

from comicc.starter import (
    INK,
    SUPERSAMPLE,
    Box,
    Canvas,
    Pen,
    Point,
    draw_moon,
    draw_stars,
    save_png,
)

HERE = Path(__file__).resolve().parent
# A grid-2x2 frame of the us-comic format is 2.875 x 4.6875 in (aspect 46:75); at 300 DPI it
# needs 863 x 1407 px. Drawn at exactly that aspect, so the build never crops the art.
PANEL = (874, 1425)
REFERENCE = (256, 256)
RGB = tuple[int, int, int]

# The characters' colours, which nothing else in the sample wears.
FOX: RGB = (232, 96, 28)
FOX_DARK: RGB = (74, 44, 40)  # socks, ear insides
BIRD: RGB = (34, 92, 218)
BIRD_DARK: RGB = (20, 54, 148)  # wings and tail
HAT: RGB = (252, 204, 18)
DRESS: RGB = (246, 190, 20)
# Shared, neutral colours.
WHITE: RGB = (250, 248, 242)
BEAK: RGB = (70, 66, 78)
SKIN: RGB = (176, 118, 86)
HAIR: RGB = (44, 32, 30)
BOOTS: RGB = (52, 110, 70)
RIBBON: RGB = (226, 92, 138)
CAN: RGB = (150, 162, 172)
WATER: RGB = (168, 214, 240)
# Scenery.
GRASS: RGB = (118, 186, 84)
GRASS_FAR: RGB = (156, 204, 110)
GRASS_DARK: RGB = (64, 130, 62)
TREE: RGB = (70, 150, 80)
BARK: RGB = (116, 80, 58)
FENCE: RGB = (168, 126, 88)
SOIL: RGB = (124, 88, 66)
CABBAGE: RGB = (120, 196, 120)
WALL: RGB = (240, 230, 208)
ROOF: RGB = (96, 104, 132)
DOOR: RGB = (70, 120, 110)
WINDOW_LIT: RGB = (255, 238, 186)
BLANKET: RGB = (178, 150, 222)
CLOUD: RGB = (252, 252, 250)
FLOWERS: tuple[RGB, ...] = ((240, 140, 182), (250, 250, 245), (160, 116, 214))
# Flat skies (a gradient would band in a 256-colour PNG and is not the look anyway).
DAY: RGB = (150, 206, 242)
DUSK: RGB = (112, 86, 152)
DUSK_GLOW: RGB = (238, 168, 150)
NIGHT: RGB = (22, 30, 66)
NIGHT_HILL: RGB = (40, 84, 70)
NIGHT_HILL_FAR: RGB = (52, 70, 96)
# Picture-book palette of the style image.
STORYBOOK: tuple[RGB, ...] = (
    WHITE,
    GRASS,
    GRASS_DARK,
    DAY,
    FLOWERS[0],
    FLOWERS[2],
    FENCE,
    (96, 170, 200),
    INK,
)

OUTLINE = 0.014  # figure outlines, in box-height units


# --- the characters (each draws with a Pen in box-height units) ----------------------------


def draw_fox(pen: Pen, pose: str = "sit") -> None:
    """Rufus: an orange-red fox with a white chest and tail tip and dark socks.
    Nominal aspect 0.8 (sit), 1.6 (run, facing right)."""
    if pose == "run":
        _fox_run(pen)
        return
    w = OUTLINE
    tail = [(0.02, 0.97), (0.3, 0.99), (0.39, 0.86), (0.37, 0.66), (0.3, 0.58), (0.25, 0.72),
            (0.2, 0.84), (0.02, 0.87)]
    pen.polygon(tail, FOX, width=w)
    pen.polygon([(0.37, 0.66), (0.3, 0.58), (0.26, 0.68), (0.385, 0.73)], WHITE, width=w)
    pen.ellipse((0.0, 0.68), (0.2, 0.27), FOX, width=w)
    pen.polygon([(-0.1, 0.46), (0.1, 0.46), (0.07, 0.78), (-0.07, 0.78)], WHITE, None)
    for s in (-1, 1):
        pen.rect((min(s * 0.03, s * 0.11), 0.7, max(s * 0.03, s * 0.11), 0.97), FOX, width=w,
                 radius=0.03)
        pen.rect((min(s * 0.03, s * 0.11), 0.86, max(s * 0.03, s * 0.11), 0.99), FOX_DARK,
                 width=w, radius=0.03)
        pen.polygon([(s * 0.17, 0.24), (s * 0.21, 0.01), (s * 0.04, 0.16)], FOX, width=w)
        pen.polygon([(s * 0.155, 0.2), (s * 0.19, 0.07), (s * 0.08, 0.16)], FOX_DARK, None)
    pen.ellipse((0.0, 0.29), (0.2, 0.15), FOX, width=w)
    pen.polygon([(-0.2, 0.3), (-0.08, 0.33), (0.0, 0.44), (0.08, 0.33), (0.2, 0.3), (0.12, 0.41),
                 (0.0, 0.46), (-0.12, 0.41)], WHITE, None)
    pen.line([(-0.19, 0.31), (-0.12, 0.41), (0.0, 0.45), (0.12, 0.41), (0.19, 0.31)], INK, w)
    for s in (-1, 1):
        pen.ellipse((s * 0.08, 0.27), (0.024, 0.034), INK, None)
        pen.circle((s * 0.08 + 0.008, 0.258), 0.008, WHITE, None)
    pen.ellipse((0.0, 0.375), (0.03, 0.022), INK, None)
    pen.line([(-0.03, 0.41), (0.0, 0.4), (0.03, 0.41)], INK, 0.008)


def _fox_run(pen: Pen) -> None:
    """The fox bounding to the right, seen from its left side."""
    w = OUTLINE
    pen.polygon([(-0.38, 0.42), (-0.6, 0.28), (-0.78, 0.3), (-0.74, 0.42), (-0.56, 0.5),
                 (-0.36, 0.56)], FOX, width=w)
    pen.polygon([(-0.66, 0.28), (-0.78, 0.3), (-0.74, 0.42), (-0.66, 0.4)], WHITE, width=w)
    legs = ((-0.3, -0.22), (-0.18, -0.12), (0.22, 0.2), (0.34, 0.26))
    for x, reach in legs:
        pen.polygon([(x - 0.05, 0.55), (x + 0.05, 0.55), (x + reach + 0.04, 0.9),
                     (x + reach - 0.04, 0.92)], FOX, width=w)
        pen.ellipse((x + reach, 0.92), (0.06, 0.035), FOX_DARK, width=w)
    pen.ellipse((-0.03, 0.5), (0.4, 0.17), FOX, width=w)
    pen.ellipse((0.02, 0.6), (0.26, 0.055), WHITE, None)
    pen.polygon([(0.36, 0.28), (0.41, 0.04), (0.5, 0.24)], FOX, width=w)
    pen.polygon([(0.4, 0.24), (0.42, 0.1), (0.47, 0.22)], FOX_DARK, None)
    pen.ellipse((0.45, 0.36), (0.15, 0.13), FOX, width=w)
    pen.polygon([(0.52, 0.3), (0.74, 0.4), (0.7, 0.45), (0.52, 0.47)], FOX, width=w)
    pen.polygon([(0.5, 0.42), (0.7, 0.45), (0.6, 0.5), (0.46, 0.48)], WHITE, width=w)
    pen.circle((0.735, 0.405), 0.025, INK, None)
    pen.ellipse((0.5, 0.33), (0.022, 0.03), INK, None)
    pen.circle((0.508, 0.32), 0.008, WHITE, None)


def draw_bird(pen: Pen, pose: str = "perch") -> None:
    """Skye: a cobalt-blue bird with darker wings and a white belly, facing right.
    Nominal aspect 0.9 (perch, sing, sleep), 1.5 (fly)."""
    if pose == "fly":
        _bird_fly(pen)
        return
    w = OUTLINE
    pen.polygon([(-0.18, 0.66), (-0.43, 0.9), (-0.36, 0.96), (-0.08, 0.8)], BIRD_DARK, width=w)
    for x in (-0.06, 0.08):
        pen.line([(x, 0.8), (x, 0.97)], INK, 0.02)
        pen.line([(x - 0.05, 0.98), (x + 0.06, 0.98)], INK, 0.02)
    pen.ellipse((0.0, 0.58), (0.3, 0.27), BIRD, width=w)
    pen.ellipse((0.1, 0.66), (0.17, 0.17), WHITE, None)
    pen.polygon([(-0.26, 0.48), (0.08, 0.5), (0.02, 0.7), (-0.36, 0.78)], BIRD_DARK, width=w)
    for k in range(3):
        pen.line([(-0.2 + 0.07 * k, 0.55), (-0.26 + 0.07 * k, 0.7)], INK, 0.008)
    for x, tip in ((0.02, (-0.02, 0.02)), (0.08, (0.06, -0.0)), (0.14, (0.15, 0.02))):
        pen.polygon([(x - 0.04, 0.12), (tip[0], tip[1]), (x + 0.04, 0.12)], BIRD, width=w)
    pen.circle((0.12, 0.26), 0.19, BIRD, width=w)
    if pose == "sleep":
        pen.polygon([(0.29, 0.21), (0.43, 0.27), (0.29, 0.31)], BEAK, width=0.01)
        pen.line([(0.16, 0.23), (0.2, 0.255), (0.24, 0.23)], INK, 0.016)
    elif pose == "sing":
        pen.polygon([(0.28, 0.2), (0.43, 0.13), (0.31, 0.26)], BEAK, width=0.01)
        pen.polygon([(0.29, 0.28), (0.43, 0.33), (0.28, 0.33)], BEAK, width=0.01)
        pen.line([(0.16, 0.22), (0.2, 0.245), (0.24, 0.22)], INK, 0.016)
    else:
        pen.polygon([(0.29, 0.21), (0.43, 0.27), (0.29, 0.31)], BEAK, width=0.01)
        pen.circle((0.2, 0.23), 0.038, INK, None)
        pen.circle((0.212, 0.218), 0.012, WHITE, None)


def _bird_fly(pen: Pen) -> None:
    """The bird flying to the right, wings up."""
    w = OUTLINE
    pen.polygon([(0.0, 0.5), (-0.2, 0.08), (-0.05, 0.05), (0.16, 0.46)], BIRD_DARK, width=w)
    pen.polygon([(-0.3, 0.52), (-0.7, 0.38), (-0.72, 0.56), (-0.3, 0.64)], BIRD_DARK, width=w)
    pen.ellipse((0.0, 0.58), (0.36, 0.17), BIRD, width=w)
    pen.ellipse((0.08, 0.66), (0.22, 0.07), WHITE, None)
    pen.circle((0.36, 0.44), 0.15, BIRD, width=w)
    pen.polygon([(0.49, 0.39), (0.66, 0.45), (0.49, 0.5)], BEAK, width=0.01)
    pen.circle((0.42, 0.41), 0.032, INK, None)
    pen.circle((0.43, 0.4), 0.01, WHITE, None)
    pen.polygon([(-0.12, 0.52), (-0.5, 0.03), (-0.32, 0.02), (0.1, 0.5)], BIRD_DARK, width=w)
    for k in range(3):
        pen.line([(-0.28 + 0.08 * k, 0.12), (-0.1 + 0.07 * k, 0.4)], INK, 0.008)


def draw_gardener(pen: Pen, pose: str = "stand") -> None:
    """Hazel: a gardener in a wide yellow sun-hat and a yellow dress, green boots.
    Nominal aspect 0.5 (stand, wave), 0.9 (water: a watering can held out to the right)."""
    w = OUTLINE
    for s in (-1, 1):
        pen.rect((min(s * 0.025, s * 0.075), 0.7, max(s * 0.025, s * 0.075), 0.92), SKIN,
                 width=w)
        pen.rect((min(s * 0.015, s * 0.1), 0.88, max(s * 0.015, s * 0.1), 1.0), BOOTS, width=w,
                 radius=0.02)
    left_arm = [(-0.08, 0.33), (-0.15, 0.48), (-0.16, 0.58)]
    if pose == "wave":
        right_arm = [(0.08, 0.33), (0.17, 0.26), (0.2, 0.12)]
    elif pose == "water":
        right_arm = [(0.08, 0.33), (0.14, 0.44), (0.2, 0.47)]
    else:
        right_arm = [(0.08, 0.33), (0.15, 0.48), (0.16, 0.58)]
    for arm in (left_arm, right_arm):
        pen.line(arm, INK, 0.06)
        pen.line(arm, SKIN, 0.06 - 2 * w)
        pen.circle(arm[-1], 0.03, SKIN, width=w)
    pen.polygon([(-0.085, 0.3), (0.085, 0.3), (0.18, 0.74), (-0.18, 0.74)], DRESS, width=w)
    pen.polygon([(-0.06, 0.3), (0.06, 0.3), (0.0, 0.36)], WHITE, width=0.01)
    pen.rect((-0.055, 0.55, 0.055, 0.64), WHITE, width=0.01, radius=0.015)
    if pose == "water":
        _watering_can(pen, (0.2, 0.5))
    pen.ellipse((0.0, 0.19), (0.085, 0.068), HAIR, width=w)
    pen.circle((0.0, 0.205), 0.07, SKIN, width=w)
    for s in (-1, 1):
        pen.circle((s * 0.028, 0.21), 0.01, INK, None)
    pen.line([(-0.022, 0.245), (0.0, 0.252), (0.022, 0.245)], INK, 0.008)
    pen.cap((0.0, 0.15), (0.095, 0.1), HAT, width=w)
    pen.rect((-0.09, 0.12, 0.09, 0.15), RIBBON, width=0.01)
    pen.ellipse((0.0, 0.155), (0.24, 0.04), HAT, width=w)


def _watering_can(pen: Pen, centre: Point) -> None:
    """A grey watering can held by its handle, spout to the right, a few drops falling."""
    x, y = centre
    w = OUTLINE
    pen.polygon([(x + 0.05, y + 0.02), (x + 0.16, y - 0.07), (x + 0.18, y - 0.045),
                 (x + 0.07, y + 0.06)], CAN, width=w)
    pen.rect((x - 0.07, y - 0.02, x + 0.07, y + 0.12), CAN, width=w, radius=0.015)
    pen.line([(x - 0.06, y - 0.02), (x - 0.06, y - 0.06), (x + 0.04, y - 0.06),
              (x + 0.04, y - 0.02)], INK, 0.014)
    for k in range(3):
        dx, dy = x + 0.18 + 0.02 * k, y - 0.01 + 0.06 * k
        pen.ellipse((dx, dy), (0.01, 0.018), WATER, width=0.006)


# --- scenery (in canvas fractions; sizes as fractions of the canvas height) ----------------


def disc(canvas: Canvas, centre: Point, radius: float, fill: RGB,
         outline: RGB | None = INK, width: float = 0.003) -> None:
    """A round disc whatever the canvas's aspect, radius in canvas heights."""
    cx, cy = canvas.px(*centre)
    r = radius * canvas.image.height
    canvas.draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill, outline=outline,
                        width=canvas.stroke(width) if outline else 0)


def blob(canvas: Canvas, circles: Sequence[tuple[float, float, float]], fill: RGB,
         width: float = 0.003) -> None:
    """Overlapping discs that read as one shape with one outline (a cloud, a tree's crown)."""
    for x, y, r in circles:
        disc(canvas, (x, y), r + width, INK, None)
    for x, y, r in circles:
        disc(canvas, (x, y), r, fill, None)


def hill(canvas: Canvas, top: float, points: Sequence[Point], fill: RGB) -> None:
    """Ground from a smooth curve down to the bottom edge through `points`, (x, lift) pairs."""
    curve = []
    for (x0, lift0), (x1, lift1) in zip(points, points[1:], strict=False):
        for k in range(12):
            t = (1 - math.cos(math.pi * k / 12)) / 2  # ease in and out: round tops and dips
            curve.append((x0 + (x1 - x0) * k / 12, top - lift0 - (lift1 - lift0) * t))
    curve.append((points[-1][0], top - points[-1][1]))
    canvas.polygon([*curve, (1.05, 1.05), (-0.05, 1.05)], fill, outline=INK, width=0.003)


def meadow(canvas: Canvas, rng: random.Random, horizon: float, night: bool = False,
           flowers: int = 40) -> None:
    """Two rolling hills from `horizon` down, tufts of grass and (by day) flowers."""
    far, near = (NIGHT_HILL_FAR, NIGHT_HILL) if night else (GRASS_FAR, GRASS)
    hill(canvas, horizon, [(-0.05, 0.0), (0.2, 0.04), (0.45, 0.06), (0.7, 0.03), (1.05, 0.07)],
         far)
    hill(canvas, horizon + 0.08, [(-0.05, 0.05), (0.25, 0.02), (0.55, -0.01), (0.8, 0.02),
                                  (1.05, 0.0)], near)
    tuft = (30, 66, 52) if night else GRASS_DARK
    for _ in range(flowers):
        x, y = rng.uniform(0.02, 0.98), rng.uniform(horizon + 0.12, 0.99)
        size = 0.006 + 0.01 * (y - horizon)
        for dx, dy in ((-size, -1.8 * size), (0.0, -2.4 * size), (size, -1.8 * size)):
            canvas.line([(x, y), (x + dx, y + dy)], tuft, 0.0025)
        if not night:
            flower = FLOWERS[rng.randrange(len(FLOWERS))]
            fx = x + rng.uniform(0.02, 0.05)
            disc(canvas, (fx, y - size), size * 0.9, flower, INK, 0.0015)
            disc(canvas, (fx, y - size), size * 0.35, WHITE if flower != WHITE else FLOWERS[0],
                 None)


def cloud(canvas: Canvas, x: float, y: float, size: float) -> None:
    blob(canvas, [(x, y, size), (x + 0.09 * size / 0.04, y + 0.01, size * 0.8),
                  (x - 0.08 * size / 0.04, y + 0.012, size * 0.7),
                  (x + 0.03 * size / 0.04, y - 0.02 * size / 0.04, size * 0.75)], CLOUD)


def tree(canvas: Canvas, x: float, base: float, height: float, crown: RGB = TREE) -> None:
    """A round-crowned tree whose trunk stands on `base`."""
    w = height * 0.09
    canvas.polygon([(x - w, base), (x - w * 0.6, base - height * 0.55),
                    (x + w * 0.6, base - height * 0.55), (x + w, base)], BARK, outline=INK,
                   width=0.003)
    r = height * 0.22
    aspect = canvas.size[1] / canvas.size[0]  # crown circles are offset in canvas heights
    blob(canvas, [(x, base - height * 0.75, r), (x - r * 0.9 * aspect, base - height * 0.6, r * 0.8),
                  (x + r * 0.9 * aspect, base - height * 0.62, r * 0.85),
                  (x, base - height * 0.95, r * 0.7)], crown)


def fence(canvas: Canvas, y: float, x0: float, x1: float, posts: int, height: float) -> None:
    """A wooden rail fence standing on `y` from `x0` to `x1`."""
    for rail in (0.35, 0.7):
        ry = y - height * rail
        canvas.polygon([(x0, ry - height * 0.06), (x1, ry - height * 0.06),
                        (x1, ry + height * 0.06), (x0, ry + height * 0.06)], FENCE, outline=INK,
                       width=0.0025)
    for k in range(posts):
        px = x0 + (x1 - x0) * k / max(1, posts - 1)
        half = height * 0.07 * canvas.size[1] / canvas.size[0]
        canvas.polygon([(px - half, y), (px - half, y - height), (px, y - height * 1.08),
                        (px + half, y - height), (px + half, y)], FENCE, outline=INK,
                       width=0.0025)


def cottage(canvas: Canvas, x: float, base: float, width: float, lit: bool = False) -> None:
    """A small cottage: cream walls, a slate roof, a green door, two windows."""
    height = width * canvas.size[0] / canvas.size[1] * 0.7
    top = base - height
    canvas.polygon([(x + width * 0.7, top - height * 0.5), (x + width * 0.7, top - height * 0.85),
                    (x + width * 0.82, top - height * 0.85), (x + width * 0.82, top - height * 0.3)],
                   ROOF, outline=INK, width=0.003)
    canvas.polygon([(x, top), (x + width, top), (x + width, base), (x, base)], WALL, outline=INK,
                   width=0.003)
    canvas.polygon([(x - width * 0.08, top + 0.005), (x + width * 0.5, top - height * 0.75),
                    (x + width * 1.08, top + 0.005)], ROOF, outline=INK, width=0.003)
    canvas.polygon([(x + width * 0.42, base), (x + width * 0.42, base - height * 0.6),
                    (x + width * 0.58, base - height * 0.6), (x + width * 0.58, base)], DOOR,
                   outline=INK, width=0.003)
    glass = WINDOW_LIT if lit else (150, 196, 222)
    for wx in (0.12, 0.7):
        left = x + width * wx
        canvas.polygon([(left, base - height * 0.7), (left + width * 0.18, base - height * 0.7),
                        (left + width * 0.18, base - height * 0.35),
                        (left, base - height * 0.35)], glass, outline=INK, width=0.003)


def cabbages(canvas: Canvas, rng: random.Random, box: Box, rows: int, per_row: int) -> None:
    """A vegetable patch: rows of brown soil with round green cabbages."""
    x, y, w, h = box
    canvas.polygon([(x, y), (x + w, y), (x + w + 0.04, y + h), (x - 0.04, y + h)], SOIL,
                   outline=INK, width=0.003)
    for r in range(rows):
        cy = y + h * (r + 0.6) / rows
        for c in range(per_row):
            cx = x + w * (c + 0.5 + rng.uniform(-0.1, 0.1)) / per_row
            size = h / rows * 0.32
            blob(canvas, [(cx, cy, size), (cx - 0.6 * size, cy + 0.2 * size, size * 0.7),
                          (cx + 0.6 * size, cy + 0.2 * size, size * 0.7)], CABBAGE, 0.0025)
            canvas.line([(cx, cy - size * 0.6), (cx, cy + size * 0.4)], GRASS_DARK, 0.002)


def blanket(canvas: Canvas, box: Box) -> None:
    """A lilac picnic blanket seen in perspective."""
    x, y, w, h = box
    canvas.polygon([(x + 0.05, y), (x + w - 0.05, y), (x + w, y + h), (x, y + h)], BLANKET,
                   outline=INK, width=0.003)
    for k in range(1, 4):
        t = k / 4
        canvas.line([(x + 0.05 + (w - 0.1) * t, y), (x + w * t, y + h)], WHITE, 0.004)


def music_notes(canvas: Canvas, start: Point, count: int, size: float) -> None:
    """Ink quavers rising to the upper right from `start`."""
    x, y = start
    aspect = canvas.size[1] / canvas.size[0]  # sizes in canvas heights, x in widths
    for k in range(count):
        nx, ny = x + k * size * 1.4 * aspect, y - k * size * 1.2
        cx, cy = canvas.px(nx, ny)
        rx, ry = size * 0.32 * canvas.image.height, size * 0.24 * canvas.image.height
        canvas.draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=INK)
        stem = nx + size * 0.3 * aspect
        canvas.line([(stem, ny), (stem, ny - size)], INK, 0.005)
        canvas.line([(stem, ny - size), (stem + size * 0.4 * aspect, ny - size * 0.6)], INK,
                    0.005)


# --- where the characters stand ------------------------------------------------------------


class Cast(NamedTuple):
    """One character drawn in one panel: which element, its figure, box and pose."""

    element: str
    figure: Callable[[Pen, str], None]
    box: Box  # where the figure is scaled into, fractions of the panel (it may draw less)
    flip: bool
    pose: str


def fox(box: Box, flip: bool = False, pose: str = "sit") -> Cast:
    return Cast("rufus", draw_fox, box, flip, pose)


def bird(box: Box, flip: bool = False, pose: str = "perch") -> Cast:
    return Cast("skye", draw_bird, box, flip, pose)


def gardener(box: Box, flip: bool = False, pose: str = "stand") -> Cast:
    return Cast("hazel", draw_gardener, box, flip, pose)


# Who is drawn where, per panel. Box heights follow from the widths and the figures' aspect
# ratios (fox 0.8 sitting, 1.6 running; bird 0.9 perched, 1.5 flying; gardener 0.5, 0.9
# watering) on the 874 x 1425 panel: h = w * 874 / 1425 / aspect.
CASTS: dict[str, list[Cast]] = {
    "art/p1_1.png": [bird((0.62, 0.36, 0.15, 0.0613), pose="fly")],
    "art/p1_2.png": [fox((0.12, 0.4, 0.76, 0.5827))],
    "art/p1_3.png": [gardener((0.1, 0.42, 0.78, 0.5316), pose="water")],
    "art/p1_4.png": [
        fox((0.14, 0.7, 0.2, 0.0767), pose="run"),
        bird((0.6, 0.55, 0.14, 0.0572), pose="fly"),
    ],
    "art/p2_1.png": [
        gardener((0.04, 0.46, 0.4, 0.4906), pose="wave"),
        fox((0.54, 0.66, 0.38, 0.2913), flip=True),
    ],
    "art/p2_2.png": [bird((0.16, 0.34, 0.62, 0.4225), pose="sing")],
    "art/p2_3.png": [
        gardener((0.3, 0.56, 0.12, 0.1472), pose="wave"),
        fox((0.5, 0.6, 0.16, 0.1227), flip=True),
        bird((0.68, 0.63, 0.1, 0.0681)),
    ],
    "art/p2_4.png": [
        gardener((0.5, 0.55, 0.26, 0.319), flip=True, pose="wave"),
        bird((0.17, 0.435, 0.11, 0.0749), pose="sleep"),
    ],
}


def sprite(size: tuple[int, int], cast: Cast) -> tuple[Image.Image, tuple[int, int]]:
    """The figure drawn alone at supersampled scale, and where its top-left corner goes."""
    width, height = size[0] * SUPERSAMPLE, size[1] * SUPERSAMPLE
    x, y, w, h = cast.box
    left, top = round(x * width), round(y * height)
    pen = Pen(round((x + w) * width) - left, round((y + h) * height) - top)
    cast.figure(pen, cast.pose)
    image = ImageOps.mirror(pen.image) if cast.flip else pen.image
    return image, (left, top)


def put(canvas: Canvas, cast: Cast) -> None:
    """Draw one character onto a panel."""
    image, corner = sprite(canvas.size, cast)
    canvas.image.paste(image, corner, image)


def drawn_box(size: tuple[int, int], cast: Cast) -> Box:
    """The bounds of the figure's inked pixels, as fractions of the panel (clipped to it)."""
    image, (left, top) = sprite(size, cast)
    x0, y0, x1, y1 = image.getchannel("A").getbbox() or (0, 0, 0, 0)
    width, height = size[0] * SUPERSAMPLE, size[1] * SUPERSAMPLE
    fx0, fx1 = max(0.0, (left + x0) / width), min(1.0, (left + x1) / width)
    fy0, fy1 = max(0.0, (top + y0) / height), min(1.0, (top + y1) / height)
    return (round(fx0, 4), round(fy0, 4), round(fx1 - fx0, 4), round(fy1 - fy0, 4))


def cast_in(canvas: Canvas, name: str) -> None:
    for cast in CASTS[name]:
        put(canvas, cast)


# --- the panels ----------------------------------------------------------------------------


def morning(rng: random.Random) -> Image.Image:
    """Page 1, panel 1: Clover Hill at morning, Skye a small bird in the sky."""
    canvas = Canvas(PANEL, DAY)
    cloud(canvas, 0.2, 0.3, 0.035)
    cloud(canvas, 0.78, 0.18, 0.028)
    meadow(canvas, rng, 0.6, flowers=50)
    cottage(canvas, 0.08, 0.6, 0.28)
    tree(canvas, 0.8, 0.6, 0.26)
    fence(canvas, 0.74, -0.02, 1.02, 6, 0.06)
    cast_in(canvas, "art/p1_1.png")
    return canvas.finish()


def fox_listens(rng: random.Random) -> Image.Image:
    """Page 1, panel 2: Rufus, large, sitting in the grass with his ears up."""
    canvas = Canvas(PANEL, DAY)
    cloud(canvas, 0.7, 0.22, 0.03)
    meadow(canvas, rng, 0.55, flowers=40)
    tree(canvas, 0.12, 0.55, 0.2)
    cast_in(canvas, "art/p1_2.png")
    return canvas.finish()


def hazel_waters(rng: random.Random) -> Image.Image:
    """Page 1, panel 3: Hazel, large, watering her cabbages."""
    canvas = Canvas(PANEL, DAY)
    cloud(canvas, 0.25, 0.2, 0.03)
    meadow(canvas, rng, 0.5, flowers=20)
    fence(canvas, 0.62, -0.02, 1.02, 4, 0.1)
    cabbages(canvas, rng, (0.05, 0.8, 0.9, 0.16), 2, 4)
    cast_in(canvas, "art/p1_3.png")
    return canvas.finish()


def the_chase(rng: random.Random) -> Image.Image:
    """Page 1, panel 4: far off, Rufus bounds after Skye across the meadow."""
    canvas = Canvas(PANEL, DAY)
    cloud(canvas, 0.8, 0.3, 0.03)
    meadow(canvas, rng, 0.5, flowers=60)
    tree(canvas, 0.86, 0.58, 0.2)
    cast_in(canvas, "art/p1_4.png")
    return canvas.finish()


def hazel_meets_rufus(rng: random.Random) -> Image.Image:
    """Page 2, panel 1: Hazel waves at Rufus by the vegetable patch."""
    canvas = Canvas(PANEL, DAY)
    meadow(canvas, rng, 0.52, flowers=20)
    cottage(canvas, 0.55, 0.58, 0.34)
    cabbages(canvas, rng, (0.5, 0.9, 0.48, 0.08), 1, 3)
    cast_in(canvas, "art/p2_1.png")
    return canvas.finish()


def skye_sings(rng: random.Random) -> Image.Image:
    """Page 2, panel 2: Skye, large, singing on a fence post."""
    canvas = Canvas(PANEL, DAY)
    cloud(canvas, 0.3, 0.16, 0.03)
    meadow(canvas, rng, 0.7, flowers=25)
    fence(canvas, 0.98, -0.1, 1.1, 3, 0.22)
    post = (0.34, 0.755, 0.3, 0.245)
    x, y, w, h = post
    canvas.polygon([(x, y + h), (x, y), (x + w, y), (x + w, y + h)], FENCE, outline=INK,
                   width=0.004)
    canvas.line([(x + 0.06, y + 0.04), (x + 0.06, y + 0.2)], BARK, 0.004)
    music_notes(canvas, (0.8, 0.36), 2, 0.04)
    cast_in(canvas, "art/p2_2.png")
    return canvas.finish()


def picnic_at_dusk(rng: random.Random) -> Image.Image:
    """Page 2, panel 3: dusk, the three of them small on the hilltop round a blanket."""
    canvas = Canvas(PANEL, DUSK)
    canvas.polygon([(0, 0.52), (1, 0.52), (1, 0.8), (0, 0.8)], DUSK_GLOW)
    hill(canvas, 0.72, [(-0.05, 0.0), (0.25, 0.04), (0.55, 0.05), (0.85, 0.02), (1.05, -0.02)],
         (86, 128, 84))
    tree(canvas, 0.14, 0.7, 0.3, crown=(62, 104, 84))
    blanket(canvas, (0.36, 0.69, 0.36, 0.05))
    draw_stars(canvas, rng, stars=12, below=0.25)
    cast_in(canvas, "art/p2_3.png")
    return canvas.finish()


def good_night(rng: random.Random) -> Image.Image:
    """Page 2, panel 4: night; Hazel waves good night from her door, Skye asleep in the tree."""
    canvas = Canvas(PANEL, NIGHT)
    draw_stars(canvas, rng, stars=70, below=0.5)
    draw_moon(canvas, (0.78, 0.12), 0.045)
    meadow(canvas, rng, 0.62, night=True, flowers=30)
    tree(canvas, 0.22, 0.82, 0.5, crown=(34, 80, 64))
    cottage(canvas, 0.48, 0.87, 0.46, lit=True)
    cast_in(canvas, "art/p2_4.png")
    return canvas.finish()


# --- references and the style image -----------------------------------------------------------


def reference(cast: Cast, background: Any = WHITE) -> Image.Image:
    """One reference drawing: the figure alone on a plain or graded ground."""
    canvas = Canvas(REFERENCE, background)
    put(canvas, cast)
    return canvas.finish()


def reference_on_grass(cast: Cast, sky: RGB) -> Image.Image:
    """A reference with a little scenery, the figure small in it."""
    canvas = Canvas(REFERENCE, sky)
    hill(canvas, 0.72, [(-0.05, 0.0), (0.5, 0.04), (1.05, 0.0)], GRASS)
    put(canvas, cast)
    return canvas.finish()


def flat_shapes(rng: random.Random) -> Image.Image:
    """The style image: overlapping flat-colour discs and leaves inside ink outlines."""
    canvas = Canvas(REFERENCE, STORYBOOK[0])
    for _ in range(60):
        x, y, r = rng.random(), rng.random(), rng.uniform(0.03, 0.14)
        colour = rng.choice(STORYBOOK[1:-1])
        if rng.random() < 0.5:
            disc(canvas, (x, y), r, colour, INK, 0.012)
        else:
            canvas.polygon([(x - r, y), (x, y - r * 0.5), (x + r, y), (x, y + r * 0.5)], colour,
                           outline=INK, width=0.012)
    return canvas.finish()


ART: dict[str, Callable[[random.Random], Image.Image]] = {
    "art/p1_1.png": morning,
    "art/p1_2.png": fox_listens,
    "art/p1_3.png": hazel_waters,
    "art/p1_4.png": the_chase,
    "art/p2_1.png": hazel_meets_rufus,
    "art/p2_2.png": skye_sings,
    "art/p2_3.png": picnic_at_dusk,
    "art/p2_4.png": good_night,
    "art/ref/rufus_sit.png": lambda rng: reference(fox((0.1, 0.05, 0.8, 0.9))),
    "art/ref/rufus_run.png": lambda rng: reference(fox((0.04, 0.3, 0.92, 0.575), pose="run")),
    "art/ref/rufus_small.png": lambda rng: reference_on_grass(
        fox((0.55, 0.52, 0.25, 0.3125), flip=True), DUSK),
    "art/ref/skye_perch.png": lambda rng: reference(bird((0.1, 0.1, 0.8, 0.8889))),
    "art/ref/skye_fly.png": lambda rng: reference(bird((0.05, 0.2, 0.9, 0.6), pose="fly")),
    "art/ref/skye_small.png": lambda rng: reference_on_grass(
        bird((0.2, 0.25, 0.24, 0.16), flip=True, pose="fly"), DAY),
    "art/ref/hazel_front.png": lambda rng: reference(gardener((0.27, 0.04, 0.46, 0.92))),
    "art/ref/hazel_water.png": lambda rng: reference(
        gardener((0.06, 0.07, 0.88, 0.86), pose="water")),
    "art/ref/hazel_small.png": lambda rng: reference_on_grass(
        gardener((0.6, 0.4, 0.17, 0.34), flip=True, pose="wave"), DAY),
    "art/style.png": flat_shapes,
}


def render_all() -> dict[str, Image.Image]:
    """Every image of the sample, by path relative to the sample directory."""
    # Seeded by file name, so adding an image leaves the others unchanged.
    return {name: draw(random.Random(name)) for name, draw in ART.items()}


def panel_id(name: str) -> str:
    """"art/p2_3.png" -> "2.3", the label `comicc matrix` gives the panel."""
    page, panel = Path(name).stem[1:].split("_")
    return f"{page}.{panel}"


def truth() -> dict[str, Any]:
    """truth.json: every character's drawn box in every panel, by panel label."""
    panels = {
        panel_id(name): {
            "art": name,
            "boxes": {cast.element: list(drawn_box(PANEL, cast)) for cast in casts},
        }
        for name, casts in CASTS.items()
    }
    return {
        "about": "Where make_art.py drew each character: [x, y, w, h], the bounds of its inked "
        "pixels as fractions of the panel, panels labelled page.panel from 1.",
        "panels": panels,
    }


def for_the_repository(name: str, image: Image.Image) -> Image.Image:
    """Panels as 256-colour PNGs (flat colours lose next to nothing); references and the style
    image stay full colour."""
    if not name.startswith("art/p"):
        return image
    return image.convert("RGB").quantize(256, method=Image.Quantize.MAXCOVERAGE,
                                         dither=Image.Dither.NONE)


def main(out: Path = HERE) -> None:
    for name, image in render_all().items():
        save_png(for_the_repository(name, image), out / name)
        print(out / name)
    (out / "truth.json").write_text(json.dumps(truth(), indent=1) + "\n")
    print(out / "truth.json")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)

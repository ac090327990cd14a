"""A small working comic for `comicc init`, and the Pillow drawing primitives it is made of.

Everything is drawn procedurally and deterministically (seeded `random.Random`, fixed PNG
settings, no timestamps), so the same call always writes the same bytes. The primitives
(skies, sea, rain, rocks, a keeper in a raincoat, a grey cat, a blue robot, a striped
lighthouse, a boat, painterly brush strokes) also draw `samples/lighthouse/`.

Two coordinate systems:
- a `Canvas` (a panel or reference image) takes positions as fractions of its size, the same
  convention as `regions` boxes `[x, y, width, height]` in comic.toml;
- a `Pen` (one figure placed in a box) works in box-height units: y runs from 0 (top) to 1
  (bottom), x from -aspect/2 to +aspect/2, so figures keep their proportions in any box.
"""

from __future__ import annotations

import math
import random
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from PIL import Image, ImageDraw, ImageOps

from comicc.manifest.models import Comic

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

RGB = tuple[int, int, int]
Point = tuple[float, float]
Box = tuple[float, float, float, float]  # x, y, width, height as fractions of the canvas
Background = RGB | tuple[RGB, RGB]  # a flat colour, or the top and bottom of a gradient
Figure = Callable[..., None]  # draws one figure with a Pen: figure(pen, **pose)

SUPERSAMPLE = 4  # everything is drawn at 4x and downsampled once, for smooth edges
OUTLINE = 0.012  # default outline width, in box-height units

INK: RGB = (28, 24, 30)
PAPER: RGB = (244, 238, 226)
SKIN: RGB = (242, 204, 172)
COAT: RGB = (250, 196, 22)
COAT_SHADE: RGB = (214, 150, 10)
HAIR: RGB = (206, 52, 30)
TROUSERS: RGB = (40, 52, 86)
BOOT: RGB = (34, 34, 38)
FUR: RGB = (128, 132, 142)
FUR_DARK: RGB = (78, 82, 92)
FUR_LIGHT: RGB = (236, 236, 232)
CAT_EYE: RGB = (70, 205, 80)
PINK: RGB = (236, 150, 160)
ROBOT: RGB = (40, 110, 230)
ROBOT_DARK: RGB = (24, 62, 150)
STEEL: RGB = (150, 158, 170)
VISOR: RGB = (0, 222, 232)
TOWER_RED: RGB = (206, 36, 36)
TOWER_WHITE: RGB = (242, 242, 236)
ROCK: RGB = (74, 66, 62)
LAMP: RGB = (255, 226, 110)
GLASS_DARK: RGB = (44, 58, 70)

# Top and bottom colours of each sky.
SKIES: dict[str, tuple[RGB, RGB]] = {
    "storm": ((18, 24, 40), (58, 88, 98)),
    "night": ((10, 16, 42), (38, 72, 104)),
    "dusk": ((62, 54, 118), (250, 152, 82)),
    "dawn": ((118, 150, 204), (250, 204, 152)),
    "day": ((104, 168, 226), (206, 232, 246)),
}
SkyName = Literal["storm", "night", "dusk", "dawn", "day"]

TEAL_ORANGE: tuple[RGB, ...] = (
    (16, 48, 60),
    (22, 104, 116),
    (44, 160, 158),
    (120, 200, 190),
    (240, 128, 38),
    (252, 182, 78),
    (196, 66, 38),
    (246, 230, 200),
)


def _lerp(a: float, b: float, t: float) -> float:
    return a + (b - a) * t


def _tint(colour: RGB, factor: float = 1.0, add: int = 0) -> RGB:
    """`colour` scaled by `factor` plus `add` on each channel, clamped to 0..255."""
    r, g, b = (min(255, max(0, round(c * factor) + add)) for c in colour)
    return (r, g, b)


def _jitter(colour: RGB, amount: int, rng: random.Random) -> RGB:
    r, g, b = (min(255, max(0, c + rng.randint(-amount, amount))) for c in colour)
    return (r, g, b)


def vertical_gradient(size: tuple[int, int], top: RGB, bottom: RGB) -> Image.Image:
    """An RGB image of `size` fading from `top` to `bottom`."""
    mask = Image.linear_gradient("L").resize(size, Image.Resampling.BILINEAR)
    return Image.composite(Image.new("RGB", size, bottom), Image.new("RGB", size, top), mask)


class Pen:
    """Draws one figure on a transparent layer, in box-height units (see the module docstring)."""

    def __init__(self, width: int, height: int) -> None:
        self.image = Image.new("RGBA", (max(1, width), max(1, height)), (0, 0, 0, 0))
        self._draw = ImageDraw.Draw(self.image)
        self._unit = float(max(1, height))
        self._x0 = width / 2

    def _xy(self, points: Sequence[Point]) -> list[tuple[float, float]]:
        return [(self._x0 + x * self._unit, y * self._unit) for x, y in points]

    def _width(self, width: float) -> int:
        return max(1, round(width * self._unit))

    def polygon(
        self,
        points: Sequence[Point],
        fill: RGB | None,
        outline: RGB | None = INK,
        width: float = OUTLINE,
    ) -> None:
        """A closed polygon."""
        self._draw.polygon(self._xy(points), fill=fill, outline=outline, width=self._width(width))

    def ellipse(
        self,
        centre: Point,
        radii: tuple[float, float],
        fill: RGB | None,
        outline: RGB | None = INK,
        width: float = OUTLINE,
    ) -> None:
        """An ellipse given by its centre and (x, y) radii."""
        (cx, cy), (rx, ry) = centre, radii
        (x0, y0), (x1, y1) = self._xy([(cx - rx, cy - ry), (cx + rx, cy + ry)])
        self._draw.ellipse((x0, y0, x1, y1), fill=fill, outline=outline, width=self._width(width))

    def circle(
        self,
        centre: Point,
        radius: float,
        fill: RGB | None,
        outline: RGB | None = INK,
        width: float = OUTLINE,
    ) -> None:
        """A circle."""
        self.ellipse(centre, (radius, radius), fill, outline, width)

    def cap(
        self,
        centre: Point,
        radii: tuple[float, float],
        fill: RGB,
        outline: RGB | None = INK,
        width: float = OUTLINE,
    ) -> None:
        """The upper half of an ellipse (a dome, a fringe of hair)."""
        (cx, cy), (rx, ry) = centre, radii
        (x0, y0), (x1, y1) = self._xy([(cx - rx, cy - ry), (cx + rx, cy + ry)])
        box = (x0, y0, x1, y1)
        self._draw.chord(box, 180, 360, fill=fill, outline=outline, width=self._width(width))

    def rect(
        self,
        corners: Box,
        fill: RGB | None,
        outline: RGB | None = INK,
        width: float = OUTLINE,
        radius: float = 0.0,
    ) -> None:
        """A (rounded) rectangle from its corners (x0, y0, x1, y1)."""
        (x0, y0), (x1, y1) = self._xy([corners[:2], corners[2:]])
        self._draw.rounded_rectangle(
            (x0, y0, x1, y1),
            radius=radius * self._unit,
            fill=fill,
            outline=outline,
            width=self._width(width),
        )

    def line(self, points: Sequence[Point], fill: RGB, width: float = OUTLINE) -> None:
        """An open polyline with rounded joints."""
        self._draw.line(self._xy(points), fill=fill, width=self._width(width), joint="curve")

    def glow(self, centre: Point, radius: float, colour: RGB, alpha: float = 0.5) -> None:
        """A soft translucent halo (lamp light), blended over what is already drawn."""
        layer = Image.new("RGBA", self.image.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(layer)
        rings = 12
        for i in range(rings):
            r = radius * (1 - i / rings)
            (cx, cy) = centre
            (x0, y0), (x1, y1) = self._xy([(cx - r, cy - r), (cx + r, cy + r)])
            draw.ellipse((x0, y0, x1, y1), fill=(*colour, round(255 * alpha * (i + 1) / rings)))
        self.image.alpha_composite(layer)


class Canvas:
    """A panel or reference image being drawn at SUPERSAMPLE times its final size."""

    def __init__(self, size: tuple[int, int], background: Background = PAPER) -> None:
        self.size = size
        big = (size[0] * SUPERSAMPLE, size[1] * SUPERSAMPLE)
        if len(background) == 2:
            top, bottom = background
            self.image = vertical_gradient(big, top, bottom)
        else:
            self.image = Image.new("RGB", big, background)
        self.draw = ImageDraw.Draw(self.image)

    def px(self, x: float, y: float) -> tuple[float, float]:
        """Fractions of the canvas to supersampled pixels."""
        return x * self.image.width, y * self.image.height

    def stroke(self, width: float) -> int:
        """A line width given as a fraction of the canvas height, in supersampled pixels."""
        return max(1, round(width * self.image.height))

    def gradient(self, box: Box, top: RGB, bottom: RGB) -> None:
        """Fill `box` with a vertical gradient."""
        x, y, w, h = box
        left, upper = self.px(x, y)
        right, lower = self.px(x + w, y + h)
        size = (max(1, round(right - left)), max(1, round(lower - upper)))
        self.image.paste(vertical_gradient(size, top, bottom), (round(left), round(upper)))

    def polygon(
        self, points: Sequence[Point], fill: RGB, outline: RGB | None = None, width: float = 0.004
    ) -> None:
        """A polygon in canvas fractions."""
        self.draw.polygon(
            [self.px(*p) for p in points], fill=fill, outline=outline, width=self.stroke(width)
        )

    def line(self, points: Sequence[Point], fill: RGB, width: float = 0.004) -> None:
        """A polyline in canvas fractions; width is a fraction of the canvas height."""
        self.draw.line(
            [self.px(*p) for p in points], fill=fill, width=self.stroke(width), joint="curve"
        )

    def translucent(self, points: Sequence[Point], colour: RGB, alpha: float) -> None:
        """A see-through polygon (a beam of light, a sheet of rain)."""
        layer = Image.new("RGBA", self.image.size, (0, 0, 0, 0))
        ImageDraw.Draw(layer).polygon(
            [self.px(*p) for p in points], fill=(*colour, round(255 * alpha))
        )
        self.image.paste(layer, (0, 0), layer)

    def place(self, figure: Figure, box: Box, *, flip: bool = False, **pose: Any) -> Box:
        """Draw `figure` scaled into `box` (fractions), mirrored when `flip`; it may overhang.
        Returns the bounds of the pixels it drew, as fractions of the canvas (clipped to
        it; `box` when it drew none): where the figure is, for a benchmark's truth."""
        x, y, w, h = box
        left, top = self.px(x, y)
        right, bottom = self.px(x + w, y + h)
        pen = Pen(round(right - left), round(bottom - top))
        figure(pen, **pose)
        sprite = ImageOps.mirror(pen.image) if flip else pen.image
        corner = (round(left), round(top))
        self.image.paste(sprite, corner, sprite)
        drawn = sprite.getchannel("A").getbbox()
        if drawn is None:
            return box
        width, height = self.image.size
        x0, y0 = max(0, corner[0] + drawn[0]), max(0, corner[1] + drawn[1])
        x1, y1 = min(width, corner[0] + drawn[2]), min(height, corner[1] + drawn[3])
        return (x0 / width, y0 / height, (x1 - x0) / width, (y1 - y0) / height)

    def finish(self) -> Image.Image:
        """The finished image at its final size."""
        return self.image.resize(self.size, Image.Resampling.LANCZOS)


# --- scenery -------------------------------------------------------------------------------


def draw_sea(
    canvas: Canvas,
    horizon: float,
    top: RGB,
    bottom: RGB,
    rng: random.Random,
    waves: int = 40,
    crest: RGB = (200, 226, 230),
) -> None:
    """Sea from `horizon` (fraction of height) down, with wave crests growing towards the viewer."""
    canvas.gradient((0, horizon, 1, 1 - horizon), top, bottom)
    for _ in range(waves):
        depth = rng.random()  # 0 at the horizon, 1 at the bottom edge
        y = horizon + (1 - horizon) * depth
        x = rng.uniform(-0.05, 1.0)
        length = 0.04 + 0.14 * depth
        lift = 0.01 + 0.02 * depth
        arc = [(x + length * k / 6, y - lift * math.sin(math.pi * k / 6)) for k in range(7)]
        canvas.line(arc, crest, width=0.002 + 0.004 * depth)


def draw_rain(
    canvas: Canvas,
    rng: random.Random,
    drops: int = 120,
    colour: RGB = (176, 196, 210),
    slant: float = 0.25,
) -> None:
    """Slanting rain streaks over the whole canvas."""
    for _ in range(drops):
        x, y = rng.uniform(-0.1, 1.0), rng.uniform(-0.05, 1.0)
        length = rng.uniform(0.03, 0.07)
        canvas.line([(x, y), (x + length * slant, y + length)], colour, width=0.0025)


def draw_stars(canvas: Canvas, rng: random.Random, stars: int = 60, below: float = 0.5) -> None:
    """Small stars scattered over the sky above `below`."""
    for _ in range(stars):
        x, y = canvas.px(rng.random(), rng.random() * below)
        r = canvas.stroke(rng.uniform(0.001, 0.003))
        canvas.draw.ellipse((x - r, y - r, x + r, y + r), fill=(236, 236, 214))


def draw_lightning(canvas: Canvas, rng: random.Random, x: float, bottom: float = 0.5) -> None:
    """A jagged bolt from the top edge down to `bottom`, with a pale halo."""
    points = [(x, 0.0)]
    while points[-1][1] < bottom:
        px, py = points[-1]
        points.append((px + rng.uniform(-0.06, 0.06), py + rng.uniform(0.04, 0.1)))
    canvas.line(points, (150, 190, 230), width=0.02)
    canvas.line(points, (250, 250, 255), width=0.006)


def draw_rocks(
    canvas: Canvas, box: Box, rng: random.Random, colour: RGB = ROCK, bumps: int = 7
) -> None:
    """A lumpy rock mass filling `box` from its top edge down, with highlights on top."""
    x, y, w, h = box
    top = [(x + w * i / bumps, y + h * rng.uniform(0.0, 0.35)) for i in range(bumps + 1)]
    canvas.polygon([*top, (x + w, y + h), (x, y + h)], colour, outline=INK, width=0.004)
    light = _tint(colour, add=34)
    for (x0, y0), (x1, y1) in zip(top, top[1:], strict=False):
        canvas.line([(x0, y0 + 0.01), ((x0 + x1) / 2, (y0 + y1) / 2 + 0.008)], light, width=0.005)


def draw_moon(canvas: Canvas, centre: Point, radius: float) -> None:
    """A pale full moon (radius as a fraction of the canvas height)."""
    cx, cy = canvas.px(*centre)
    r = radius * canvas.image.height
    canvas.draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(240, 234, 200))


def draw_beam(
    canvas: Canvas, origin: Point, target: Point, spread: float, alpha: float = 0.45
) -> None:
    """A lighthouse beam: a pale translucent wedge from `origin` opening towards `target`."""
    (ox, oy), (tx, ty) = origin, target
    dx, dy = tx - ox, ty - oy
    norm = max(1e-6, (dx * dx + dy * dy) ** 0.5)
    nx, ny = -dy / norm * spread, dx / norm * spread
    canvas.translucent([origin, (tx + nx, ty + ny), (tx - nx, ty - ny)], (255, 236, 150), alpha)


# --- figures (each draws with a Pen in box-height units) -----------------------------------


def draw_keeper(pen: Pen, pose: Literal["front", "side", "shout", "lantern"] = "front") -> None:
    """The keeper: a figure with long red hair and a bright yellow raincoat. Nominal aspect 0.5."""
    if pose == "side":
        _keeper_side(pen)
        return
    pen.polygon([(-0.105, 0.15), (0.105, 0.15), (0.125, 0.34), (-0.125, 0.34)], HAIR)
    for s in (-1, 1):
        pen.rect((min(s * 0.025, s * 0.085), 0.78, max(s * 0.025, s * 0.085), 0.93), TROUSERS)
        pen.rect(
            (min(s * 0.015, s * 0.105), 0.905, max(s * 0.015, s * 0.105), 1.0), BOOT, radius=0.02
        )
    pen.polygon([(-0.1, 0.3), (0.1, 0.3), (0.18, 0.83), (-0.18, 0.83)], COAT)
    pen.polygon([(-0.096, 0.31), (-0.062, 0.31), (-0.115, 0.82), (-0.17, 0.82)], COAT_SHADE, None)
    pen.line([(0.0, 0.34), (0.0, 0.83)], INK, 0.008)
    for k in range(4):
        pen.circle((0.022, 0.42 + 0.1 * k), 0.011, INK, None)
    pen.polygon([(-0.095, 0.31), (-0.05, 0.33), (-0.13, 0.6), (-0.19, 0.58)], COAT)
    pen.circle((-0.165, 0.615), 0.028, SKIN)
    if pose == "shout":
        pen.polygon([(0.05, 0.33), (0.095, 0.31), (0.2, 0.1), (0.15, 0.08)], COAT)
        pen.circle((0.18, 0.07), 0.03, SKIN)
    elif pose == "lantern":
        pen.polygon([(0.05, 0.33), (0.095, 0.31), (0.25, 0.44), (0.22, 0.49)], COAT)
        pen.circle((0.24, 0.47), 0.028, SKIN)
        pen.line([(0.24, 0.47), (0.24, 0.51)], INK, 0.008)
        pen.glow((0.24, 0.56), 0.16, LAMP, 0.55)
        pen.rect((0.21, 0.51, 0.27, 0.61), LAMP, radius=0.01)
        pen.line([(0.24, 0.51), (0.24, 0.61)], INK, 0.006)
    else:
        pen.polygon([(0.05, 0.33), (0.095, 0.31), (0.19, 0.58), (0.13, 0.6)], COAT)
        pen.circle((0.165, 0.615), 0.028, SKIN)
    pen.polygon([(-0.075, 0.27), (0.075, 0.27), (0.105, 0.315), (-0.105, 0.315)], COAT)
    pen.circle((0.0, 0.185), 0.08, SKIN)
    pen.cap((0.0, 0.18), (0.09, 0.085), HAIR)
    for s in (-1, 1):
        lock = [(s * 0.09, 0.17), (s * 0.062, 0.17), (s * 0.08, 0.37), (s * 0.122, 0.38)]
        pen.polygon(lock, HAIR)
        pen.circle((s * 0.03, 0.195), 0.011, INK, None)
    if pose == "shout":
        pen.ellipse((0.0, 0.235), (0.02, 0.018), (150, 30, 40))
    else:
        pen.line([(-0.018, 0.232), (0.0, 0.238), (0.018, 0.232)], INK, 0.006)


def _keeper_side(pen: Pen) -> None:
    """The keeper walking, seen from her left side, facing right."""
    pen.polygon([(-0.085, 0.14), (0.0, 0.12), (-0.02, 0.33), (-0.125, 0.345)], HAIR)
    pen.polygon([(-0.05, 0.78), (0.0, 0.78), (-0.05, 0.93), (-0.1, 0.93)], TROUSERS)
    pen.rect((-0.125, 0.905, -0.035, 0.99), BOOT, radius=0.02)
    pen.polygon([(0.0, 0.78), (0.05, 0.78), (0.09, 0.93), (0.04, 0.93)], TROUSERS)
    pen.rect((0.03, 0.905, 0.13, 0.99), BOOT, radius=0.02)
    pen.polygon([(-0.085, 0.3), (0.075, 0.3), (0.14, 0.83), (-0.15, 0.83)], COAT)
    pen.polygon([(-0.08, 0.31), (-0.05, 0.31), (-0.1, 0.82), (-0.14, 0.82)], COAT_SHADE, None)
    pen.polygon([(-0.02, 0.32), (0.03, 0.32), (0.125, 0.56), (0.075, 0.59)], COAT)
    pen.circle((0.105, 0.6), 0.028, SKIN)
    pen.polygon([(-0.07, 0.27), (0.065, 0.27), (0.09, 0.315), (-0.09, 0.315)], COAT)
    pen.circle((0.0, 0.185), 0.078, SKIN)
    pen.polygon([(0.07, 0.17), (0.098, 0.205), (0.07, 0.212)], SKIN)
    pen.cap((-0.005, 0.18), (0.088, 0.085), HAIR)
    pen.polygon([(-0.088, 0.17), (-0.035, 0.17), (-0.055, 0.41), (-0.115, 0.42)], HAIR)
    pen.circle((0.045, 0.192), 0.011, INK, None)
    pen.line([(0.045, 0.236), (0.068, 0.232)], INK, 0.006)


def draw_cat(pen: Pen, pose: Literal["sit", "walk"] = "sit") -> None:
    """A big grey tabby with green eyes and a ringed tail. Nominal aspect 0.8 (sit), 1.5 (walk)."""
    if pose == "walk":
        _cat_walk(pen)
        return
    tail = [(0.2, 0.92), (0.33, 0.86), (0.37, 0.7), (0.33, 0.56)]
    pen.line(tail, INK, 0.085)
    pen.line(tail, FUR, 0.06)
    for x, y in tail[1:]:
        pen.circle((x, y), 0.028, FUR_DARK, None)
    pen.ellipse((0.0, 0.68), (0.27, 0.3), FUR)
    for s in (-1, 1):
        for k in range(3):
            y = 0.56 + 0.1 * k
            pen.line([(s * 0.26, y), (s * 0.17, y + 0.03)], FUR_DARK, 0.022)
    pen.ellipse((0.0, 0.62), (0.12, 0.17), FUR_LIGHT, None)
    for s in (-1, 1):
        pen.rect((min(s * 0.045, s * 0.14), 0.72, max(s * 0.045, s * 0.14), 0.97), FUR, radius=0.04)
        pen.ellipse((s * 0.093, 0.95), (0.06, 0.035), FUR_LIGHT)
        pen.polygon([(s * 0.2, 0.24), (s * 0.17, 0.04), (s * 0.05, 0.15)], FUR)
        pen.polygon([(s * 0.17, 0.21), (s * 0.155, 0.09), (s * 0.085, 0.16)], PINK, None)
    pen.ellipse((0.0, 0.3), (0.22, 0.18), FUR)
    for x in (-0.05, 0.0, 0.05):
        pen.line([(x, 0.14), (x * 0.8, 0.21)], FUR_DARK, 0.018)
    for s in (-1, 1):
        pen.ellipse((s * 0.085, 0.29), (0.048, 0.038), CAT_EYE)
        pen.ellipse((s * 0.085, 0.29), (0.01, 0.032), INK, None)
    pen.ellipse((0.0, 0.375), (0.085, 0.055), FUR_LIGHT, None)
    pen.polygon([(-0.025, 0.345), (0.025, 0.345), (0.0, 0.37)], PINK, INK, 0.006)
    for s in (-1, 1):
        for dy in (-0.015, 0.015):
            pen.line([(s * 0.06, 0.38), (s * 0.33, 0.37 + dy * 2)], INK, 0.005)


def _cat_walk(pen: Pen) -> None:
    """The cat walking, seen from its left side, facing right."""
    tail = [(-0.42, 0.5), (-0.6, 0.4), (-0.66, 0.22), (-0.6, 0.1)]
    pen.line(tail, INK, 0.085)
    pen.line(tail, FUR, 0.06)
    for x, y in tail[1:]:
        pen.circle((x, y), 0.028, FUR_DARK, None)
    for x, stride in ((-0.34, -0.07), (-0.2, 0.06), (0.18, 0.07), (0.32, -0.05)):
        pen.polygon(
            [
                (x - 0.055, 0.55),
                (x + 0.055, 0.55),
                (x + stride + 0.045, 0.95),
                (x + stride - 0.045, 0.95),
            ],
            FUR,
        )
        pen.ellipse((x + stride + 0.015, 0.955), (0.065, 0.03), FUR_LIGHT)
    pen.ellipse((-0.05, 0.5), (0.46, 0.2), FUR)
    for k in range(5):
        x = -0.35 + 0.15 * k
        pen.line([(x, 0.32), (x + 0.03, 0.46)], FUR_DARK, 0.03)
    pen.ellipse((0.0, 0.6), (0.3, 0.08), FUR_LIGHT, None)
    pen.polygon([(0.33, 0.2), (0.36, 0.02), (0.45, 0.15)], FUR)
    pen.polygon([(0.49, 0.17), (0.56, 0.01), (0.6, 0.2)], FUR)
    pen.polygon([(0.51, 0.16), (0.555, 0.06), (0.58, 0.18)], PINK, None)
    pen.ellipse((0.48, 0.31), (0.19, 0.16), FUR)
    pen.line([(0.42, 0.17), (0.43, 0.23)], FUR_DARK, 0.018)
    pen.line([(0.48, 0.16), (0.48, 0.22)], FUR_DARK, 0.018)
    pen.ellipse((0.55, 0.28), (0.045, 0.038), CAT_EYE)
    pen.ellipse((0.56, 0.28), (0.01, 0.032), INK, None)
    pen.ellipse((0.6, 0.37), (0.075, 0.05), FUR_LIGHT, None)
    pen.polygon([(0.64, 0.335), (0.675, 0.34), (0.66, 0.36)], PINK, INK, 0.006)
    for dy in (-0.02, 0.02):
        pen.line([(0.6, 0.38), (0.76, 0.37 + dy * 2)], INK, 0.005)


def draw_robot(pen: Pen, pose: Literal["front", "side", "wave"] = "front") -> None:
    """A small blue robot with one big cyan eye and a red antenna ball. Nominal aspect 0.6."""
    side = pose == "side"
    half = 0.12 if side else 0.16
    pen.line([(0.0, 0.13), (0.0, 0.04)], INK, 0.014)
    pen.circle((0.0, 0.035), 0.03, (226, 40, 40))
    for s in (-1, 1):
        if side and s < 0:
            continue
        foot = (0.02, 0.9, 0.17, 1.0) if side else (s * 0.06, 0.9, s * 0.19, 1.0)
        leg_x = 0.07 if side else s * 0.12
        pen.rect((leg_x - 0.03, 0.76, leg_x + 0.03, 0.92), STEEL)
        pen.rect((min(foot[0], foot[2]), 0.9, max(foot[0], foot[2]), 1.0), ROBOT_DARK, radius=0.03)
    pen.rect((-0.035, 0.36, 0.035, 0.44), STEEL)
    body = 0.15 if side else 0.2
    pen.rect((-body, 0.42, body, 0.79), ROBOT, radius=0.05)
    pen.circle((0.06 if side else 0.0, 0.56), 0.05, (255, 150, 60))
    arms: list[list[Point]] = []
    if side:
        arms.append([(0.0, 0.48), (0.08, 0.6), (0.16, 0.66)])
    else:
        arms.append([(-0.19, 0.48), (-0.27, 0.6), (-0.27, 0.7)])
        if pose == "wave":
            arms.append([(0.19, 0.48), (0.28, 0.36), (0.28, 0.22)])
        else:
            arms.append([(0.19, 0.48), (0.27, 0.6), (0.27, 0.7)])
    for arm in arms:
        pen.line(arm, INK, 0.05)
        pen.line(arm, STEEL, 0.03)
        pen.circle(arm[-1], 0.035, ROBOT_DARK)
    pen.rect((-half, 0.12, half, 0.38), ROBOT, radius=0.04)
    eye_x = 0.05 if side else 0.0
    pen.circle((eye_x, 0.24), 0.075 if not side else 0.06, (236, 250, 252))
    pen.circle((eye_x + (0.02 if side else 0.0), 0.24), 0.042, VISOR, None)
    pen.circle((eye_x + (0.025 if side else 0.0), 0.24), 0.016, INK, None)
    for k in range(3):
        y = 0.335 + 0.014 * k
        pen.line([(eye_x - 0.05, y), (eye_x + 0.05, y)], ROBOT_DARK, 0.007)


def draw_lighthouse(pen: Pen, lit: bool = False) -> None:
    """A red-and-white striped tower with a black gallery, on a dark rock. Nominal aspect 0.45."""
    pen.polygon(
        [
            (-0.23, 1.0),
            (-0.2, 0.9),
            (-0.14, 0.85),
            (-0.05, 0.83),
            (0.06, 0.84),
            (0.15, 0.86),
            (0.21, 0.91),
            (0.23, 1.0),
        ],
        ROCK,
    )
    top, base, top_half, base_half, bands = 0.26, 0.87, 0.07, 0.115, 6

    def half_width(y: float) -> float:
        return _lerp(top_half, base_half, (y - top) / (base - top))

    for i in range(bands):
        y0, y1 = _lerp(top, base, i / bands), _lerp(top, base, (i + 1) / bands)
        colour = TOWER_RED if i % 2 == 0 else TOWER_WHITE
        pen.polygon(
            [
                (-half_width(y0), y0),
                (half_width(y0), y0),
                (half_width(y1), y1),
                (-half_width(y1), y1),
            ],
            colour,
            None,
        )
        shade = _tint(colour, 0.78)
        pen.polygon(
            [
                (half_width(y0) * 0.45, y0),
                (half_width(y0), y0),
                (half_width(y1), y1),
                (half_width(y1) * 0.45, y1),
            ],
            shade,
            None,
        )
    pen.polygon([(-top_half, top), (top_half, top), (base_half, base), (-base_half, base)], None)
    pen.rect((-0.025, 0.79, 0.025, 0.87), INK, radius=0.02)
    for y in (0.45, 0.63):
        pen.rect((-0.014, y, 0.014, y + 0.04), INK)
    pen.rect((-0.055, 0.12, 0.055, 0.235), LAMP if lit else GLASS_DARK)
    for x in (-0.02, 0.02):
        pen.line([(x, 0.12), (x, 0.235)], INK, 0.008)
    pen.line([(-0.1, 0.2), (0.1, 0.2)], INK, 0.008)
    for k in range(9):
        x = -0.1 + 0.025 * k
        pen.line([(x, 0.2), (x, 0.235)], INK, 0.005)
    pen.rect((-0.11, 0.232, 0.11, 0.262), INK)
    pen.cap((0.0, 0.125), (0.072, 0.06), TOWER_RED)
    pen.circle((0.0, 0.058), 0.012, INK, None)
    if lit:
        pen.glow((0.0, 0.18), 0.2, LAMP, 0.6)


def draw_boat(pen: Pen) -> None:
    """A small fishing trawler with a lit cabin window, facing right. Nominal aspect 1.4."""
    pen.line([(-0.15, 0.55), (-0.15, 0.05)], INK, 0.025)
    pen.line([(-0.15, 0.1), (0.45, 0.6)], INK, 0.012)
    pen.rect((0.05, 0.35, 0.38, 0.62), (236, 232, 220))
    pen.rect((0.22, 0.42, 0.32, 0.52), LAMP)
    pen.polygon([(-0.68, 0.58), (0.68, 0.58), (0.52, 0.9), (-0.55, 0.9)], (150, 44, 34))
    pen.line([(-0.62, 0.68), (0.63, 0.68)], (236, 232, 220), 0.03)


# --- style images --------------------------------------------------------------------------


def brush_texture(size: int, palette: Sequence[RGB], seed: int, strokes: int = 220) -> Image.Image:
    """A painterly style image: layered bristle brush strokes, broad washes first, then ink.

    `palette[0]` is the ground colour; later strokes pick from the rest of it.
    """
    rng = random.Random(seed)
    canvas = Canvas((size, size), palette[0])
    flow = rng.uniform(0, math.pi)  # a dominant stroke direction reads as one painter's hand
    for i in range(strokes):
        progress = i / strokes
        colour = _jitter(rng.choice(palette[1:]), 14, rng)
        _brush(
            canvas,
            rng,
            (rng.uniform(-0.1, 1.1), rng.uniform(-0.1, 1.1)),
            flow + rng.gauss(0, 0.45),
            _lerp(0.6, 0.15, progress) * rng.uniform(0.6, 1.2),
            _lerp(0.11, 0.025, progress) * rng.uniform(0.7, 1.3),
            colour,
        )
    for _ in range(strokes // 14):
        _brush(
            canvas,
            rng,
            (rng.random(), rng.random()),
            flow + rng.gauss(0, 0.9),
            rng.uniform(0.1, 0.35),
            rng.uniform(0.004, 0.012),
            INK,
            bristles=2,
        )
    for _ in range(strokes // 6):
        x, y = canvas.px(rng.random(), rng.random())
        r = canvas.stroke(rng.uniform(0.002, 0.008))
        canvas.draw.ellipse((x - r, y - r, x + r, y + r), fill=INK)
    return canvas.finish()


def _brush(
    canvas: Canvas,
    rng: random.Random,
    start: Point,
    angle: float,
    length: float,
    width: float,
    colour: RGB,
    bristles: int = 7,
) -> None:
    """One curved stroke made of parallel bristle lines of slightly varying colour and length."""
    bend = rng.uniform(-0.4, 0.4)
    dx, dy = math.cos(angle), math.sin(angle)
    nx, ny = -dy, dx
    for b in range(bristles):
        offset = (b / max(1, bristles - 1) - 0.5) * width
        reach = length * rng.uniform(0.7, 1.0)  # ragged ends, like a drying brush
        points = []
        for k in range(9):
            t = k / 8
            sway = bend * length * (t - t * t)
            points.append(
                (
                    start[0] + dx * reach * t + nx * (offset + sway),
                    start[1] + dy * reach * t + ny * (offset + sway),
                )
            )
        canvas.line(points, _jitter(colour, 12, rng), width=width / bristles * 1.7)


# --- the starter comic ---------------------------------------------------------------------

STARTER_PIP_CLOSE: Box = (0.2, 0.3, 0.6, 0.62)  # Pip in the close-up, panel 2
STARTER_PIP_NIGHT: Box = (0.06, 0.55, 0.36, 0.4)  # Pip in front of the lighthouse, panel 3
STARTER_WIDE = (600, 400)
STARTER_TALL = (300, 400)
STARTER_REFERENCE = 256

GITIGNORE = ".comicc/\n*.pdf\n*.cbz\n*.report.html\n*.report.json\n*.report/\n"

README = """\
# {title}

A small comic made by `comicc init`: one page, three panels, two elements (Pip the robot and
the lighthouse). The drawings in `art/` are placeholders; replace them with your own.

Build it:

    comicc check            # validate comic.toml
    comicc matrix           # which element appears in which panel
    comicc build            # restyle the panels and write the PDF

`comic.toml` is the whole book: pages, panels, balloons, the elements and their reference
drawings, and the directions that steer the style.
"""

MANIFEST = """\
#:schema ./comic.schema.json
# A small working comic made by `comicc init`. Swap in your own drawings, then `comicc build`.

[comic]
title = {title}
authors = []
format = "us-comic"
dpi = 300
reading = "ltr"
direction = "loose ink wash, warm dusk light, teal and orange palette"
style_image = "art/style.png"

[build]
backend = "auto"
preset = "draft"
seed = 1

[elements.pip]
kind = "character"
name = "Pip"
description = "A small blue robot with one big cyan eye and a red antenna ball."
references = ["art/ref/pip_front.png", "art/ref/pip_side.png"]

[elements.lighthouse]
kind = "setting"
name = "The lighthouse"
description = "A red-and-white striped tower on a dark rock."
references = ["art/ref/lighthouse_day.png", "art/ref/lighthouse_night.png"]

[[page]]
layout = "wide-over-two"

  [[page.panel]]
  art = "art/p1_1.png"
  elements = ["lighthouse"]
  direction = "dusk, calm sea, long shadows"
  balloons = [
    {{ kind = "caption", text = "At the edge of the map stood a lighthouse with no keeper." }},
  ]

  [[page.panel]]
  art = "art/p1_2.png"
  elements = ["pip"]
  regions = {{ pip = {pip_close} }}
  direction = "close-up, curious, warm rim light"
  balloons = [
    {{ speaker = "pip", text = "Hello? Is anybody home?" }},
  ]

  [[page.panel]]
  art = "art/p1_3.png"
  elements = ["pip", "lighthouse"]
  regions = {{ pip = {pip_night} }}
  direction = "night, the lamp burning again, stars"
  balloons = [
    {{ kind = "sfx", text = "WHUMMM" }},
    {{ speaker = "pip", text = "Then I'll keep the light!" }},
  ]
"""


def toml_string(text: str) -> str:
    """`text` as a TOML basic string, escaping quotes, backslashes and control characters."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_box(box: Box) -> str:
    return "[" + ", ".join(f"{v:g}" for v in box) + "]"


def save_png(image: Image.Image, path: Path) -> None:
    """Save `image` as a PNG with fixed settings and no metadata, so the bytes are reproducible."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG", compress_level=9)


def _starter_art() -> dict[str, Image.Image]:
    """The starter's drawings, by path relative to the comic directory."""
    rng = random.Random(7)
    art: dict[str, Image.Image] = {}

    wide = Canvas(STARTER_WIDE, SKIES["dusk"])
    draw_sea(wide, 0.62, (70, 96, 130), (30, 56, 82), rng, waves=30, crest=(250, 190, 140))
    wide.place(draw_lighthouse, (0.52, 0.1, 0.24, 0.78))
    art["art/p1_1.png"] = wide.finish()

    close = Canvas(STARTER_TALL, SKIES["dusk"])
    draw_rocks(close, (0.0, 0.78, 1.0, 0.22), rng)
    close.place(draw_robot, STARTER_PIP_CLOSE, pose="front")
    art["art/p1_2.png"] = close.finish()

    night = Canvas(STARTER_TALL, SKIES["night"])
    draw_stars(night, rng, stars=40, below=0.5)
    draw_sea(night, 0.6, (30, 50, 84), (14, 26, 48), rng, waves=20)
    draw_beam(night, (0.68, 0.24), (-0.1, 0.05), 0.12)
    night.place(draw_lighthouse, (0.45, 0.08, 0.45, 0.8), lit=True)
    draw_rocks(night, (0.0, 0.88, 1.0, 0.12), rng)
    night.place(draw_robot, STARTER_PIP_NIGHT, pose="wave")
    art["art/p1_3.png"] = night.finish()

    square = (STARTER_REFERENCE, STARTER_REFERENCE)
    ref = Canvas(square)
    ref.place(draw_robot, (0.22, 0.08, 0.56, 0.86), pose="front")
    art["art/ref/pip_front.png"] = ref.finish()
    ref = Canvas(square)
    ref.place(draw_robot, (0.3, 0.2, 0.4, 0.66), pose="side")
    art["art/ref/pip_side.png"] = ref.finish()
    ref = Canvas(square, SKIES["day"])
    draw_sea(ref, 0.75, (60, 120, 170), (40, 90, 140), rng, waves=10)
    ref.place(draw_lighthouse, (0.3, 0.06, 0.4, 0.9))
    art["art/ref/lighthouse_day.png"] = ref.finish()
    ref = Canvas(square, SKIES["night"])
    draw_sea(ref, 0.8, (30, 50, 84), (14, 26, 48), rng, waves=8)
    draw_beam(ref, (0.45, 0.38), (1.1, 0.2), 0.1)
    ref.place(draw_lighthouse, (0.28, 0.2, 0.34, 0.76), lit=True)
    art["art/ref/lighthouse_night.png"] = ref.finish()

    art["art/style.png"] = brush_texture(192, TEAL_ORANGE, seed=3, strokes=160)
    return art


def starter_manifest(title: str) -> str:
    """The starter's comic.toml text for a book called `title`."""
    return MANIFEST.format(
        title=toml_string(title),
        pip_close=_toml_box(STARTER_PIP_CLOSE),
        pip_night=_toml_box(STARTER_PIP_NIGHT),
    )


def write_starter_comic(target: Path, title: str) -> list[Path]:
    """Write a small working comic into `target` and return the files written.

    Raises FileExistsError when `target` already has a comic.toml or any of the starter's art
    files; an existing README.md or .gitignore is left as it is (and not returned).
    Raises ValueError when `title` cannot be a comic title.
    """
    target = Path(target)
    if (target / "comic.toml").exists():
        raise FileExistsError(
            f"{target / 'comic.toml'} already exists; comicc init will not overwrite it"
        )
    manifest = starter_manifest(title)
    Comic.model_validate(tomllib.loads(manifest))  # fail before writing anything
    art = _starter_art()
    clashes = [target / name for name in art if (target / name).exists()]
    if clashes:
        raise FileExistsError(f"{clashes[0]} already exists; comicc init will not overwrite it")
    written: list[Path] = []
    for name, image in art.items():
        save_png(image, target / name)
        written.append(target / name)
    texts = {
        "comic.toml": manifest,
        ".gitignore": GITIGNORE,
        "README.md": README.format(title=" ".join(title.split())),
    }
    for name, text in texts.items():
        path = target / name
        if name != "comic.toml" and path.exists():
            continue  # the author's own README or .gitignore wins
        path.write_bytes(text.encode("utf-8"))
        written.append(path)
    return written

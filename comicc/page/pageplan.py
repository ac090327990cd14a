"""A page plan: everything needed to draw one page, as plain data that round-trips through JSON.

Planning (layout, crops, lettering) is separate from drawing so a build can cache each page's
plan and redraw the PDF without redoing the work. All positions are page coordinates in
points (origin at the trim's top-left corner, y down); see `comicc.page.geometry`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from comicc.page.art import Crop
from comicc.page.fonts import Run
from comicc.page.geometry import Point, Rect, border_edges
from comicc.page.shaping import Glyph

PLAN_VERSION = 2


@dataclass(frozen=True)
class FramePlan:
    """A panel's frame, the part of its art that fills it, and which edges bleed."""

    rect: Rect
    bleed_edges: tuple[str, ...]
    crop: Crop
    art_size: tuple[int, int]

    @property
    def border_edges(self) -> tuple[str, ...]:
        return border_edges(self.bleed_edges)

    def to_json(self) -> dict[str, Any]:
        return {
            "rect": self.rect.to_json(),
            "bleed_edges": list(self.bleed_edges),
            "crop": list(self.crop.box()),
            "art_size": list(self.art_size),
        }

    @staticmethod
    def from_json(data: dict[str, Any]) -> FramePlan:
        left, top, right, bottom = (int(v) for v in data["crop"])
        width, height = (int(v) for v in data["art_size"])
        return FramePlan(
            rect=Rect.from_json(data["rect"]),
            bleed_edges=tuple(data["bleed_edges"]),
            crop=Crop(left, top, right, bottom),
            art_size=(width, height),
        )


@dataclass(frozen=True)
class TextLine:
    """One line of lettering: left end of its baseline, font size, its runs of text in logical
    order, and the shaped glyphs that draw them, in visual order."""

    x: float
    baseline: float
    size: float
    runs: tuple[Run, ...]
    glyphs: tuple[Glyph, ...]

    @property
    def text(self) -> str:
        return "".join(run.text for run in self.runs)

    def to_json(self) -> dict[str, Any]:
        return {
            "x": self.x,
            "baseline": self.baseline,
            "size": self.size,
            "runs": [[run.font, run.text] for run in self.runs],
            "glyphs": [glyph.to_json() for glyph in self.glyphs],
        }

    @staticmethod
    def from_json(data: dict[str, Any]) -> TextLine:
        return TextLine(
            x=float(data["x"]),
            baseline=float(data["baseline"]),
            size=float(data["size"]),
            runs=tuple(Run(font, text) for font, text in data["runs"]),
            glyphs=tuple(Glyph.from_json(glyph) for glyph in data["glyphs"]),
        )


@dataclass(frozen=True)
class BalloonPlan:
    """A lettered balloon, caption or sound effect, ready to draw.

    `outline` is a closed polygon including the tail (empty for sound effects); `bubbles`
    are the thought trail's circles (cx, cy, r); `angle` rotates the whole balloon about
    the centre of `box`, in degrees counter-clockwise as printed.
    """

    kind: str
    panel: int
    index: int
    box: Rect
    outline: tuple[Point, ...]
    bubbles: tuple[tuple[float, float, float], ...]
    lines: tuple[TextLine, ...]
    fill: str | None
    stroke: str | None
    line_width: float
    dashed: bool
    text_colour: str
    text_outline: str | None
    angle: float

    @property
    def text(self) -> str:
        return " ".join(line.text for line in self.lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "panel": self.panel,
            "index": self.index,
            "box": self.box.to_json(),
            "outline": [list(p) for p in self.outline],
            "bubbles": [list(b) for b in self.bubbles],
            "lines": [line.to_json() for line in self.lines],
            "fill": self.fill,
            "stroke": self.stroke,
            "line_width": self.line_width,
            "dashed": self.dashed,
            "text_colour": self.text_colour,
            "text_outline": self.text_outline,
            "angle": self.angle,
        }

    @staticmethod
    def from_json(data: dict[str, Any]) -> BalloonPlan:
        return BalloonPlan(
            kind=str(data["kind"]),
            panel=int(data["panel"]),
            index=int(data["index"]),
            box=Rect.from_json(data["box"]),
            outline=tuple((float(x), float(y)) for x, y in data["outline"]),
            bubbles=tuple((float(x), float(y), float(r)) for x, y, r in data["bubbles"]),
            lines=tuple(TextLine.from_json(line) for line in data["lines"]),
            fill=data["fill"],
            stroke=data["stroke"],
            line_width=float(data["line_width"]),
            dashed=bool(data["dashed"]),
            text_colour=str(data["text_colour"]),
            text_outline=data["text_outline"],
            angle=float(data["angle"]),
        )


@dataclass(frozen=True)
class PagePlan:
    """One page, planned: its measurements, panel frames and lettering."""

    index: int
    trim_width: float
    trim_height: float
    bleed: float
    safe_margin: float
    frames: tuple[FramePlan, ...]
    balloons: tuple[BalloonPlan, ...]

    @property
    def trim(self) -> Rect:
        return Rect(0.0, 0.0, self.trim_width, self.trim_height)

    @property
    def media(self) -> Rect:
        return self.trim.inset(-self.bleed)

    @property
    def live_area(self) -> Rect:
        return self.trim.inset(self.safe_margin)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": PLAN_VERSION,
            "index": self.index,
            "trim_width": self.trim_width,
            "trim_height": self.trim_height,
            "bleed": self.bleed,
            "safe_margin": self.safe_margin,
            "frames": [frame.to_json() for frame in self.frames],
            "balloons": [balloon.to_json() for balloon in self.balloons],
        }

    @staticmethod
    def from_json(data: dict[str, Any]) -> PagePlan:
        if data.get("version") != PLAN_VERSION:
            raise ValueError(f"page plan version {data.get('version')!r}, expected {PLAN_VERSION}")
        return PagePlan(
            index=int(data["index"]),
            trim_width=float(data["trim_width"]),
            trim_height=float(data["trim_height"]),
            bleed=float(data["bleed"]),
            safe_margin=float(data["safe_margin"]),
            frames=tuple(FramePlan.from_json(f) for f in data["frames"]),
            balloons=tuple(BalloonPlan.from_json(b) for b in data["balloons"]),
        )

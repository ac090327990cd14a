"""Page geometry in points: rectangles and the coordinates layout and lettering share.

Page coordinates have their origin at the top-left corner of the trim and grow right and
down (as authors read a page); the bleed lies at negative coordinates and beyond the trim.
Only the PDF writer converts to PDF's bottom-left origin.
"""

from __future__ import annotations

from dataclasses import dataclass

Point = tuple[float, float]
EDGES = ("left", "top", "right", "bottom")


def border_edges(bleed_edges: tuple[str, ...]) -> tuple[str, ...]:
    """A frame's edges that get a drawn border: every edge that does not run into the bleed."""
    return tuple(edge for edge in EDGES if edge not in bleed_edges)


@dataclass(frozen=True)
class Rect:
    """An axis-aligned rectangle: top-left corner (x, y), width w and height h, in points."""

    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h

    @property
    def centre(self) -> Point:
        return (self.x + self.w / 2, self.y + self.h / 2)

    @property
    def area(self) -> float:
        return max(self.w, 0.0) * max(self.h, 0.0)

    def inset(self, amount: float) -> Rect:
        """The rectangle shrunk by `amount` on every side (grown when negative)."""
        return Rect(self.x + amount, self.y + amount, self.w - 2 * amount, self.h - 2 * amount)

    def intersection(self, other: Rect) -> Rect | None:
        """The overlap of two rectangles, or None when they do not overlap."""
        left, top = max(self.x, other.x), max(self.y, other.y)
        right, bottom = min(self.right, other.right), min(self.bottom, other.bottom)
        if right <= left or bottom <= top:
            return None
        return Rect(left, top, right - left, bottom - top)

    def overlap_area(self, other: Rect) -> float:
        inter = self.intersection(other)
        return inter.area if inter else 0.0

    def contains(self, other: Rect, tolerance: float = 0.0) -> bool:
        return (
            other.x >= self.x - tolerance
            and other.y >= self.y - tolerance
            and other.right <= self.right + tolerance
            and other.bottom <= self.bottom + tolerance
        )

    def clamp_point(self, point: Point) -> Point:
        return (min(max(point[0], self.x), self.right), min(max(point[1], self.y), self.bottom))

    def mirrored(self, page_width: float) -> Rect:
        """The rectangle reflected about the vertical centre line of a page `page_width` wide."""
        return Rect(page_width - self.right, self.y, self.w, self.h)

    @staticmethod
    def centred(centre: Point, w: float, h: float) -> Rect:
        return Rect(centre[0] - w / 2, centre[1] - h / 2, w, h)

    def to_json(self) -> list[float]:
        return [self.x, self.y, self.w, self.h]

    @staticmethod
    def from_json(data: list[float]) -> Rect:
        x, y, w, h = data
        return Rect(float(x), float(y), float(w), float(h))

"""Placing panel art in its frame: a cover-fit crop that keeps the focus point in view."""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil

from comicc.manifest.diagnostics import Diagnostic, KeyPath
from comicc.page.geometry import Point, Rect

POINTS_PER_INCH = 72.0
# Art this close to the target resolution prints fine; rounding in the crop costs a pixel or two.
DPI_SLACK = 0.99


@dataclass(frozen=True)
class Crop:
    """The pixel box (left, top, right, bottom) of the art that fills a frame."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    def box(self) -> tuple[int, int, int, int]:
        return (self.left, self.top, self.right, self.bottom)


def cover_crop(art_size: tuple[int, int], frame: Rect, focus: Point | None = None) -> Crop:
    """The largest crop of the art with the frame's aspect ratio, centred on `focus` where possible.

    `focus` is (x, y) in fractions of the art; the crop slides to keep it in view but never
    leaves the art, so no frame ever shows an empty margin.
    """
    art_w, art_h = art_size
    aspect = frame.w / frame.h
    if art_w / art_h > aspect:
        crop_h, crop_w = art_h, max(1, min(art_w, round(art_h * aspect)))
    else:
        crop_w, crop_h = art_w, max(1, min(art_h, round(art_w / aspect)))
    fx, fy = focus if focus is not None else (0.5, 0.5)
    left = min(max(round(fx * art_w - crop_w / 2), 0), art_w - crop_w)
    top = min(max(round(fy * art_h - crop_h / 2), 0), art_h - crop_h)
    return Crop(left, top, left + crop_w, top + crop_h)


def effective_dpi(crop: Crop, frame: Rect) -> float:
    """Pixels per inch the cropped art prints at in this frame (the lower of both axes)."""
    return min(crop.width / (frame.w / POINTS_PER_INCH), crop.height / (frame.h / POINTS_PER_INCH))


def print_size(
    art_size: tuple[int, int], frame: Rect, dpi: int, focus: Point | None = None
) -> tuple[int, int]:
    """The pixel size the whole art is rendered at so that its crop fills `frame` at `dpi`.

    Never above the art's own size (upscaling adds no detail; `resolution_warning` says so).
    Rounded up so the crop of the result still reaches `dpi`.
    """
    scale = min(1.0, dpi / effective_dpi(cover_crop(art_size, frame, focus), frame))
    return max(1, ceil(art_size[0] * scale)), max(1, ceil(art_size[1] * scale))


def resolution_warning(
    crop: Crop, frame: Rect, art_size: tuple[int, int], dpi: int, key_path: KeyPath
) -> Diagnostic | None:
    """A warning when the art would print below the comic's `dpi`; None when sharp enough."""
    actual = effective_dpi(crop, frame)
    if actual >= dpi * DPI_SLACK:
        return None
    scale = dpi / actual
    need_w, need_h = round(art_size[0] * scale), round(art_size[1] * scale)
    return Diagnostic(
        "warning",
        f"panel art prints at {actual:.0f} DPI, below the comic's {dpi} DPI "
        f"({art_size[0]}x{art_size[1]} px art in a {frame.w / 72:.2f}x{frame.h / 72:.2f} in frame)",
        key_path=key_path,
        hint=f"supply the art at about {need_w}x{need_h} px, or lower `dpi` in [comic]",
        code="resolution",
    )


def art_to_page(point: Point, art_size: tuple[int, int], crop: Crop, frame: Rect) -> Point:
    """Map a point given in fractions of the art to page coordinates through the crop.

    Points the crop cut away map outside the frame; callers clamp when they need to.
    """
    px, py = point[0] * art_size[0], point[1] * art_size[1]
    return (
        frame.x + (px - crop.left) / crop.width * frame.w,
        frame.y + (py - crop.top) / crop.height * frame.h,
    )


def region_to_page(region: list[float], art_size: tuple[int, int], crop: Crop, frame: Rect) -> Rect:
    """An element's region ([x, y, w, h] fractions of the art) in page coordinates."""
    x, y, w, h = region
    left, top = art_to_page((x, y), art_size, crop, frame)
    right, bottom = art_to_page((x + w, y + h), art_size, crop, frame)
    return Rect(left, top, right - left, bottom - top)

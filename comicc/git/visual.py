"""Pictures of what changed on a page: two renderings side by side, changed areas outlined.

Changed pixels are grouped on a coarse grid into connected areas (nearby changes, such as
the letters of one balloon, join up), and overlapping boxes are merged, so each edit gets
one outline rather than hundreds of specks.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageDraw, ImageFont

OUTLINE = (255, 0, 255)  # magenta: rare in art, easy to see on paper and on dark panels
OUTLINE_WIDTH = 3
PADDING = 4  # space between a changed area and its outline, in pixels
THRESHOLD = 24  # per-channel difference (0-255) below which a pixel counts as unchanged
CELL = 8  # changed pixels are grouped on a grid of CELL x CELL squares
REACH = 2  # changed cells up to this many cells apart belong to one area
GAP = 16  # space between the two pages of a picture
HEADER = 30  # height of the label strip above the pages
BACKGROUND = (214, 214, 214)
MISSING = (168, 168, 168)


class Box(NamedTuple):
    """A pixel rectangle: left, top inclusive; right, bottom exclusive."""

    left: int
    top: int
    right: int
    bottom: int

    def grown(self, by: int) -> Box:
        return Box(self.left - by, self.top - by, self.right + by, self.bottom + by)

    def touches(self, other: Box) -> bool:
        return (self.left <= other.right and other.left <= self.right
                and self.top <= other.bottom and other.top <= self.bottom)

    def union(self, other: Box) -> Box:
        return Box(min(self.left, other.left), min(self.top, other.top),
                   max(self.right, other.right), max(self.bottom, other.bottom))


def render_pages(pdf: Path, dpi: float) -> list[Image.Image]:
    """Every page of `pdf` (media box, bleed included) as an RGB image at `dpi`."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(str(pdf))
    try:
        pages = []
        for index in range(len(document)):
            page = document[index]
            pages.append(page.render(scale=dpi / 72.0).to_pil().convert("RGB"))
            page.close()
        return pages
    finally:
        document.close()


def common_size(a: Image.Image | None, b: Image.Image | None) -> tuple[int, int]:
    sizes = [image.size for image in (a, b) if image is not None]
    return max(w for w, _ in sizes), max(h for _, h in sizes)


def _on_canvas(image: Image.Image | None, size: tuple[int, int]) -> Image.Image:
    """`image` at the top left of a `size` canvas; a missing page is a flat grey sheet."""
    canvas = Image.new("RGB", size, MISSING if image is None else BACKGROUND)
    if image is not None:
        canvas.paste(image, (0, 0))
    return canvas


def changed_boxes(a: Image.Image | None, b: Image.Image | None) -> list[Box]:
    """Outline boxes of the areas where two page images differ (none when they match).

    Images of different sizes are compared on a common canvas; a missing page (None)
    differs everywhere the other one is.
    """
    if a is None and b is None:
        return []
    size = common_size(a, b)
    if a is None or b is None:
        present = a or b
        return [Box(0, 0, present.width, present.height)]  # type: ignore[union-attr]
    pixels_a = np.asarray(_on_canvas(a, size), dtype=np.int16)
    pixels_b = np.asarray(_on_canvas(b, size), dtype=np.int16)
    mask = np.abs(pixels_a - pixels_b).max(axis=2) > THRESHOLD
    if not mask.any():
        return []
    height, width = mask.shape
    rows, cols = -(-height // CELL), -(-width // CELL)
    padded = np.zeros((rows * CELL, cols * CELL), dtype=bool)
    padded[:height, :width] = mask
    grid = np.asarray(padded.reshape(rows, CELL, cols, CELL).any(axis=(1, 3)))
    boxes = []
    for cells in _areas(grid):
        top, left = (min(c[k] for c in cells) * CELL for k in (0, 1))
        bottom, right = ((max(c[k] for c in cells) + 1) * CELL for k in (0, 1))
        boxes.append(_tight(mask, Box(left, top, min(right, width), min(bottom, height))))
    return merge_boxes(boxes, PADDING * 2 + OUTLINE_WIDTH)


def _areas(grid: np.ndarray) -> list[list[tuple[int, int]]]:
    """Groups of changed cells, each cell joined to changed cells within REACH of it."""
    rows, cols = grid.shape
    seen = np.zeros_like(grid)
    areas = []
    for start in zip(*np.nonzero(grid), strict=True):
        if seen[start]:
            continue
        seen[start] = True
        queue, area = deque([start]), []
        while queue:
            r, c = queue.popleft()
            area.append((int(r), int(c)))
            for nr in range(max(0, r - REACH), min(rows, r + REACH + 1)):
                for nc in range(max(0, c - REACH), min(cols, c + REACH + 1)):
                    if grid[nr, nc] and not seen[nr, nc]:
                        seen[nr, nc] = True
                        queue.append((nr, nc))
        areas.append(area)
    return areas


def _tight(mask: np.ndarray, box: Box) -> Box:
    """Shrink `box` to the changed pixels inside it."""
    part = mask[box.top:box.bottom, box.left:box.right]
    ys, xs = np.nonzero(part.any(axis=1))[0], np.nonzero(part.any(axis=0))[0]
    return Box(box.left + int(xs[0]), box.top + int(ys[0]),
               box.left + int(xs[-1]) + 1, box.top + int(ys[-1]) + 1)


def merge_boxes(boxes: list[Box], margin: int = 0) -> list[Box]:
    """Merge boxes that overlap or come within `margin` pixels, until none do; sorted."""
    merged = list(boxes)
    changed = True
    while changed:
        changed = False
        for i in range(len(merged)):
            for j in range(i + 1, len(merged)):
                if merged[i].grown(margin).touches(merged[j]):
                    merged[i] = merged[i].union(merged.pop(j))
                    changed = True
                    break
            if changed:
                break
    return sorted(merged, key=lambda box: (box.top, box.left))


def _label_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    from comicc.page.fonts import FONT_DIR, SHIPPED

    try:
        return ImageFont.truetype(str(FONT_DIR / SHIPPED["DejaVuSans-Bold"]), size)
    except OSError:
        return ImageFont.load_default()


def side_by_side(a: Image.Image | None, b: Image.Image | None, boxes: list[Box],
                 labels: tuple[str, str]) -> Image.Image:
    """Page A | page B under a label strip, each changed box outlined on both pages."""
    width, height = common_size(a, b)
    picture = Image.new("RGB", (2 * width + GAP, HEADER + height), BACKGROUND)
    draw = ImageDraw.Draw(picture)
    font = _label_font(HEADER // 2)
    for k, (image, label) in enumerate(zip((a, b), labels, strict=True)):
        x = k * (width + GAP)
        picture.paste(_on_canvas(image, (width, height)), (x, HEADER))
        draw.text((x + 4, HEADER // 2), label, fill=(20, 20, 20), font=font, anchor="lm")
        for box in boxes:
            outline = box.grown(PADDING + OUTLINE_WIDTH)
            draw.rectangle((x + max(outline.left, 0), HEADER + max(outline.top, 0),
                            x + min(outline.right, width) - 1,
                            HEADER + min(outline.bottom, height) - 1),
                           outline=OUTLINE, width=OUTLINE_WIDTH)
    return picture

"""Element boxes, (x, y, w, h) as fractions of a picture, and the pixels they cover.

One rule for every part that cuts a box out of a picture (the classifiers' training crops,
the identity terms' masks, the judge's crops, the report's pictures), so each of them cuts
the same pixels for the same box at the same size.
"""

from __future__ import annotations

from typing import TypeVar

Box = tuple[float, float, float, float]

_Picture = TypeVar("_Picture")


def pixel_bounds(box: Box, width: int, height: int) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of `box` in a width x height picture: left and top rounded
    down, right and bottom to the nearest pixel, at least one pixel, inside the picture."""
    x, y, w, h = box
    left = min(width - 1, max(0, int(x * width)))
    top = min(height - 1, max(0, int(y * height)))
    right = max(left + 1, min(width, round((x + w) * width)))
    bottom = max(top + 1, min(height, round((y + h) * height)))
    return left, top, right, bottom


def crop_array(image: _Picture, box: Box | None) -> _Picture:
    """The part of an array [..., H, W] (a tensor or an ndarray) inside `box`; the whole
    array for None."""
    if box is None:
        return image
    height, width = image.shape[-2:]  # type: ignore[attr-defined]
    left, top, right, bottom = pixel_bounds(box, width, height)
    return image[..., top:bottom, left:right]  # type: ignore[index]

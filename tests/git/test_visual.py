"""Changed areas of a page: found from pixels, merged into one box per edit, outlined."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from comicc.git.visual import (
    GAP,
    HEADER,
    OUTLINE,
    Box,
    changed_boxes,
    merge_boxes,
    side_by_side,
)

SIZE = (200, 300)


def page(*marks: tuple[int, int, int, int]) -> Image.Image:
    """A white page with black rectangles at `marks` (left, top, right, bottom)."""
    image = Image.new("RGB", SIZE, "white")
    draw = ImageDraw.Draw(image)
    for mark in marks:
        draw.rectangle(mark, fill="black")
    return image


def test_identical_pages_have_no_boxes() -> None:
    assert changed_boxes(page((10, 10, 50, 50)), page((10, 10, 50, 50))) == []


def test_separate_edits_get_separate_tight_boxes() -> None:
    boxes = changed_boxes(page(), page((10, 10, 29, 19), (120, 200, 159, 259)))
    assert boxes == [Box(10, 10, 30, 20), Box(120, 200, 160, 260)]


def test_nearby_specks_join_into_one_box() -> None:
    # Letters of one line of text: small marks a few pixels apart.
    letters = [(20 + 9 * k, 40, 25 + 9 * k, 50) for k in range(8)]
    assert changed_boxes(page(), page(*letters)) == [Box(20, 40, 89, 51)]


def test_faint_differences_are_ignored() -> None:
    faint = Image.new("RGB", SIZE, (250, 250, 250))
    assert changed_boxes(page(), faint) == []


def test_missing_page_differs_everywhere() -> None:
    assert changed_boxes(None, page()) == [Box(0, 0, *SIZE)]
    assert changed_boxes(page(), None) == [Box(0, 0, *SIZE)]


def test_pages_of_different_sizes_compare_on_a_common_canvas() -> None:
    taller = Image.new("RGB", (SIZE[0], SIZE[1] + 40), "white")
    assert changed_boxes(page(), taller) == [Box(0, SIZE[1], SIZE[0], SIZE[1] + 40)]


def test_merge_joins_overlapping_and_close_boxes_only() -> None:
    boxes = [Box(0, 0, 10, 10), Box(5, 5, 20, 20), Box(24, 0, 30, 6), Box(100, 100, 110, 110)]
    assert merge_boxes(boxes) == [Box(0, 0, 20, 20), Box(24, 0, 30, 6), Box(100, 100, 110, 110)]
    assert merge_boxes(boxes, margin=5) == [Box(0, 0, 30, 20), Box(100, 100, 110, 110)]


def test_side_by_side_outlines_the_same_place_on_both_pages() -> None:
    old, new = page(), page((80, 120, 119, 139))
    boxes = changed_boxes(old, new)
    picture = side_by_side(old, new, boxes, ("before", "after"))
    width, height = SIZE
    assert picture.size == (2 * width + GAP, HEADER + height)
    pixels = np.asarray(picture)
    marks = np.all(pixels == OUTLINE, axis=2)
    left, right = marks[HEADER:, :width], marks[HEADER:, width + GAP:]
    assert left.any() and np.array_equal(left, right)
    ys, xs = np.nonzero(left)
    # The outline surrounds the change without covering it.
    assert xs.min() < 80 and xs.max() > 119 and ys.min() < 120 and ys.max() > 139
    assert not marks[HEADER + 120:HEADER + 140, width + GAP + 80:width + GAP + 120].any()
    assert not marks[:HEADER].any() and not marks[:, width:width + GAP].any()

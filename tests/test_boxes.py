"""One rule for the pixels a box covers: the classifiers, the identity terms, the judge and
the report cut the same pixels for the same box."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from comicc.boxes import crop_array, pixel_bounds
from comicc.ml.identity import element_masks
from comicc.report.pictures import crop_fraction


def test_bounds_round_the_start_down_and_the_end_to_the_nearest_pixel() -> None:
    assert pixel_bounds((0.25, 0.5, 0.5, 0.25), 100, 40) == (25, 20, 75, 30)
    assert pixel_bounds((0.119, 0.0, 0.3, 1.0), 10, 10) == (1, 0, 4, 10)


def test_a_box_covers_at_least_one_pixel_inside_the_picture() -> None:
    assert pixel_bounds((0.5, 0.5, 0.0001, 0.0001), 100, 100) == (50, 50, 51, 51)
    assert pixel_bounds((0.9, 0.9, 0.5, 0.5), 10, 20) == (9, 18, 10, 20)
    assert pixel_bounds((1.0, 1.0, 0.1, 0.1), 10, 10) == (9, 9, 10, 10)
    assert pixel_bounds((-0.2, 0.0, 0.5, 0.5), 10, 10) == (0, 0, 3, 5)


def test_every_part_cuts_the_same_pixels() -> None:
    box = (0.137, 0.291, 0.333, 0.417)
    pixels = torch.rand(3, 37, 53)
    cut = crop_array(pixels, box)
    assert np.array_equal(crop_array(pixels.numpy(), box), cut.numpy())
    assert crop_array(pixels, None) is pixels
    # The identity terms' mask is 1 exactly where the crop is.
    _, masks = element_masks([{"a": box}], [["a"]], 37, 53)
    rows = masks[0, 0].sum(dim=1).nonzero().flatten()
    cols = masks[0, 0].sum(dim=0).nonzero().flatten()
    assert (len(rows), len(cols)) == tuple(cut.shape[-2:])
    assert masks[0, 0].sum() == cut.shape[-2] * cut.shape[-1]
    # The report's picture of the element is the same pixels.
    image = Image.fromarray((pixels.permute(1, 2, 0).numpy() * 255).astype(np.uint8))
    shown = np.asarray(crop_fraction(image, box)).transpose(2, 0, 1)
    assert np.array_equal(shown, (cut.numpy() * 255).astype(np.uint8))

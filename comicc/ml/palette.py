"""An element's own colours, kept: inside each element's region, on the pixels the artist drew
in its own colours, the print takes the art's colour under the style's light and strokes.

A character's palette is part of who it is: a style that turns every colour into its own
browns makes an orange fox, a cobalt bird and a gardener in yellow look alike. Each
element's colour model (`classifiers.colour_models`: the colours of its cut-out reference
drawings that the other elements' references and the panels without it lack) marks its
pixels in the art; its region (the manifest's, or the one the classify stage found) bounds
them, so a sky or a field that shares a colour is left to the style (the element's own pixels
connected to those in the region count too, a little beyond it: a region found by colour
can cut off a hat's brim). As `keep = "colours"`
(Gatys et al. 2016, luminance-only transfer), but only there: the style's luminance (its
light, strokes and texture), the art's chroma (YCbCr Cb, Cr).

Applied after the network and the panel's `keep`, before its strength, at whatever size the
output has: the Comic Book Loss judges the picture with it at the training size, and the
build prints it at print size, each with the mask drawn from the art at that size. An
element without a colour model (no reference on a plain background or a smooth sky) or
without a region keeps nothing this way; the identity terms of the loss still hold it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from comicc.boxes import Box, pixel_bounds
from comicc.ml.classifiers import colour_pixels, flood_fill
from comicc.ml.keep import rgb_to_ycc, ycc_to_rgb

# The mask is averaged over SOFT x SOFT pixels: its edge is anti-aliased, not a staircase.
SOFT = 3
# A region found by colour can cut off part of the element (a hat's brim, a tail): the
# element's own pixels connected to those in its box are kept too, within the box grown by
# GROW of its size on each side. Connected on a grid of REACH_CELLS cells along the box's
# longer side, the same at training and print size, coarse enough to bridge an ink outline.
GROW = 0.25
REACH_CELLS = 32

# One element's place in a panel: its region and its colour model.
Place = tuple[Box, Tensor]


def palette_mask(art: Tensor, places: Sequence[Place]) -> Tensor:
    """[1,H,W] in [0,1] for art [3,H,W]: the pixels drawn in each element's own colours
    (`colour_pixels` of its model) inside its box, all elements together, softened."""
    h, w = art.shape[-2:]
    mask = torch.zeros(1, 1, h, w)
    for box, model in places:
        left, top, right, bottom = pixel_bounds(box, w, h)
        if right <= left or bottom <= top:
            continue
        x, y = round(GROW * (right - left)), round(GROW * (bottom - top))
        outer = (max(0, left - x), max(0, top - y), min(w, right + x), min(h, bottom + y))
        own = colour_pixels(model, art[:, outer[1]:outer[3], outer[0]:outer[2]])
        inner = (left - outer[0], top - outer[1], right - outer[0], bottom - outer[1])
        cell = max(1, math.ceil(max(right - left, bottom - top) / REACH_CELLS))
        kept = own & _reached(own, inner, cell)
        area = mask[0, 0, outer[1]:outer[3], outer[0]:outer[2]]
        mask[0, 0, outer[1]:outer[3], outer[0]:outer[2]] = torch.maximum(area, kept.float())
    return F.avg_pool2d(mask, SOFT, stride=1, padding=SOFT // 2, count_include_pad=False)[0]


def _reached(own: Tensor, inner: tuple[int, int, int, int], cell: int) -> Tensor:
    """[h,w] bool: the cells (cell x cell pixels) of `own` [h,w] connected through cells
    holding own pixels to those inside the box `inner` (left, top, right, bottom)."""
    h, w = own.shape
    inside = torch.zeros_like(own)
    inside[inner[1]:inner[3], inner[0]:inner[2]] = True

    def cells(x: Tensor) -> Tensor:
        return F.max_pool2d(x.float()[None, None], cell, cell, ceil_mode=True)[0, 0] > 0

    reached = flood_fill(cells(own & inside), cells(own))
    return reached.repeat_interleave(cell, 0).repeat_interleave(cell, 1)[:h, :w]


def keep_palette(styled: Tensor, art: Tensor, mask: Tensor) -> Tensor:
    """styled [B,3,H,W] with the chroma of art (same shape) where mask [B,1,H,W] is 1, its
    own where 0, a blend between; the luminance is always the styled picture's."""
    # The conversions are linear: the change of chroma alone, brought to RGB, is added, so
    # where the mask is 0 the styled pixels are returned exactly as they were.
    change = mask.to(styled) * (rgb_to_ycc(art.to(styled)) - rgb_to_ycc(styled))[:, 1:]
    return (styled + ycc_to_rgb(torch.cat([torch.zeros_like(change[:, :1]), change], dim=1))
            ).clamp(0, 1)


def places(kept: Sequence[str], regions: Mapping[str, Box],
           models: Mapping[str, Tensor]) -> list[Place]:
    """The places of the elements `kept` (a panel's `colours_kept`) that have a region in
    the panel and a colour model."""
    return [(regions[e], models[e]) for e in kept if e in regions and e in models]

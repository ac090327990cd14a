"""Strength as pixels: a per-panel map in [0, 1] and the blend it drives.

    out = art + m * (styled - art)

m is the panel's strength everywhere and each element's own strength inside its region,
with a soft edge. It is applied after the network, at whatever size the output has: at
print size a strength of 0 gives back the art's own pixels, 1 the network's output
unchanged. The Comic Book Loss sees the same blend at training size, so the network is
fine-tuned for the output the author asked for (see docs/strength.md for why a blend of
the network's output, and not of its conditional instance-norm parameters, is the dial).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from comicc.manifest.strength import Box, PanelStrength
from comicc.ml.keep import keep_picture
from comicc.ml.palette import Place, keep_palette, palette_mask

# The soft edge of an element's region: the ramp's width as a share of the panel's shorter
# side, centred on the box's edge.
FEATHER = 0.06


def strength_map(strength: PanelStrength, height: int, width: int) -> Tensor:
    """[1, height, width] strength per pixel: the panel's, then each element's in its box."""
    m = torch.full((1, height, width), float(strength.strength))
    for element in strength.elements:
        inside = region_mask(element.box, height, width)
        m = m + inside * (element.strength - m)
    return m


def region_mask(box: Box, height: int, width: int) -> Tensor:
    """[1, height, width]: 1 inside the box [x, y, w, h], 0 outside, a linear ramp between."""
    x, y, w, h = box
    feather = FEATHER * min(height, width)
    xs = _ramp(width, x * width, (x + w) * width, feather)
    ys = _ramp(height, y * height, (y + h) * height, feather)
    return (ys[:, None] * xs[None, :])[None]


def _ramp(size: int, low: float, high: float, feather: float) -> Tensor:
    """1 between low and high along one side of `size` px; a box's side on the panel's own
    border has no soft edge (nothing lies beyond it to blend with)."""
    at = torch.arange(size) + 0.5
    rise = ((at - low) / feather + 0.5).clamp(0, 1) if low > 0 else torch.ones(size)
    fall = ((high - at) / feather + 0.5).clamp(0, 1) if high < size else torch.ones(size)
    return rise * fall


def apply_strength(styled: Tensor, art: Tensor, m: Tensor) -> Tensor:
    """art + m * (styled - art) for [..., 3, H, W] images and a [..., 1, H, W] map."""
    return art + m.to(styled.dtype) * (styled - art)


def blend_panel(styled: Tensor, art: Tensor, strength: PanelStrength,
                places: Sequence[Place] = ()) -> Tensor:
    """A rendered panel [3, H, W] with what its `keep` keeps of the art, then its elements'
    own colours at `places` (`comicc.ml.palette`), at its resolved strength; the art is
    resized to it.

    A panel at full strength everywhere that keeps nothing is returned as it is (the same
    pixels as a build without dials).
    """
    if strength.full and strength.keep == "none" and not places:
        return styled
    h, w = styled.shape[-2:]
    if art.shape[-2:] != (h, w):
        art = torch.nn.functional.interpolate(art[None].float(), size=(h, w), mode="bicubic",
                                              align_corners=False, antialias=True)[0].clamp(0, 1)
    art = art.to(styled)
    styled = keep_picture(styled[None], art[None], strength.keep)[0]
    if places:
        styled = keep_palette(styled[None], art[None], palette_mask(art, places)[None])[0]
    if strength.full:
        return styled
    return apply_strength(styled, art, strength_map(strength, h, w)).clamp(0, 1)


def training_maps(strengths: list[PanelStrength], size: int) -> Tensor:
    """[N, 1, size, size] maps for the Comic Book Loss (panels are trained square)."""
    return torch.stack([strength_map(s, size, size) for s in strengths])

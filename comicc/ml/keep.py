"""What of the artist's picture a restyle keeps: their colours, their light, or neither.

    colours   the styled panel's luminance with the art's chroma (Gatys et al. 2016,
              "Preserving colour in neural artistic style transfer": luminance-only transfer)
    lighting  the styled panel's chroma and fine luminance (its strokes and texture) over
              the art's own large-scale luminance, so a night scene stays night
    colours+lighting  both: the style contributes strokes and texture only
    auto      the art's light in a panel drawn dark (a night, a storm: its mean luminance
              at NIGHT or below; a share of it up to DAY), the style's light elsewhere,
              so a night scene stays night unless the author asks otherwise

Applied after the network at whatever size its output has (training size in the Comic Book
Loss, print size in the build), with the same relative blur scale at both, so what prints
is what the loss judged. Colours are YCbCr (BT.601), whose conversions are linear.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from comicc.manifest.choices import Keep

# RGB -> (Y, Cb, Cr) rows, BT.601 full range; Cb, Cr are centred on 0.
_RGB_TO_YCC = torch.tensor([[0.299, 0.587, 0.114],
                            [-0.168736, -0.331264, 0.5],
                            [0.5, -0.418688, -0.081312]])
_YCC_TO_RGB = torch.linalg.inv(_RGB_TO_YCC)
# The "large-scale" light: luminance averaged over cells of this share of the shorter side
# (a 192 px panel: 12 px cells), so the light of a scene is kept and its strokes are not.
LIGHT_SCALE = 1 / 16
# `auto`: a panel whose art has a mean luminance at NIGHT or below keeps all of its light,
# one at DAY or above none of it, one between a share (linear). The meadow's night panel
# is 0.26 and its dusk 0.46, its daylight panels 0.64-0.67; the lighthouse's stormy night
# panels 0.20-0.29.
NIGHT, DAY = 0.3, 0.45


def rgb_to_ycc(x: Tensor) -> Tensor:
    """[..., 3, H, W] RGB in [0,1] -> Y in [0,1], Cb, Cr in [-0.5, 0.5]."""
    return torch.einsum("ij,...jhw->...ihw", _RGB_TO_YCC.to(x), x)


def ycc_to_rgb(x: Tensor) -> Tensor:
    """The inverse of `rgb_to_ycc` (not clamped)."""
    return torch.einsum("ij,...jhw->...ihw", _YCC_TO_RGB.to(x), x)


def low_pass(x: Tensor, scale: float = LIGHT_SCALE) -> Tensor:
    """[B, C, H, W] averaged over cells of `scale` x the shorter side, brought back to H x W
    smoothly (differentiable)."""
    h, w = x.shape[-2:]
    cell = max(1.0, scale * min(h, w))
    small = F.adaptive_avg_pool2d(x, (max(1, round(h / cell)), max(1, round(w / cell))))
    return F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)


def night_share(art: Tensor) -> Tensor:
    """[B, 1, 1, 1]: how much of its light `auto` keeps of each art [B, 3, H, W]: 1 for a
    panel drawn dark (mean luminance at NIGHT or below), 0 from DAY up."""
    return _night_share(rgb_to_ycc(art)[:, :1])


def _night_share(luma: Tensor) -> Tensor:
    mean = luma.mean(dim=(1, 2, 3), keepdim=True)
    return ((DAY - mean) / (DAY - NIGHT)).clamp(0, 1)


def keep_picture(styled: Tensor, art: Tensor, keep: Keep) -> Tensor:
    """The styled batch [B,3,H,W] keeping what `keep` names of the art (same shape)."""
    if keep == "none":
        return styled
    a = rgb_to_ycc(art.to(styled))
    if keep == "auto":
        share = _night_share(a[:, :1])
        if not share.any():
            return styled
    s = rgb_to_ycc(styled)
    luma, chroma = s[:, :1], s[:, 1:]
    if keep in ("lighting", "colours+lighting"):
        luma = luma - low_pass(luma) + low_pass(a[:, :1])
    if keep == "auto":
        luma = luma + share * (low_pass(a[:, :1]) - low_pass(luma))
    if keep in ("colours", "colours+lighting"):
        chroma = a[:, 1:]
    return ycc_to_rgb(torch.cat([luma, chroma], dim=1)).clamp(0, 1)


def keep_batch(styled: Tensor, art: Tensor, keeps: Sequence[Keep]) -> Tensor:
    """`keep_picture` with one mode per row of the batch."""
    if all(k == "none" for k in keeps):
        return styled
    rows = [keep_picture(styled[b:b + 1], art[b:b + 1], k) for b, k in enumerate(keeps)]
    return torch.cat(rows)

"""Print-resolution rendering of the pretrained network: styled at the size it was
fine-tuned at, brought to the frame's print size by a guided filter steered by the art.

The network's strokes have a fixed size in pixels, so it runs on the panel at the training
geometry (what the Comic Book Loss optimised). Three layers then make the print:
  guided    the fast guided filter (He and Sun, 2015): in each small window of the
            training-size pair, the styled colour fitted as a linear function of the art's
            colour; the smoothed fit applied to the art at print size carries every edge
            the artist drew in the colours the network gave it
  residual  what that fit missed at the training size (the network's own strokes and
            texture), upscaled: shrunk back, the print is the network's output again
  detail    the art's detail layer (what the training size cannot hold), in the share
            `detail`, where the fit did not already carry it (a window whose colour the
            network replaced has a slope near 0 there)
docs/print-resolution.md has the figures against the other candidates.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from comicc.ml.backbone import resize

# Window radius in training-size pixels: 1 (3x3) keeps the fit local, so a colour the
# network puts on one side of an inked line does not bleed to the other (2 lost 0.05-0.1
# of edge correlation, docs/print-resolution.md).
RADIUS = 1
# Regularisation of the fit (variances of colours in [0,1]): small enough that a 1-px ink
# line, which barely moves a 3x3 window's variance at training size, still transfers.
EPS = 1e-4


def print_render(net: nn.Module, art: Tensor, cond: Tensor | None, work_size: int,
                 detail: float, device: torch.device | str = "cpu") -> Tensor:
    """Style `art` [3,H,W] (already at print size) with `net` at work_size x work_size and
    bring the result to H x W (see the module docstring); a CPU tensor [3,H,W] in [0,1]."""
    was_training = net.training
    net.to(device).eval()
    try:
        with torch.inference_mode():
            full = art[None].float().to(device)
            small = resize(full, (work_size, work_size))
            styled = net(small, None if cond is None else cond.to(device)).clamp(0, 1)
            return to_print(styled, small, full, detail)[0].cpu()
    finally:
        net.train(was_training)


def to_print(styled: Tensor, small: Tensor, art: Tensor, detail: float,
             radius: int = RADIUS, eps: float = EPS) -> Tensor:
    """The print [B,3,H,W] from the network's output `styled` on `small` (both [B,3,h,w])
    and the art at print size `art`."""
    slope, offset = guided_fit(styled, small, radius, eps)
    size = tuple(art.shape[-2:])
    missed = styled - (slope * small + offset)
    a, b = (F.interpolate(t, size=size, mode="bilinear", align_corners=False)
            for t in (slope, offset))
    art_detail = art - _bicubic(small, size)
    carried = a.clamp(0, 1)  # the share of the art's edges the fit already prints
    out = a * art + b + _bicubic(missed, size) + detail * (1 - carried) * art_detail
    return out.clamp(0, 1)


def guided_fit(styled: Tensor, guide: Tensor, radius: int = RADIUS,
               eps: float = EPS) -> tuple[Tensor, Tensor]:
    """The guided filter's smoothed per-pixel fit styled ~ slope * guide + offset, each
    channel guided by the same channel of the art (an ink line keeps its own colour)."""
    mean_g, mean_s = _box(guide, radius), _box(styled, radius)
    var_g = _box(guide * guide, radius) - mean_g * mean_g
    cov = _box(guide * styled, radius) - mean_g * mean_s
    # Never below 0: a window where the network inverted the art's contrast prints the
    # art's edges as they are (through `detail`), not as a line turned to a gap.
    slope = (cov / (var_g + eps)).clamp(min=0)
    offset = mean_s - slope * mean_g
    return _box(slope, radius), _box(offset, radius)


def _box(x: Tensor, radius: int) -> Tensor:
    """Mean over a (2r+1)^2 window; windows at the border average only the pixels they hold."""
    return F.avg_pool2d(x, 2 * radius + 1, stride=1, padding=radius, count_include_pad=False)


def _bicubic(x: Tensor, size: tuple[int, ...]) -> Tensor:
    return F.interpolate(x, size=size, mode="bicubic", align_corners=False)

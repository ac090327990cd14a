"""Print-resolution rendering: the artist's lines survive, no seams, the same pixels twice."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from comicc.ml.multistyle import load_multistyle26, style_vector
from comicc.ml.print_render import print_render

LUMA = torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)
WORK = 192  # the draft preset's training size: the print is ~4-8x larger


@pytest.fixture(scope="module")
def net() -> torch.nn.Module:
    return load_multistyle26().eval()


def flat(height: int, width: int) -> Tensor:
    panel = torch.empty(3, height, width)
    panel[0], panel[1], panel[2] = 0.55, 0.7, 0.85
    return panel


def column_gradient(panel: Tensor) -> Tensor:
    """|d luminance / dx| as a [H, W-2] image (central differences)."""
    luma = (panel * LUMA).sum(0)
    return (luma[:, 2:] - luma[:, :-2]).abs()


def edge_correlation(a: Tensor, b: Tensor) -> float:
    a, b = a.flatten() - a.mean(), b.flatten() - b.mean()
    return float((a * b).sum() / (a.norm() * b.norm()))


class _Identity(torch.nn.Module):
    def forward(self, x: Tensor, cond: Tensor | None) -> Tensor:
        return x


def test_a_network_that_keeps_the_art_prints_the_art() -> None:
    torch.manual_seed(0)
    art = F.interpolate(torch.rand(1, 3, 40, 30), size=(400, 300), mode="bilinear")[0]
    art[:, :, 150] = 0.0  # an ink line the 48 px view cannot hold
    out = print_render(_Identity(), art, None, 48, detail=0.5)
    assert out.shape == art.shape
    assert (out - art).abs().mean() < 0.01


@pytest.mark.parametrize("style", ["ribbon-abstract", "bold-primaries", "tapestry"])
def test_a_one_pixel_ink_line_survives_styling_at_print_size(net, style: str) -> None:
    art = flat(800, 600)
    art[:, :, 300] = 0.05  # 1 px at print size, a quarter of a pixel at the training size
    out = print_render(net, art, style_vector(style)[None], WORK, detail=0.5)
    band = slice(290, 310)
    assert edge_correlation(column_gradient(out)[:, band], column_gradient(art)[:, band]) > 0.5


def spike(profile: Tensor) -> float:
    """The largest ratio of a value to the median of its 33 neighbours (margins cut)."""
    cut = len(profile) // 20
    g = profile[cut:-cut]
    padded = F.pad(g[None, None], (16, 16), mode="replicate")[0, 0]
    local = padded.unfold(0, 33, 1).median(-1).values
    return float((g / (local + 1e-4)).max())


def seam(panel: Tensor) -> float:
    """How sharply one column or row of the gradient image stands out (a tile boundary)."""
    luma = (panel * LUMA).sum(0)
    columns = (luma[:, 1:] - luma[:, :-1]).abs().mean(0)
    rows = (luma[1:, :] - luma[:-1, :]).abs().mean(1)
    return max(spike(columns), spike(rows))


@pytest.mark.parametrize("style", ["ribbon-abstract", "mosaic"])
def test_a_flat_panel_prints_without_a_seam(net, style: str) -> None:
    panel, cond = flat(1600, 1200), style_vector(style)[None]
    whole = print_render(net, panel, cond, WORK, detail=0.5)
    assert seam(whole) < 6
    # The detector sees the boundary of two tiles rendered apart.
    halves = [print_render(net, panel[:, :, s], cond, WORK, detail=0.5)
              for s in (slice(0, 600), slice(600, None))]
    assert seam(torch.cat(halves, dim=2)) > 6


def test_print_rendering_is_deterministic(net) -> None:
    torch.manual_seed(1)
    art = F.interpolate(torch.rand(1, 3, 60, 45), size=(640, 480), mode="bilinear")[0]
    cond = style_vector("ink-wash")[None]
    first, second = (print_render(net, art, cond, WORK, detail=0.5) for _ in range(2))
    assert torch.equal(first, second)

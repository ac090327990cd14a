"""`keep`: the restyle keeps the art's colours, its light, both, or neither."""

import pytest
import torch

from comicc.ml.keep import (
    DAY,
    NIGHT,
    keep_batch,
    keep_picture,
    low_pass,
    night_share,
    rgb_to_ycc,
    ycc_to_rgb,
)


def _scene(seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, 3, 48, 64, generator=g)


def test_ycc_round_trip():
    x = _scene(0)
    assert torch.allclose(ycc_to_rgb(rgb_to_ycc(x)), x, atol=1e-5)


def test_colours_keeps_the_art_chroma_and_the_styled_luminance():
    art = torch.zeros(1, 3, 32, 32)
    art[:, 0] = 0.6  # a red coat
    styled = torch.full((1, 3, 32, 32), 0.4)  # grey, the style's
    out = keep_picture(styled, art, "colours")
    ycc_out, ycc_art, ycc_styled = rgb_to_ycc(out), rgb_to_ycc(art), rgb_to_ycc(styled)
    assert torch.allclose(ycc_out[:, 1:], ycc_art[:, 1:], atol=0.02)
    assert torch.allclose(ycc_out[:, :1], ycc_styled[:, :1], atol=0.02)
    assert out[0, 0].mean() > out[0, 1].mean() + 0.4  # red again


def test_lighting_keeps_a_night_scene_dark_and_the_style_strokes():
    night = torch.full((1, 3, 64, 64), 0.1)
    strokes = (torch.arange(64) % 4 < 2).float().view(1, 1, 1, 64).expand(1, 3, 64, 64)
    pale_day = 0.6 + 0.2 * strokes  # the style's bright picture, striped
    out = keep_picture(pale_day, night, "lighting")
    luma = rgb_to_ycc(out)[:, 0]
    assert abs(luma.mean().item() - 0.1) < 0.03  # the art's light
    # the strokes survive: neighbouring columns still differ by the style's contrast
    assert (luma[..., 0::4] - luma[..., 2::4]).abs().mean() > 0.1


def test_auto_keeps_a_night_dark_and_leaves_a_day_to_the_style():
    """`auto`: a panel drawn dark keeps its light as `lighting` does; a daylight panel
    prints as the network drew it; a panel between NIGHT and DAY keeps a share."""
    strokes = (torch.arange(64) % 4 < 2).float().view(1, 1, 1, 64).expand(1, 3, 64, 64)
    pale_day = 0.6 + 0.2 * strokes
    night = torch.full((1, 3, 64, 64), 0.1)
    day = torch.full((1, 3, 64, 64), 0.7)
    assert torch.allclose(keep_picture(pale_day, night, "auto"),
                          keep_picture(pale_day, night, "lighting"))
    assert keep_picture(pale_day, day, "auto") is pale_day
    dusk = torch.full((1, 3, 64, 64), (NIGHT + DAY) / 2)
    assert night_share(dusk).item() == pytest.approx(0.5, abs=1e-3)
    luma = rgb_to_ycc(keep_picture(pale_day, dusk, "auto"))[:, 0].mean().item()
    assert luma == pytest.approx((0.7 + (NIGHT + DAY) / 2) / 2, abs=0.02)
    # per row of a batch: the night row is kept, the day row is left alone
    out = keep_batch(torch.cat([pale_day, pale_day]), torch.cat([night, day]), ["auto", "auto"])
    assert rgb_to_ycc(out[:1])[:, 0].mean() < 0.15 and torch.equal(out[1:], pale_day)


def test_none_is_the_identity_and_modes_apply_per_row():
    styled, art = _scene(1), _scene(2)
    assert keep_picture(styled, art, "none") is styled
    both = torch.cat([styled, styled])
    out = keep_batch(both, torch.cat([art, art]), ["none", "colours"])
    assert torch.equal(out[:1], styled)
    assert not torch.allclose(out[1:], styled)


@pytest.mark.parametrize("keep", ["colours", "lighting", "colours+lighting", "auto"])
def test_gradients_flow_to_the_styled_picture(keep):
    styled = _scene(3).requires_grad_(True)
    keep_picture(styled, _scene(4) * 0.4, keep).pow(2).sum().backward()
    assert styled.grad is not None and styled.grad.abs().sum() > 0


def test_low_pass_scale_is_relative_to_the_picture():
    x = _scene(5)
    assert low_pass(x).shape == x.shape
    big = torch.nn.functional.interpolate(x, scale_factor=4, mode="nearest")
    small_again = torch.nn.functional.avg_pool2d(low_pass(big), 4)
    assert (small_again - low_pass(x)).abs().mean() < 0.03

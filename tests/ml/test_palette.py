"""An element's own colours kept: inside its region, on the pixels drawn in its colours, the
print has the art's chroma under the style's luminance; everywhere else it is the style's."""

from __future__ import annotations

import torch

from comicc.manifest.strength import PanelStrength
from comicc.ml.classifiers import colour_models
from comicc.ml.keep import rgb_to_ycc
from comicc.ml.palette import keep_palette, palette_mask, places
from comicc.ml.strength import blend_panel
from tests.ml.test_colour_regions import ORANGE, SKY, comic, fill

# The fox of `comic()`'s panel 2 is drawn at x 22-30, y 40-45 of a 40 x 60 panel.
FOX_BOX = (20 / 40, 38 / 60, 12 / 40, 9 / 60)
FOX = (slice(41, 44), slice(23, 29))  # inside the fox, clear of the soft edge


def _fox_model() -> torch.Tensor:
    references, panels, targets = comic()
    return colour_models(["fox", "bird"], references, panels, targets)["fox"]


def _panel() -> torch.Tensor:
    """`comic()`'s panel 2 (the fox and the bird) with a second orange patch outside the
    fox's box: the same colour, but not the element."""
    _, panels, _ = comic()
    panel = panels[2].clone()
    panel[:, 2:6, 30:36] = ORANGE.view(3, 1, 1)
    return panel


def test_the_mask_is_the_elements_own_colours_inside_its_region_only():
    mask = palette_mask(_panel(), [(FOX_BOX, _fox_model())])
    assert mask.shape == (1, 60, 40)
    assert mask[0][FOX].min() == 1.0
    assert mask[0, 2:6, 30:36].max() == 0.0  # the orange patch outside the box
    assert mask[0, 10:13, 5:11].max() == 0.0  # the bird: not the fox's colours
    assert mask[0, 50:, :].max() == 0.0  # the grass
    assert 0.0 < mask[0, 40, 21] < 1.0  # a soft edge, one pixel wide


def test_the_mask_reaches_the_part_of_the_element_its_box_cut_off_and_nothing_apart():
    """A box found by colour may end inside the element: the element's own pixels connected
    to those in the box are kept too, within the box grown by a quarter of its size; the same
    colour apart from the element is not."""
    panel = fill(SKY, 80, 100)
    panel[:, 30:50, 10:50] = ORANGE.view(3, 1, 1)  # the fox, 40 px wide
    panel[:, 20:23, 46:49] = ORANGE.view(3, 1, 1)  # beyond the grown box
    panel[:, 52:55, 3:6] = ORANGE.view(3, 1, 1)  # inside the grown box, apart from the fox
    box = (10 / 100, 30 / 80, 32 / 100, 20 / 80)  # the fox's left 32 px only
    mask = palette_mask(panel, [(box, _fox_model())])[0]
    assert mask[32:48, 43:49].min() == 1.0  # the fox's right end, outside the box
    assert mask[20:23, 46:49].max() == 0.0
    assert mask[52:55, 3:6].max() == 0.0


def test_kept_colours_hold_the_regions_mean_chroma_and_take_the_styles_light():
    art = _panel()
    styled = fill(torch.tensor([0.55, 0.45, 0.3]), 60, 40)  # sepia everywhere
    styled[:, ::4] *= 0.6  # the style's strokes
    mask = palette_mask(art, [(FOX_BOX, _fox_model())])
    out = keep_palette(styled[None], art[None], mask[None])[0]
    ycc_out, ycc_art, ycc_styled = (rgb_to_ycc(x[None])[0] for x in (out, art, styled))
    region = (slice(None), *FOX)
    art_chroma = ycc_art[1:][region].mean(dim=(1, 2))
    assert (ycc_out[1:][region].mean(dim=(1, 2)) - art_chroma).abs().max() < 0.02
    assert (ycc_styled[1:][region].mean(dim=(1, 2)) - art_chroma).abs().max() > 0.1
    # the style's light and strokes stay, where the colour allows it
    assert torch.allclose(ycc_out[0][FOX], ycc_styled[0][FOX], atol=0.03)
    # outside the mask the picture is the style's, untouched
    assert torch.equal(out[:, 50:], styled[:, 50:])
    assert torch.equal(out[:, 2:6, 30:36], styled[:, 2:6, 30:36])


def test_gradients_reach_the_styled_picture_through_the_kept_colours():
    art = _panel()
    styled = torch.rand(1, 3, 60, 40, requires_grad=True)
    mask = palette_mask(art, [(FOX_BOX, _fox_model())])
    out = keep_palette(styled, art[None], mask[None])
    out[0, :, 41:44, 23:29].sum().backward()  # inside the fox: its luminance is the style's
    assert styled.grad is not None and styled.grad[0, :, 41:44, 23:29].abs().min() > 0


def test_places_need_a_region_and_a_colour_model():
    model = _fox_model()
    regions = {"fox": FOX_BOX, "bird": (0.1, 0.1, 0.2, 0.1)}
    assert places(["fox", "bird"], regions, {"fox": model}) == [(FOX_BOX, model)]
    assert places(["fox"], {}, {"fox": model}) == []
    assert places([], regions, {"fox": model}) == []


def test_a_panel_keeps_its_elements_colours_at_any_size():
    """The build prints what the loss judged: the mask is drawn from the art at the size of
    the picture, so the colours land on the element at print size too."""
    art = torch.nn.functional.interpolate(_panel()[None], scale_factor=4, mode="nearest")[0]
    styled = fill(torch.tensor([0.5, 0.5, 0.5]), 240, 160)
    out = blend_panel(styled, art, PanelStrength(1.0, "comic"), [(FOX_BOX, _fox_model())])
    fox = out[:, 41 * 4:44 * 4, 23 * 4:29 * 4].mean(dim=(1, 2))
    assert fox[0] > fox[2] + 0.3  # orange again: red well above blue
    assert torch.equal(out[:, 200:], styled[:, 200:])
    assert blend_panel(styled, art, PanelStrength(1.0, "comic")) is styled

"""Cut-outs: a reference drawn on a plain background or a smooth sky lifted off it (the
colour models of `find_regions` count only the drawing's own colours)."""

from __future__ import annotations

import torch

from comicc.ml.classifiers import _plain_background, colour_box, colour_models, cutout

PAPER = torch.tensor([0.97, 0.96, 0.93])
RED = torch.tensor([0.9, 0.2, 0.1])


def drawing_on_paper(size: int = 40) -> torch.Tensor:
    """A red ring (a paper-coloured hole inside) on plain paper, in rows/cols 10..29."""
    image = PAPER.view(3, 1, 1).expand(3, size, size).clone()
    image[:, 10:30, 10:30] = RED.view(3, 1, 1)
    image[:, 16:24, 16:24] = PAPER.view(3, 1, 1)
    return image


def test_cutout_lifts_the_drawing_with_its_enclosed_paper():
    colours, alpha = cutout(drawing_on_paper())
    assert colours.shape == (3, 20, 20) and alpha.shape == (1, 20, 20)
    # The hole is paper-coloured but enclosed by the drawing: part of it, not background.
    assert alpha.min().item() == 1.0
    assert torch.allclose(colours[:, 0, 0], RED)


def test_cutout_refuses_a_reference_without_a_plain_background():
    busy = torch.rand(3, 48, 48, generator=torch.Generator().manual_seed(0))
    assert cutout(busy) is None
    assert cutout(PAPER.view(3, 1, 1).expand(3, 20, 20).clone()) is None  # nothing drawn


def drawing_on_a_sunset(size: int = 48) -> torch.Tensor:
    """The red ring of `drawing_on_paper` (rows/cols 14..33) on a sky that runs from dusk
    violet at the top to orange at the bottom, a little lighter to the right."""
    t = torch.linspace(0, 1, size)
    violet, orange = torch.tensor([0.3, 0.25, 0.5]), torch.tensor([0.95, 0.6, 0.35])
    image = violet.view(3, 1, 1) + (orange - violet).view(3, 1, 1) * t.view(1, -1, 1)
    image = (image + 0.08 * t.view(1, 1, -1)).clamp(0, 1)
    image[:, 14:34, 14:34] = RED.view(3, 1, 1)
    image[:, 20:28, 20:28] = PAPER.view(3, 1, 1)
    return image


def test_cutout_lifts_a_drawing_off_a_smooth_gradient_sky():
    image = drawing_on_a_sunset()
    # No colour covers most of its border: a plain-background test alone refuses it.
    assert _plain_background(image) is None
    colours, alpha = cutout(image)
    assert colours.shape == (3, 20, 20) and alpha.min().item() == 1.0
    assert torch.allclose(colours[:, 0, 0], RED)


def test_an_element_drawn_only_against_skies_gets_a_colour_model():
    other = PAPER.view(3, 1, 1).expand(3, 48, 48).clone()
    other[:, 10:30, 10:30] = torch.tensor([0.1, 0.3, 0.9]).view(3, 1, 1)  # a blue one
    panel = torch.tensor([0.5, 0.7, 0.4]).view(3, 1, 1).expand(3, 64, 64).clone()  # grass
    panel[:, 40:50, 8:18] = RED.view(3, 1, 1)
    models = colour_models(["boat", "kite"], {"boat": [drawing_on_a_sunset()], "kite": [other]},
                           [panel], torch.tensor([[1.0], [0.0]]))
    assert "boat" in models
    x, y, w, h = colour_box(models["boat"], panel)
    assert abs(x - 8 / 64) < 0.05 and abs(y - 40 / 64) < 0.05
    assert abs(w - 10 / 64) < 0.05 and abs(h - 10 / 64) < 0.05

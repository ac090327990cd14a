"""Cut-outs: a reference drawn on a plain background lifted off it (the colour models of
`find_regions` count only the drawing's own colours)."""

from __future__ import annotations

import torch

from comicc.ml.classifiers import cutout

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

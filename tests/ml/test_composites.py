"""Copy-paste composites: references cut out of their plain background and pasted into scenes
without the element, as extra positives whose box is known."""

from __future__ import annotations

import torch

from comicc.ml.classifiers import (
    _composites,
    _shows,
    _Source,
    _split,
    box_cells,
    box_views,
    composite,
    cutout,
)

PAPER = torch.tensor([0.97, 0.96, 0.93])
RED = torch.tensor([0.9, 0.2, 0.1])


def drawing_on_paper(size: int = 40) -> torch.Tensor:
    """A red ring (a paper-coloured hole inside) on plain paper, in rows/cols 10..29."""
    image = PAPER.view(3, 1, 1).expand(3, size, size).clone()
    image[:, 10:30, 10:30] = RED.view(3, 1, 1)
    image[:, 16:24, 16:24] = PAPER.view(3, 1, 1)
    return image


def scene(seed: int, size: int = 48) -> torch.Tensor:
    """A busy background: no plain border."""
    return torch.rand(3, size, size, generator=torch.Generator().manual_seed(seed))


def test_cutout_lifts_the_drawing_with_its_enclosed_paper():
    colours, alpha = cutout(drawing_on_paper())
    assert colours.shape == (3, 20, 20) and alpha.shape == (1, 20, 20)
    # The hole is paper-coloured but enclosed by the drawing: part of it, not background.
    assert alpha.min().item() == 1.0
    assert torch.allclose(colours[:, 0, 0], RED)


def test_cutout_refuses_a_reference_without_a_plain_background():
    assert cutout(scene(0)) is None
    assert cutout(PAPER.view(3, 1, 1).expand(3, 20, 20).clone()) is None  # nothing drawn


def test_composite_is_seeded_and_puts_the_drawing_in_its_box():
    drawing = cutout(drawing_on_paper())
    background = torch.zeros(3, 60, 90)
    a, box_a = composite(background, drawing, torch.Generator().manual_seed(3))
    b, box_b = composite(background, drawing, torch.Generator().manual_seed(3))
    c, box_c = composite(background, drawing, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and box_a == box_b
    assert box_a != box_c
    assert background.abs().sum() == 0  # the background is not painted on
    x, y, w, h = box_a
    left, top = round(x * 90), round(y * 60)
    right, bottom = left + round(w * 90), top + round(h * 60)
    inside = a[:, top:bottom, left:right]
    assert inside.sum(dim=0).gt(0.5).float().mean() > 0.9  # the drawing fills its box
    outside = a.clone()
    outside[:, top:bottom, left:right] = 0
    assert outside.abs().sum() == 0  # and nothing lies outside it
    assert 0.08 - 1 / 90 <= w <= 0.5 + 1 / 90  # PASTE_WIDTH, to a pixel


def test_composites_paste_each_element_only_where_it_is_absent():
    references = {"fox": [drawing_on_paper(), scene(1)], "bird": [scene(2)]}
    panels = [scene(3), scene(4), scene(5)]
    targets = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])  # fox in 0; bird in 1, 2
    first = _composites(["fox", "bird"], references, panels, targets, 6, torch.Generator().manual_seed(0))
    again = _composites(["fox", "bird"], references, panels, targets, 6, torch.Generator().manual_seed(0))
    assert first["bird"] == []  # no plain-background reference to cut out
    assert len(first["fox"]) == 6
    for made, same in zip(first["fox"], again["fox"], strict=True):
        assert made.key == same.key and torch.equal(made.image, same.image) and made.box == same.box
        drawing, background = made.parts
        assert drawing == "ref:fox:0"  # the scene reference cannot be cut out
        assert background in {"ref:bird:0", "panel:1", "panel:2"}
        assert not _shows(background, 0, "fox", targets)
    assert _shows("panel:1", 1, "bird", targets) and _shows("ref:bird:0", 1, "bird", targets)


def test_split_trains_on_composites_but_never_measures_them():
    real = [_Source(f"panel:{j}", torch.zeros(1)) for j in range(4)]
    pasted = [
        _Source("paste:fox:0", torch.zeros(1), ("ref:fox:0", "panel:3")),
        _Source("paste:fox:1", torch.zeros(1), ("ref:fox:0", "panel:2")),
    ]
    rows = {s.key: range(2 * k, 2 * k + 2) for k, s in enumerate(real + pasted)}
    labels, train, test, every = _split(real[:2] + pasted, real[2:], rows, {"panel:0", "panel:3"}, 12)
    assert labels.tolist() == [1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1]
    assert test.tolist() == [1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0]
    # The composite pasted into held-out panel 3 stays out of the first fit, not the last.
    assert train.tolist() == [0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1]
    assert every.tolist() == [1] * 12


def test_box_views_follow_the_drawing_when_mirrored():
    image = torch.zeros(3, 32, 32)
    image[:, 4:12, 2:10] = 1.0
    box = (2 / 32, 4 / 32, 8 / 32, 8 / 32)
    views, boxes = box_views(image, box, 8, 32, torch.Generator().manual_seed(0))
    assert views.shape == (8, 3, 32, 32) and boxes[0] == box
    assert any(b[0] > 0.5 for b in boxes)  # some views are mirrored
    for view, (x, y, w, h) in zip(views, boxes, strict=True):
        centre = view[:, round((y + h / 2) * 32), round((x + w / 2) * 32)]
        far = view[:, round((y + h / 2) * 32), 31 - round((x + w / 2) * 32)]
        assert centre.mean() > far.mean()


def test_box_cells_mark_the_element_and_leave_its_edges_out():
    labels, mask = box_cells((0.45, 0.45, 0.1, 0.1), 6, 6)  # within one cell
    grid_labels, grid_mask = labels.view(6, 6), mask.view(6, 6)
    assert grid_labels.sum() == 1 and grid_labels[3, 3] == 1  # the cell holding the centre
    assert grid_mask.sum() == 36 - 3  # the three other touched cells are left out
    labels, mask = box_cells((0.0, 0.0, 0.5, 0.5), 6, 6)
    assert labels.view(6, 6)[:3, :3].sum() == 9 and labels.sum() == 9 and mask.sum() == 36

"""Spatial element classifiers on a comic whose elements are small in some panels and large
in others: held-out accuracy, regions from the score maps, gradients to the images.

The comic: a red disc ("ball") and a blue square ("box") on striped backgrounds with grey
triangles, each drawn small (about a fifth of the panel's side) or large (about two fifths) and
each absent from some panels, so a classifier that averages over the panel dilutes the
small ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
from torch import Tensor

from comicc.ml.classifiers import Box, activation_box, find_regions, train_classifiers

ELEMENTS = ["ball", "box"]
SIZE = 192  # the draft preset's classifier view size
SMALL, LARGE = (0.17, 0.22), (0.38, 0.46)  # side of an element as a fraction of the panel's
MARGIN = 0.04  # elements keep this far (as a fraction of the panel) from its edges
# Per panel: the ball's and the box's size (None: absent).
LAYOUT = [
    (SMALL, None),
    (LARGE, None),
    (None, SMALL),
    (None, LARGE),
    (SMALL, LARGE),
    (LARGE, SMALL),
    (SMALL, SMALL),
    (LARGE, LARGE),
    (None, None),
    (None, None),
]


@dataclass
class DrawnComic:
    panels: list[Tensor]
    references: dict[str, list[Tensor]]
    targets: Tensor  # [E, N]: p_hat
    boxes: list[dict[str, Box]]  # where each present element was drawn


def _uniform(gen: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * torch.rand((), generator=gen).item()


def draw_panel(sizes: tuple, gen: torch.Generator, size: int = SIZE) -> tuple[Tensor, dict[str, Box]]:
    """A light striped panel with grey clutter and the elements at `sizes`; their boxes."""
    image = (0.7 + 0.25 * torch.rand(3, generator=gen)).view(3, 1, 1).expand(3, size, size).clone()
    period = int(torch.randint(9, 16, (), generator=gen))
    image[:, ::period, :] = 0.5
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    for _ in range(3):  # clutter: grey triangles, neither a disc nor a square
        cx, cy = _uniform(gen, 0, size), _uniform(gen, 0, size)
        r = _uniform(gen, 0.05, 0.12) * size
        inside = (yy <= cy + r / 2) & (2 * (xx - cx).abs() <= (yy - cy + r))
        image[:, inside] = _uniform(gen, 0.35, 0.6)
    boxes: dict[str, Box] = {}
    # The two elements in opposite halves (which half is random), so they never overlap.
    ball_left = torch.rand((), generator=gen).item() < 0.5
    for name, scale in zip(ELEMENTS, sizes, strict=True):
        if scale is None:
            continue
        side = round(_uniform(gen, *scale) * size)
        left_half = ball_left == (name == "ball")
        margin = round(MARGIN * size)
        x0 = round(_uniform(gen, margin, size / 2 - side)) + (0 if left_half else size // 2 - margin)
        y0 = round(_uniform(gen, margin, size - margin - side))
        if name == "ball":
            r = side / 2
            mask = (xx - x0 - r + 0.5) ** 2 + (yy - y0 - r + 0.5) ** 2 <= r * r
            image[:, mask] = torch.tensor([0.9, 0.1, 0.1]).view(3, 1)
        else:
            image[:, y0 : y0 + side, x0 : x0 + side] = torch.tensor([0.1, 0.2, 0.9]).view(3, 1, 1)
        boxes[name] = (x0 / size, y0 / size, side / size, side / size)
    return image, boxes


def draw_comic(seed: int, rounds: int = 2) -> DrawnComic:
    """LAYOUT's panels `rounds` times over (new positions and clutter each time), and one
    large reference drawing per element."""
    gen = torch.Generator().manual_seed(seed)
    drawn = [draw_panel(sizes, gen) for _ in range(rounds) for sizes in LAYOUT]
    references = {"ball": [draw_panel((LARGE, None), gen)[0]], "box": [draw_panel((None, LARGE), gen)[0]]}
    targets = torch.tensor([[float(name in boxes) for _, boxes in drawn] for name in ELEMENTS])
    return DrawnComic([p for p, _ in drawn], references, targets, [b for _, b in drawn])


def iou(a: Box, b: Box) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    return w * h / (aw * ah + bw * bh - w * h)


def contains_centre(box: Box, known: Box) -> bool:
    x, y, w, h = box
    cx, cy = known[0] + known[2] / 2, known[1] + known[3] / 2
    return x <= cx <= x + w and y <= cy <= y + h


@pytest.fixture(scope="module")
def drawn() -> DrawnComic:
    return draw_comic(seed=0)


@pytest.fixture(scope="module")
def unseen() -> DrawnComic:
    return draw_comic(seed=1, rounds=1)


@pytest.fixture(scope="module")
def spatial_bank(backbone, drawn):
    """Heads trained on whole panels only: no region says where anything is."""
    return train_classifiers(
        backbone,
        ELEMENTS,
        drawn.references,
        drawn.panels,
        drawn.targets,
        [{} for _ in drawn.panels],
        seed=0,
        steps=150,
        size=SIZE,
        device="cpu",
        views_per_image=8,
    )


def test_both_elements_have_held_out_accuracy_of_at_least_0_9(spatial_bank):
    assert spatial_bank.pooling == "lse"
    assert spatial_bank.weak == []
    assert min(spatial_bank.accuracy.values()) >= 0.9, spatial_bank.accuracy


def test_panels_of_a_comic_it_never_saw_are_recognised_small_and_large(spatial_bank, unseen):
    with torch.no_grad():
        probs = spatial_bank.probabilities(torch.stack(unseen.panels))
    wrong = ((probs > 0.5) != (unseen.targets > 0.5)).sum(dim=1)
    assert wrong.max().item() <= 1, dict(zip(ELEMENTS, wrong.tolist(), strict=True))


def test_located_boxes_cover_the_drawn_elements(spatial_bank, unseen):
    # A useful box for the classifier term holds the element and little of the rest: it
    # contains the element's centre and at most 40 % of the panel (elements take 3-21 %).
    names = [list(boxes) for boxes in unseen.boxes]
    found = spatial_bank.locate(torch.stack(unseen.panels), names)
    pairs = [(found[j][name], known) for j, boxes in enumerate(unseen.boxes) for name, known in boxes.items()]
    assert len(pairs) == 12
    figures = [(round(iou(b, k), 2), contains_centre(b, k), round(b[2] * b[3], 2)) for b, k in pairs]
    assert sum(centre and area <= 0.4 for _, centre, area in figures) >= 11, figures
    assert sum(i for i, _, _ in figures) / len(figures) >= 0.3, figures


def test_find_regions_places_only_present_elements_without_a_region(spatial_bank, unseen):
    given = [{"ball": (0.0, 0.0, 0.5, 0.5)} for _ in unseen.panels]
    found = find_regions(spatial_bank, unseen.panels, unseen.targets, given)
    with_box = [j for j, boxes in enumerate(unseen.boxes) if "box" in boxes]
    assert sum("box" in found[j] for j in with_box) >= 0.8 * len(with_box)
    for j, boxes in enumerate(found):
        assert set(boxes) <= ({"box"} if j in with_box else set())
        for x, y, w, h in boxes.values():
            assert 0 <= x and 0 <= y and x + w <= 1 + 1e-6 and y + h <= 1 + 1e-6 and w * h > 0


def test_gradients_reach_the_images_most_where_the_small_element_is(spatial_bank, unseen):
    j = next(j for j, boxes in enumerate(unseen.boxes) if "ball" in boxes and unseen.boxes[j]["ball"][2] < 0.2)
    image = unseen.panels[j].unsqueeze(0).clone().requires_grad_(True)
    spatial_bank.probabilities(image)[ELEMENTS.index("ball"), 0].backward()
    grad = image.grad[0].abs().sum(dim=0)
    x, y, w, h = unseen.boxes[j]["ball"]
    inside = torch.zeros_like(grad, dtype=torch.bool)
    inside[round(y * SIZE) : round((y + h) * SIZE), round(x * SIZE) : round((x + w) * SIZE)] = True
    assert grad[inside].mean() > 2 * grad[~inside].mean()


def test_activation_box_is_the_component_around_the_peak():
    scores = torch.zeros(6, 6)
    scores[1, 1], scores[1, 2] = 5.0, 4.0  # the element: two cells
    scores[4, 4] = 3.0  # a weaker, separate blob: not part of the box
    x, y, w, h = activation_box(scores)
    assert x < 1 / 6 + 0.01 and x + w > 3 / 6 - 0.01  # covers columns 1-2 ...
    assert x + w < 4 / 6 and y + h < 3 / 6  # ... and not the blob at (4, 4)
    assert 0 <= x and 0 <= y


def test_save_and_load_keep_the_pooling_and_found_regions(spatial_bank, unseen, backbone, tmp_path):
    path = tmp_path / "bank.safetensors"
    spatial_bank.found_regions = {"p1-1": {"ball": (0.1, 0.2, 0.3, 0.4)}}
    spatial_bank.save(path)
    loaded = type(spatial_bank).load(path, backbone)
    assert loaded.pooling == spatial_bank.pooling
    assert loaded.found_regions == spatial_bank.found_regions
    images = torch.stack(unseen.panels[:3])
    with torch.no_grad():
        assert torch.equal(loaded.probabilities(images), spatial_bank.probabilities(images))


def test_a_bank_of_an_older_format_is_refused(backbone, tmp_path):
    from safetensors.torch import save_file

    from comicc.ml.classifiers import ClassifierBank

    path = tmp_path / "old.safetensors"
    save_file({"weight": torch.zeros(1, 1280)}, str(path), {"element_ids": '["a"]'})
    with pytest.raises(ValueError, match="format"):
        ClassifierBank.load(path, backbone)

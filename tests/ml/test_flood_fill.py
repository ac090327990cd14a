"""`flood_fill`: the 8-connected component of the seeds inside a mask, the same as growing
one pixel a round, however winding the mask."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from comicc.ml.classifiers import flood_fill


def grown_a_pixel_a_round(seed: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The definition: dilate by one pixel in all eight directions, keep the mask, repeat."""
    component = seed & mask
    while True:
        grown = (F.max_pool2d(component[None, None].float(), 3, stride=1, padding=1)[0, 0] > 0) & mask
        if torch.equal(grown, component):
            return component
        component = grown


def spiral(size: int) -> torch.Tensor:
    """A one-pixel corridor winding inwards from the top-left corner, walls one pixel thick:
    every turn starts a new row or column run."""
    mask = torch.zeros(size, size, dtype=torch.bool)
    lengths = [size - 1] * 3 + [n for n in range(size - 3, 0, -2) for _ in (0, 1)]
    y = x = 0
    mask[0, 0] = True
    for turn, length in enumerate(lengths):
        dy, dx = ((0, 1), (1, 0), (0, -1), (-1, 0))[turn % 4]
        for _ in range(length):
            y, x = y + dy, x + dx
            mask[y, x] = True
    return mask


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), h=st.integers(1, 24), w=st.integers(1, 24),
       density=st.floats(0.2, 0.9), seeds=st.integers(0, 4))
def test_flood_fill_matches_growing_a_pixel_a_round(seed, h, w, density, seeds):
    gen = torch.Generator().manual_seed(seed)
    mask = torch.rand(h, w, generator=gen) < density
    start = torch.zeros(h, w, dtype=torch.bool)
    for _ in range(seeds):
        start[torch.randint(h, (1,), generator=gen), torch.randint(w, (1,), generator=gen)] = True
    assert torch.equal(flood_fill(start, mask), grown_a_pixel_a_round(start, mask))


def test_flood_fill_follows_a_spiral_to_its_end():
    mask = spiral(31)
    start = torch.zeros_like(mask)
    start[0, 0] = True
    assert torch.equal(flood_fill(start, mask), mask)  # the whole corridor, every turn
    # Cut the corridor once: only the stretch before the cut is reached.
    cut = mask.clone()
    cut[0, 15] = False
    assert flood_fill(start, cut).sum() == 15
    assert torch.equal(flood_fill(start, cut), grown_a_pixel_a_round(start, cut))


def test_flood_fill_steps_diagonally():
    diagonal = torch.eye(6, dtype=torch.bool)
    corner = torch.zeros_like(diagonal)
    corner[0, 0] = True
    assert torch.equal(flood_fill(corner, diagonal), diagonal)


def test_flood_fill_of_seeds_outside_the_mask_is_empty():
    mask = torch.zeros(5, 5, dtype=torch.bool)
    mask[1:4, 1:4] = True
    seed = torch.zeros_like(mask)
    seed[0, 0] = True
    assert not flood_fill(seed, mask).any()


def test_flood_fill_crosses_open_background_in_a_few_rounds(monkeypatch):
    """The cut-out's case: a 512 px sheet of paper around a drawing, filled from its border.
    Growing a pixel a round takes about 150 rounds here; crossing whole runs, a handful."""
    mask = torch.ones(512, 512, dtype=torch.bool)
    mask[100:400, 150:350] = False
    edge = torch.zeros_like(mask)
    edge[0], edge[-1], edge[:, 0], edge[:, -1] = True, True, True, True
    rounds = []
    dilate = F.max_pool2d

    def counted(*args, **kwargs):
        rounds.append(1)
        return dilate(*args, **kwargs)

    monkeypatch.setattr(F, "max_pool2d", counted)
    fast = flood_fill(edge, mask)
    fast_rounds = len(rounds)
    slow = grown_a_pixel_a_round(edge, mask)
    assert torch.equal(fast, slow)
    assert fast_rounds <= 3 < len(rounds) - fast_rounds

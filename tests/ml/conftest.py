"""Shared fixtures for the ML tests: the real backbone and a tiny synthetic comic.

The synthetic comic has two elements drawn as simple shapes on a striped background:
"ball" (a red disc) and "box" (a blue square), so classifiers can learn them in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
from torch import Tensor

# The tests' tensors are tiny: thread hand-offs cost more than they save on a busy machine.
torch.set_num_threads(1)

ELEMENTS = ["ball", "box"]
# Which element is in which panel (columns are panels): p_hat.
PRESENCE = [(1, 0), (0, 1), (1, 1), (0, 0)]
SIZE = 64


@dataclass
class SyntheticComic:
    panels: list[Tensor]
    references: dict[str, list[Tensor]]
    targets: Tensor  # [E, N]
    regions: list[dict[str, tuple[float, float, float, float]]]


def draw_panel(
    size: int, ball: bool, box: bool, gen: torch.Generator
) -> tuple[Tensor, dict[str, tuple[float, float, float, float]]]:
    """A light panel with grey stripes, a red disc and/or a blue square; and their boxes."""
    background = 0.75 + 0.2 * torch.rand(3, generator=gen)
    image = background.view(3, 1, 1).expand(3, size, size).clone()
    image[:, ::12, :] = 0.55
    regions = {}
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    if ball:
        cx = int(size * 0.3) + int(torch.randint(-3, 4, (), generator=gen))
        cy, r = size // 2, size // 5
        mask = (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
        image[:, mask] = torch.tensor([0.9, 0.1, 0.1]).view(3, 1)
        regions["ball"] = (
            (cx - r - 2) / size,
            (cy - r - 2) / size,
            (2 * r + 4) / size,
            (2 * r + 4) / size,
        )
    if box:
        side = size // 3
        x0 = int(size * 0.58)
        y0 = int(size * 0.3) + int(torch.randint(-3, 4, (), generator=gen))
        image[:, y0 : y0 + side, x0 : x0 + side] = torch.tensor([0.1, 0.2, 0.9]).view(3, 1, 1)
        regions["box"] = ((x0 - 2) / size, (y0 - 2) / size, (side + 4) / size, (side + 4) / size)
    return image, regions


def make_comic(seed: int = 0, size: int = SIZE) -> SyntheticComic:
    """Four panels (ball / box / both / neither) and one reference drawing per element."""
    gen = torch.Generator().manual_seed(seed)
    drawn = [draw_panel(size, bool(a), bool(b), gen) for a, b in PRESENCE]
    references = {
        "ball": [draw_panel(size, True, False, gen)[0]],
        "box": [draw_panel(size, False, True, gen)[0]],
    }
    targets = torch.tensor(PRESENCE, dtype=torch.float32).T
    return SyntheticComic([p for p, _ in drawn], references, targets, [r for _, r in drawn])


@pytest.fixture(scope="session")
def backbone():
    from comicc.ml.backbone import load_backbone

    return load_backbone("cpu")


@pytest.fixture(scope="session")
def comic() -> SyntheticComic:
    return make_comic()


# Extra training panels for the shared bank, drawn from their own seeds. With only the
# comic's four panels the "box" head learnt "no red disc means box" (held-out accuracy
# 0.19): it needs box-with-ball positives and ball-without-box negatives to learn the box.
TRAINING_SEEDS = (100, 101, 102, 103)
# Comics the bank never saw, for judging it.
JUDGE_SEEDS = (1, 2, 3)
# The judge bank's own comics and seed: what it learnt, no loss ever optimised against.
JUDGE_BANK_SEEDS = (200, 201, 202, 203, 204)


def training_set(comic: SyntheticComic) -> tuple[list[Tensor], Tensor, list[dict]]:
    """The comic's whole panels plus the TRAINING_SEEDS comics' panels with their element
    regions (so the heads also know an element's crop), their p_hat and their regions."""
    more = [make_comic(seed) for seed in TRAINING_SEEDS]
    panels = comic.panels + [p for extra in more for p in extra.panels]
    targets = torch.cat([comic.targets] + [extra.targets for extra in more], dim=1)
    regions = list(comic.regions) + [{} for extra in more for _ in extra.panels]
    return panels, targets, regions


@pytest.fixture(scope="session")
def judges() -> list[SyntheticComic]:
    return [make_comic(seed) for seed in JUDGE_SEEDS]


@pytest.fixture(scope="session")
def bank(backbone, comic):
    """Classifiers trained once on the synthetic comic (and the TRAINING_SEEDS panels)."""
    from comicc.ml.classifiers import train_classifiers

    panels, targets, regions = training_set(comic)
    return train_classifiers(
        backbone,
        ELEMENTS,
        comic.references,
        panels,
        targets,
        regions,
        seed=0,
        steps=150,
        size=SIZE,
        device="cpu",
        views_per_image=8,
    )


@pytest.fixture(scope="session")
def judge_bank(backbone):
    """An independent judge of the style network's output: classifiers trained with their own
    seed on their own comics (whole panels of the even seeds, element crops of the odd ones).
    The Comic Book Loss optimises against `bank`, never this one, so an output that merely
    fools `bank` scores badly here."""
    from comicc.ml.classifiers import train_classifiers

    comics = [make_comic(seed) for seed in JUDGE_BANK_SEEDS]
    panels = [p for c in comics for p in c.panels]
    regions = [r if seed % 2 else {} for seed, c in zip(JUDGE_BANK_SEEDS, comics, strict=True)
               for r in c.regions]
    references = {"ball": comics[0].references["ball"], "box": comics[1].references["box"]}
    return train_classifiers(
        backbone,
        ELEMENTS,
        references,
        panels,
        torch.cat([c.targets for c in comics], dim=1),
        regions,
        seed=7,
        steps=150,
        size=SIZE,
        device="cpu",
        views_per_image=8,
    )
